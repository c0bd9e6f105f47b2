/**
 * Step 2 of the mix stage: per training stage, how often each source is repeated and in which
 * seeded order the document copies go, plus each shard's range of sequences and of that order, so
 * shard writers can run in parallel and independently.
 *
 * A source's repetition factor r comes from `repeat`, or `tokens / kept tokens`, or
 * `ratio × requested_tokens / kept tokens`; it may not exceed `max_repetition`. Its copies are
 * floor(r) whole passes over its documents plus a seeded subset of documents whose tokens add up to
 * at most round(r × kept tokens) − floor(r) × kept tokens (documents are taken in a seeded order
 * when they still fit). The exact tokens out and effective repetition go to the manifest.
 */
import type { ArtifactRef, MixConfig, MixOutputs, MixStage } from '../../contracts';
import { invalidMix } from './errors';
import { SeededRandom } from './rng';

/** End-of-document token of Qwen2.5/Qwen3 (`<|endoftext|>`). */
export const EOS_ID = 151643;

/** One shard's slice of a stage. */
export interface ShardPlan {
  index: number;
  /** Sequences [seqStart, seqEnd) of the stage. */
  seqStart: number;
  seqEnd: number;
  /** Entry of the order where the shard's first token lies, and its offset in that entry (packed). */
  entryStart: number;
  offset: number;
  /** Entries whose first token lies in this shard: [jsonlStart, entryEnd). */
  jsonlStart: number;
  entryEnd: number;
  tokens: number;
}

/** Per-source outcome in one stage. */
export interface SourcePlan {
  documents_out: number;
  tokens_out: number;
  repetition: number;
  share: number;
}

/** The plan of one training stage. */
export interface StagePlan {
  stage: string;
  seq_len: number;
  pack: boolean;
  loss_mask: 'none' | 'sft';
  /** Which Hugging Face-style files (JSONL, Parquet) each shard gets (`mix.outputs`). */
  outputs: MixOutputs;
  /** Source names; `order` holds (source index, document index) pairs into this list. */
  sourceNames: string[];
  /** The seeded order as uint32 pairs, stored in the artifact store. */
  order: ArtifactRef | null;
  entries: number;
  sequences: number;
  tokens: number;
  content_tokens: number;
  eos_tokens: number;
  pad_tokens: number;
  documents: number;
  sources: Record<string, SourcePlan>;
  shards: ShardPlan[];
}

/** A cleaned source as planning sees it: per-document token counts. */
export interface PlanSource {
  name: string;
  lengths: Float64Array;
  tokens: number;
}

/** Copies of one source in a stage: whole passes plus a subset. */
function copiesOf(
  stage: MixStage,
  si: number,
  j: number,
  src: PlanSource,
  seed: number
): { whole: number; subset: Uint32Array; tokens: number } {
  const w = stage.sources[j]!;
  const where = `mix.stages[${si}].sources[${j}] (source "${w.source}" in stage "${stage.name}")`;
  const kept = src.tokens;
  let target: number;
  if (w.ratio !== undefined) target = Math.round(w.ratio * (stage.requested_tokens as number));
  else if (w.tokens !== undefined) target = w.tokens;
  else target = Math.round((w.repeat ?? 1) * kept);
  if (kept === 0) {
    if (target > 0 && (w.ratio !== undefined || w.tokens !== undefined))
      throw invalidMix(
        `${where}: needs ${target} tokens but the source has no tokens left after cleaning; ` +
          `check its input and the removal report, or drop it from the stage`
      );
    return { whole: 0, subset: new Uint32Array(0), tokens: 0 };
  }
  const factor = target / kept;
  if (factor > w.max_repetition + 1e-9)
    throw invalidMix(
      `${where}: needs ${target} tokens but has ${kept} after cleaning, a repetition of ${factor.toFixed(3)} ` +
        `over max_repetition ${w.max_repetition}; lower its ${w.ratio !== undefined ? 'ratio (or requested_tokens)' : 'token budget'}, ` +
        `raise max_repetition, or add data`
    );
  const whole = Math.floor(target / kept);
  let rest = target - whole * kept;
  const picked: number[] = [];
  if (rest > 0) {
    const perm = new SeededRandom(seed, `subset/${stage.name}/${w.source}`).permutation(src.lengths.length);
    for (let k = 0; k < perm.length && rest > 0; k++) {
      const d = perm[k]!;
      const len = src.lengths[d]!;
      if (len <= rest) {
        picked.push(d);
        rest -= len;
      }
    }
  }
  picked.sort((a, b) => a - b);
  return { whole, subset: Uint32Array.from(picked), tokens: target - rest };
}

/**
 * Plans one stage (without storing its order): repetitions, the seeded order and shard ranges.
 * Throws a non-retryable InvalidSpec naming `mix.stages[i].sources[j]` when the data cannot meet
 * the weights.
 */
