/**
 * Step 1 of the mix stage: streams every source once, in `mix.sources` order, and for each
 * document: renders it (documents.ts), tokenizes it (span by span for messages, for SFT masks),
 * applies the source's length gate, decontaminates it against the benchmarks, caps trajectories
 * per task, drops exact and near duplicates (an LSH candidate confirmed by its estimated Jaccard
 * similarity, dedup.ts), and spills what is kept (spill.ts). Every removal is counted per source
 * and reason and written to `removed.jsonl`.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ArtifactRef,
  type MixConfig,
  type MixRemoval,
  type MixRemovalReason,
  type MixSourceSummary,
  type StoreConfig,
} from '../../contracts';
import { loggerFor } from '../logger';
import { getTokenizer } from '../mine/tokenizer';
import { spansToTokenMask } from '../rollout/convert/to-text';
import type { ArtifactStore } from '../store/artifact-store';
import { BenchmarkIndex, loadBenchmarks } from './decontaminate';
import { ExactDedup, NearDedup } from './dedup';
import { toDocument } from './documents';
import { invalidMix } from './errors';
import { readRecords, toUri } from './read-records';
import { SPILL_FILES, SpillWriter, type SpillFile } from './spill';

/** One cleaned source: its spill files in the store and its counts. */
export interface CleanedSource {
  name: string;
  files: Record<SpillFile, ArtifactRef>;
  stats: MixSourceSummary;
}

/** Output of {@link cleanSources}. */
export interface CleanResult {
  tokenizer: { name: string; fingerprint: string; vocab_size: number };
  sources: CleanedSource[];
  /** removed.jsonl: one MixRemoval per removed document. */
  report: ArtifactRef;
}

/** Arguments of {@link cleanSources}. */
export interface CleanArgs {
  config: MixConfig;
  /** URIs of upstream artifacts by name (`mine.general`...). */
  inputs: Record<string, string>;
  store: ArtifactStore;
  storeConfig: StoreConfig;
  env: NodeJS.ProcessEnv;
  prefix: string;
  /** Called every few hundred documents with progress details (heartbeats). */
  progress?: (details: Record<string, unknown>) => void;
  experimentId?: string;
}

/** Resolves each source's URI, or fails naming the source and how to fix it. */
export function sourceUris(config: MixConfig, inputs: Record<string, string>): string[] {
  return config.sources.map((s, i) => {
    if (s.path !== undefined) return toUri(s.path);
    const uri = inputs[s.from!];
    if (!uri)
      throw invalidMix(
        `mix.sources[${i}].from: upstream artifact "${s.from}" is not available in this experiment ` +
          `(available: ${Object.keys(inputs).join(', ') || 'none'}); run that stage too, or give a "path" instead`
      );
    return uri;
  });
}

const writeLine = async (s: ReturnType<typeof createWriteStream>, line: string) => {
  if (!s.write(line)) await new Promise<void>((r) => s.once('drain', () => r()));
};

