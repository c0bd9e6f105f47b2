/**
 * Step 4 of the mix stage: gathers each stage's finished shards, recounts them from the stored
 * files (lengths from each `.idx`, `.bin` sizes, loss tokens from the mask bytes) and checks the
 * recount against the plan, then writes `manifest.json` per stage (docs/shards.md).
 */
import {
  MixManifest,
  MixShard,
  type ArtifactRef,
  type MixSourceManifest,
  type MixStageSummary,
  type MixSummary,
} from '../../contracts';
import type { ArtifactStore } from '../store/artifact-store';
import type { CleanResult } from './clean';
import { parseIndex } from './indexed-dataset';
import { EOS_ID, type StagePlan } from './plan';
import { shardKey } from './write-shard';

/** Recounts one shard from its stored files; throws when they disagree with its record. */
async function recount(store: ArtifactStore, shard: MixShard): Promise<void> {
  const idx = parseIndex(await store.get(shard.files.idx.uri));
  const tokens = idx.lengths.reduce((a, b) => a + b, 0);
  if (idx.dtypeCode !== 4) throw new Error(`${shard.name}.idx: dtype ${idx.dtypeCode}, expected 4 (int32)`);
  if (tokens !== shard.tokens || idx.lengths.length !== shard.sequences || shard.files.bin.bytes !== tokens * 4)
    throw new Error(
      `${shard.name}: recounted ${tokens} tokens in ${idx.lengths.length} sequences, recorded ${shard.tokens}`
    );
  let loss = 0;
  let n = 0;
  for await (const c of (await store.open(shard.files['mask.bin'].uri)) as AsyncIterable<Buffer>) {
    for (let i = 0; i < c.length; i++) loss += c[i]!;
    n += c.length;
  }
  if (n !== tokens || loss !== shard.loss_tokens)
    throw new Error(`${shard.name}: mask has ${n} bytes and ${loss} ones, recorded ${tokens} and ${shard.loss_tokens}`);
}

/** Arguments of {@link finalizeMix}. */
export interface FinalizeArgs {
  store: ArtifactStore;
  prefix: string;
  plans: StagePlan[];
  clean: CleanResult;
}

/** Writes and returns every stage's manifest and the summary. */
export async function finalizeMix(
  args: FinalizeArgs
): Promise<{ manifests: Record<string, ArtifactRef>; summary: MixSummary; parsed: Record<string, MixManifest> }> {
  const { store, clean } = args;
  const manifests: Record<string, ArtifactRef> = {};
  const parsed: Record<string, MixManifest> = {};
  const summary: MixSummary = {
    tokenizer: clean.tokenizer.name,
    sources: Object.fromEntries(clean.sources.map((s) => [s.name, s.stats])),
    stages: {},
  };
  for (const plan of args.plans) {
    const shards: MixShard[] = [];
    for (const sp of plan.shards) {
      const uri = store.uriFor(shardKey(args.prefix, plan.stage, sp.index, 'done.json'));
      const shard = MixShard.parse(JSON.parse((await store.get(uri)).toString('utf8')));
      await recount(store, shard);
      if (shard.tokens !== sp.tokens)
        throw new Error(`${plan.stage}/${shard.name}: ${shard.tokens} tokens, the plan says ${sp.tokens}`);
      shards.push(shard);
    }
    const tokens = shards.reduce((a, s) => a + s.tokens, 0);
    const sequences = shards.reduce((a, s) => a + s.sequences, 0);
    if (tokens !== plan.tokens || sequences !== plan.sequences)
      throw new Error(
        `${plan.stage}: recounted ${tokens} tokens / ${sequences} sequences, planned ${plan.tokens} / ${plan.sequences}`
      );
    const sources: Record<string, MixSourceManifest> = {};
    for (const name of plan.sourceNames) {
      const st = clean.sources.find((s) => s.name === name)!.stats;
      sources[name] = {
        documents_in: st.documents_in,
        tokens_in: st.tokens_in,
        removed: st.removed,
        ...plan.sources[name]!,
      };
    }
    const manifest = MixManifest.parse({
      schema_version: 1,
      stage: plan.stage,
      tokenizer: { ...clean.tokenizer, eos_id: EOS_ID },
      seq_len: plan.seq_len,
      pack: plan.pack,
      loss_mask: plan.loss_mask,
      sequences,
      tokens,
      content_tokens: plan.content_tokens,
      eos_tokens: plan.eos_tokens,
      pad_tokens: plan.pad_tokens,
      loss_tokens: shards.reduce((a, s) => a + s.loss_tokens, 0),
      documents: plan.documents,
      sources,
      shards,
    });
    parsed[plan.stage] = manifest;
    manifests[plan.stage] = await store.put(
      `${args.prefix}/${plan.stage}/manifest.json`,
      JSON.stringify(manifest, null, 2) + '\n',
      { records: null }
    );
    summary.stages[plan.stage] = {
      sequences,
      tokens,
      content_tokens: manifest.content_tokens,
      loss_tokens: manifest.loss_tokens,
      documents: manifest.documents,
      shards: shards.length,
      sources: Object.fromEntries(
        Object.entries(plan.sources).map(([k, v]) => [
          k,
          { tokens_out: v.tokens_out, repetition: v.repetition, share: v.share },
        ])
      ),
    } satisfies MixStageSummary;
  }
  return { manifests, summary, parsed };
}