export function planStage(
  config: MixConfig,
  si: number,
  sources: Map<string, PlanSource>
): { plan: Omit<StagePlan, 'order'>; order: Uint32Array } {
  const stage = config.stages[si]!;
  const names = stage.sources.map((s) => s.source);
  if (!stage.pack) {
    stage.sources.forEach((w, j) => {
      const longest = sources.get(w.source)!.lengths.reduce((a, b) => Math.max(a, b), 0);
      if (longest + 1 > stage.seq_len)
        throw invalidMix(
          `mix.stages[${si}].sources[${j}] (source "${w.source}" in stage "${stage.name}"): a document of ${longest} tokens ` +
            `does not fit an unpacked sequence of seq_len ${stage.seq_len} (with its end-of-document token); ` +
            `set the source's max_tokens to at most ${stage.seq_len - 1} or raise seq_len`
        );
    });
  }
  const copies = stage.sources.map((_, j) => copiesOf(stage, si, j, sources.get(names[j]!)!, config.seed));
  let entries = 0;
  copies.forEach((c, j) => (entries += c.whole * sources.get(names[j]!)!.lengths.length + c.subset.length));
  const order = new Uint32Array(entries * 2);
  let e = 0;
  copies.forEach((c, j) => {
    const n = sources.get(names[j]!)!.lengths.length;
    for (let k = 0; k < c.whole; k++)
      for (let d = 0; d < n; d++) {
        order[e++] = j;
        order[e++] = d;
      }
    for (const d of c.subset) {
      order[e++] = j;
      order[e++] = d;
    }
  });
  new SeededRandom(config.seed, `order/${stage.name}`).shuffle(order, 2);
  const content = copies.reduce((a, c) => a + c.tokens, 0);
  const srcPlans: Record<string, SourcePlan> = {};
  copies.forEach((c, j) => {
    const src = sources.get(names[j]!)!;
    const share = content ? c.tokens / content : 0;
    const w = stage.sources[j]!;
    if (share > w.max_fraction + 1e-9)
      throw invalidMix(
        `mix.stages[${si}].sources[${j}] (source "${w.source}" in stage "${stage.name}"): takes ${(share * 100).toFixed(2)}% ` +
          `of the stage's ${content} content tokens (${c.tokens}), over max_fraction ${w.max_fraction}; ` +
          `lower its weight, raise the others, or raise max_fraction`
      );
    srcPlans[w.source] = {
      documents_out: c.whole * src.lengths.length + c.subset.length,
      tokens_out: c.tokens,
      repetition: src.tokens ? c.tokens / src.tokens : 0,
      share,
    };
  });
  const L = stage.seq_len;
  const lenOf = (k: number) => sources.get(names[order[2 * k]!]!)!.lengths[order[2 * k + 1]!]! + 1;
  const shards: ShardPlan[] = [];
  let sequences: number;
  let tokens: number;
  if (stage.pack) {
    const stream = content + entries;
    sequences = Math.ceil(stream / L);
    tokens = sequences * L;
    const perShard = Math.max(1, Math.floor(config.shard_tokens / L));
    let k = 0;
    let pos = 0; // stream position where entry k starts
    for (let s = 0; s < sequences; s += perShard) {
      const seqEnd = Math.min(sequences, s + perShard);
      const start = s * L;
      const end = seqEnd * L;
      while (k < entries && pos + lenOf(k) <= start) pos += lenOf(k++);
      const entryStart = k;
      const offset = start - pos;
      let kk = k;
      let p = pos;
      const jsonlStart = offset === 0 ? k : k + 1;
      while (kk < entries && p < end) p += lenOf(kk++);
      const entryEnd = kk;
      shards.push({
        index: shards.length,
        seqStart: s,
        seqEnd,
        entryStart,
        offset,
        jsonlStart,
        entryEnd,
        tokens: end - start,
      });
    }
  } else {
    sequences = entries;
    tokens = content + entries;
    let k = 0;
    while (k < entries) {
      const begin = k;
      let t = 0;
      while (k < entries && (t === 0 || t + lenOf(k) <= config.shard_tokens)) t += lenOf(k++);
      shards.push({
        index: shards.length,
        seqStart: begin,
        seqEnd: k,
        entryStart: begin,
        offset: 0,
        jsonlStart: begin,
        entryEnd: k,
        tokens: t,
      });
    }
  }
  return {
    plan: {
      stage: stage.name,
      seq_len: L,
      pack: stage.pack,
      loss_mask: stage.loss_mask,
      outputs: { ...config.outputs },
      sourceNames: names,
      entries,
      sequences,
      tokens,
      content_tokens: content,
      eos_tokens: entries,
      pad_tokens: tokens - content - entries,
      documents: entries,
      sources: srcPlans,
      shards,
    },
    order,
  };
}