/** Cleans and spills every source (see the module comment). */
export async function cleanSources(args: CleanArgs): Promise<CleanResult> {
  const { config, store } = args;
  const log = loggerFor({ experimentId: args.experimentId, stage: 'mix', activity: 'cleanMixSources' });
  const uris = sourceUris(config, args.inputs);
  const tokenizer = await getTokenizer(config.tokenizer);
  const bench: BenchmarkIndex = await loadBenchmarks(
    config.decontaminate.benchmarks,
    config.decontaminate.ngram,
    args.storeConfig,
    args.env
  );
  const exact = config.dedup.exact ? new ExactDedup() : null;
  const perTask = new Map<string, number>();
  const work = await mkdtemp(join(tmpdir(), 'bottega-mix-clean-'));
  const n = config.dedup.near;
  let near: NearDedup | null = null;
  try {
    if (n.enabled)
      near = new NearDedup(
        { shingleSize: n.shingle_size, numPerm: n.num_perm, bands: n.bands, rows: n.rows, seed: config.seed },
        { dir: work, threshold: n.threshold }
      );
    const reportPath = join(work, 'removed.jsonl');
    const report = createWriteStream(reportPath);
    let removedCount = 0;
    const out: CleanedSource[] = [];
    let seen = 0;
    for (const [si, source] of config.sources.entries()) {
      const dir = join(work, source.name);
      await mkdir(dir, { recursive: true });
      const spill = new SpillWriter(dir);
      const stats: MixSourceSummary = { documents_in: 0, tokens_in: 0, removed: {}, documents_kept: 0, tokens_kept: 0 };
      const remove = async (r: Omit<MixRemoval, 'source'>) => {
        const c = (stats.removed[r.reason] ??= { documents: 0, tokens: 0 });
        c.documents++;
        c.tokens += r.tokens;
        removedCount++;
        await writeLine(report, JSON.stringify({ source: source.name, ...r } satisfies MixRemoval) + '\n');
      };
      for await (const rec of readRecords(uris[si]!, args.storeConfig, args.env)) {
        if (++seen % 200 === 0) args.progress?.({ source: source.name, documents: seen });
        stats.documents_in++;
        const fallbackId = `${source.name}:${rec.line}`;
        if ('error' in rec) {
          await remove({ id: fallbackId, reason: 'invalid', tokens: 0, detail: rec.error });
          continue;
        }
        const doc = toDocument(rec.value, source.format, source.text_field, fallbackId);
        if (typeof doc === 'string') {
          await remove({ id: fallbackId, reason: 'invalid', tokens: 0, detail: doc });
          continue;
        }
        let ids: number[];
        let mask: number[] | null = null;
        if (doc.spans) {
          const m = spansToTokenMask(doc.text, doc.spans, tokenizer);
          ids = m.ids;
          mask = m.mask;
        } else {
          ids = tokenizer.encode(doc.text);
        }
        const tokens = ids.length;
        stats.tokens_in += tokens;
        const reason = (r: MixRemovalReason, extra: Partial<MixRemoval> = {}) =>
          remove({ id: doc.id, reason: r, tokens, ...extra });
        if (tokens === 0) {
          await reason('empty');
          continue;
        }
        if (tokens < source.min_tokens) {
          await reason('too_short', { detail: `${tokens} < min_tokens ${source.min_tokens}` });
          continue;
        }
        if (tokens > source.max_tokens) {
          await reason('too_long', { detail: `${tokens} > max_tokens ${source.max_tokens}` });
          continue;
        }
        const hit = bench.check(doc.text, doc.identity, config.decontaminate.threshold);
        if (hit) {
          await reason(hit.reason, { match: hit.match, detail: hit.detail });
          continue;
        }
        const taskCount = doc.task === null ? 0 : (perTask.get(doc.task) ?? 0);
        if (doc.task !== null && taskCount >= config.dedup.max_trajectories_per_task) {
          await reason('task_cap', {
            match: doc.task,
            detail: `task already has ${taskCount} trajectories (max_trajectories_per_task)`,
          });
          continue;
        }
        const dup = exact?.check(doc.text, doc.id);
        if (dup) {
          await reason('duplicate_exact', { match: dup });
          continue;
        }
        const nearDup = near?.check(doc.text, doc.id);
        if (nearDup) {
          await reason('duplicate_near', {
            match: nearDup.id,
            detail: `estimated Jaccard ${nearDup.similarity.toFixed(4)} ≥ threshold ${near!.threshold.toFixed(4)}`,
          });
          continue;
        }
        if (doc.task !== null) perTask.set(doc.task, taskCount + 1);
        stats.documents_kept++;
        stats.tokens_kept += tokens;
        await spill.add(ids, mask, JSON.stringify({ ...doc.out, source: source.name, id: doc.id }));
      }
      await spill.close();
      const files = {} as Record<SpillFile, ArtifactRef>;
      for (const f of SPILL_FILES)
        files[f] = await store.putFile(`${args.prefix}/clean/${source.name}/${f}`, join(dir, f), {
          records: f === 'records.jsonl' ? spill.documents : null,
        });
      await rm(dir, { recursive: true, force: true });
      out.push({ name: source.name, files, stats });
      log.info({ source: source.name, ...stats }, 'source cleaned');
    }
    await new Promise<void>((r, j) => {
      report.once('error', j);
      report.end(() => r());
    });
    const reportRef = await store.putFile(`${args.prefix}/removed.jsonl`, reportPath, { records: removedCount });
    return {
      tokenizer: { name: tokenizer.name, fingerprint: tokenizer.fingerprint, vocab_size: tokenizer.vocabSize },
      sources: out,
      report: reportRef,
    };
  } finally {
    near?.close();
    await rm(work, { recursive: true, force: true });
  }
}
