/**
 * The mix stage's steps as plain functions (clean → plan → write shards → finalize), shared by
 * the Temporal activities (mix-activities.ts) and {@link runMixPipeline}, which runs them in
 * process on local paths (benchmarks, scripts).
 */
import { MixConfig, MixStageResult, StoreConfig, type ArtifactRef, type MixManifest } from '../../contracts';
import { parseOrThrow } from '../../contracts/validation';
import { LocalArtifactStore, type ArtifactStore } from '../store/artifact-store';
import { cleanSources, type CleanResult } from './clean';
import { finalizeMix } from './finalize';
import { planStage, type PlanSource, type StagePlan } from './plan';
import { toUri } from './read-records';
import { writeShard } from './write-shard';

/** Plans every stage, stores each seeded order and `plan.json`; returns the plans. */
export async function planMix(args: {
  config: MixConfig;
  clean: CleanResult;
  store: ArtifactStore;
  prefix: string;
}): Promise<{ plans: StagePlan[]; plan: ArtifactRef }> {
  const sources = new Map<string, PlanSource>();
  for (const s of args.clean.sources) {
    const b = await args.store.get(s.files['docs.bin'].uri);
    const all = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const lengths = new Float64Array(all.length / 4);
    for (let i = 0; i < lengths.length; i++) lengths[i] = all[i * 4 + 1]!;
    sources.set(s.name, { name: s.name, lengths, tokens: s.stats.tokens_kept });
  }
  const plans: StagePlan[] = [];
  for (let si = 0; si < args.config.stages.length; si++) {
    const { plan, order } = planStage(args.config, si, sources);
    const ref = order.length
      ? await args.store.put(`${args.prefix}/plan/${plan.stage}.order.bin`, new Uint8Array(order.buffer), {
          records: null,
        })
      : null;
    plans.push({ ...plan, order: ref });
  }
  const plan = await args.store.put(`${args.prefix}/plan/plan.json`, JSON.stringify(plans), { records: null });
  return { plans, plan };
}

/** Reads `plan.json` back. */
export async function loadPlans(store: ArtifactStore, plan: ArtifactRef): Promise<StagePlan[]> {
  return JSON.parse((await store.get(plan.uri)).toString('utf8')) as StagePlan[];
}

/** Input of {@link runMixPipeline}. */
export interface RunMixPipelineInput {
  /** The `mix:` section (defaults applied here). */
  config: MixConfig | Record<string, unknown>;
  /** Local paths (or file:// / s3:// URIs) of upstream artifacts by name, e.g. `{ 'mine.python': 'x.jsonl' }`. */
  inputs?: Record<string, string>;
  /** Output directory: shards go to `<outDir>/mix/<stage>/`. */
  outDir: string;
  /** Shard writers at once (default: the config's concurrency). */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
}

/** Output of {@link runMixPipeline}. */
export interface RunMixPipelineOutput {
  result: MixStageResult;
  /** Parsed manifest of each stage. */
  manifests: Record<string, MixManifest>;
}

/**
 * Runs the whole mix stage in this process, without Temporal, on a local output directory. The
 * same code as the stage's activities; the same config gives byte-identical shards.
 */
export async function runMixPipeline(input: RunMixPipelineInput): Promise<RunMixPipelineOutput> {
  const config = parseOrThrow(MixConfig, input.config, 'mix config');
  const store = new LocalArtifactStore(input.outDir);
  const storeConfig = StoreConfig.parse({});
  const prefix = 'mix';
  const inputs = Object.fromEntries(Object.entries(input.inputs ?? {}).map(([k, v]) => [k, toUri(v)]));
  const clean = await cleanSources({ config, inputs, store, storeConfig, env: input.env ?? process.env, prefix });
  const { plans } = await planMix({ config, clean, store, prefix });
  const jobs = plans.flatMap((plan) => plan.shards.map((s) => ({ plan, shard: s.index })));
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const j = jobs[next++]!;
      await writeShard({ store, prefix, plan: j.plan, shard: j.shard, clean });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, input.concurrency ?? config.concurrency) }, lane));
  const fin = await finalizeMix({ store, prefix, plans, clean });
  const result = MixStageResult.parse({
    summary: fin.summary,
    artifacts: { manifests: fin.manifests, report: clean.report },
  });
  return { result, manifests: fin.parsed };
}
