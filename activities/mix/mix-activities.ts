import { Context } from '@temporalio/activity';
import { MixConfig, MixStageResult, StoreConfig, parseInput, type ArtifactRef } from '../../contracts';
import { withHeartbeats } from '../heartbeat';
import { loggerFor } from '../logger';
import { openStore, type ArtifactStore } from '../store/artifact-store';
import { cleanSources, type CleanResult } from './clean';
import { finalizeMix } from './finalize';
import { loadPlans, planMix } from './pipeline';
import { writeShard } from './write-shard';

/** Dependencies of the mix activities. */
export interface MixActivityDeps {
  env: NodeJS.ProcessEnv;
}

/** Common input of the mix activities. */
export interface MixStepInput {
  experimentId: string;
  config: MixConfig;
  store: StoreConfig;
  prefix: string;
}

/** A shard written (or found already written) by `writeMixShard`. */
export interface MixShardDone {
  stage: string;
  shard: number;
  tokens: number;
  skipped: boolean;
}

/** Stored result of the clean step, reused when the activity runs again. */
const cleanKey = (prefix: string) => `${prefix}/clean/result.json`;

async function reusableClean(store: ArtifactStore, prefix: string): Promise<CleanResult | null> {
  const uri = store.uriFor(cleanKey(prefix));
  if (!(await store.exists(uri))) return null;
  const r = JSON.parse((await store.get(uri)).toString('utf8')) as CleanResult;
  for (const s of r.sources)
    for (const f of Object.values(s.files)) if (!(await store.exists(f.uri, f.bytes))) return null;
  return (await store.exists(r.report.uri, r.report.bytes)) ? r : null;
}

/** Creates the mix stage's activities (all on the cpu task queue). */
export function createMixActivities(deps: MixActivityDeps) {
  const storeOf = (s: StoreConfig) => openStore(parseInput(StoreConfig, s, 'store config'), deps.env);
  return {
    /**
     * Streams, cleans and spills every source (one pass; heartbeats the document count). A rerun
     * after it finished reuses its stored result.
     */
    async cleanMixSources(raw: MixStepInput & { inputs: Record<string, ArtifactRef> }): Promise<CleanResult> {
      const config = parseInput(MixConfig, raw.config, 'mix config');
      const store = storeOf(raw.store);
      const reused = await reusableClean(store, raw.prefix);
      if (reused) return reused;
      let details: Record<string, unknown> = { step: 'start' };
      const inputs = Object.fromEntries(Object.entries(raw.inputs).map(([k, v]) => [k, v.uri]));
      const work = cleanSources({
        config,
        inputs,
        store,
        storeConfig: raw.store,
        env: deps.env,
        prefix: raw.prefix,
        experimentId: raw.experimentId,
        progress: (d) => {
          details = d;
          Context.current().heartbeat(d);
        },
      });
      const result = await withHeartbeats(() => details, work, 5000);
      await store.put(cleanKey(raw.prefix), JSON.stringify(result), { records: null });
      return result;
    },

    /** Plans every training stage (repetitions, seeded order, shard ranges); fails on impossible weights. */
    async planMix(
      raw: MixStepInput & { clean: CleanResult }
    ): Promise<{ plan: ArtifactRef; stages: { name: string; shards: number }[] }> {
      const config = parseInput(MixConfig, raw.config, 'mix config');
      const store = storeOf(raw.store);
      const { plans, plan } = await planMix({ config, clean: raw.clean, store, prefix: raw.prefix });
      return { plan, stages: plans.map((p) => ({ name: p.stage, shards: p.shards.length })) };
    },

    /** Writes one shard (heartbeats its sequence count); a finished, intact shard is not rewritten. */
    async writeMixShard(
      raw: MixStepInput & { clean: CleanResult; plan: ArtifactRef; stage: string; shard: number }
    ): Promise<MixShardDone> {
      const store = storeOf(raw.store);
      const plan = (await loadPlans(store, raw.plan)).find((p) => p.stage === raw.stage);
      if (!plan) throw new Error(`stage ${raw.stage} missing from ${raw.plan.uri}`);
      let details: Record<string, unknown> = { stage: raw.stage, shard: raw.shard };
      const work = writeShard({
        store,
        prefix: raw.prefix,
        plan,
        shard: raw.shard,
        clean: raw.clean,
        progress: (d) => {
          details = d;
        },
      });
      const r = await withHeartbeats(() => details, work, 2000);
      loggerFor({ experimentId: raw.experimentId, stage: 'mix', activity: 'writeMixShard' }).info(
        { stage: raw.stage, shard: raw.shard, skipped: r.skipped, tokens: r.shard.tokens },
        r.skipped ? 'shard already written' : 'shard written'
      );
      return { stage: raw.stage, shard: raw.shard, tokens: r.shard.tokens, skipped: r.skipped };
    },

    /** Recounts every shard and writes each stage's manifest.json. */
    async finalizeMix(raw: MixStepInput & { clean: CleanResult; plan: ArtifactRef }): Promise<MixStageResult> {
      const store = storeOf(raw.store);
      const plans = await loadPlans(store, raw.plan);
      const fin = await finalizeMix({ store, prefix: raw.prefix, plans, clean: raw.clean });
      return MixStageResult.parse({
        summary: fin.summary,
        artifacts: { manifests: fin.manifests, report: raw.clean.report },
      });
    },
  };
}
