import { defineQuery, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { MixConfig, parseInput, type ArtifactRef, type MixStageResult, type StoreConfig } from '../contracts';
import { runWindowed } from './window';

// --- Activities ---

const { cleanMixSources, planMix, finalizeMix } = proxyActivities<Activities>({
  startToCloseTimeout: '24 hours',
  // cleanMixSources heartbeats every 5 s: a dead worker is noticed within a minute.
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5 },
});

const { writeMixShard } = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  // writeMixShard heartbeats every 2 s (throttled to at most every 3 s by the worker); a killed worker's shard is retried elsewhere and the
  // shards it finished are not rewritten.
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

// --- Types and queries ---

/** Input of {@link mixStageWorkflow}. */
export interface MixStageInput {
  experimentId: string;
  config: MixConfig;
  store: StoreConfig;
  prefix: string;
  /** Upstream artifacts by name: `mine.general`, `mine.python`, `rollout.pass`, `rollout.fail`. */
  inputs: Record<string, ArtifactRef>;
}

/** Live progress of the mix stage. */
export interface MixProgress {
  step: 'clean' | 'plan' | 'write' | 'finalize' | 'done';
  shards: number;
  written: number;
  reused: number;
}

export const mixProgressQuery = defineQuery<MixProgress>('progress');

/**
 * The mix stage: cleans every source once (dedup, decontamination, length gates), plans each
 * training stage's repetitions and seeded order, writes the shards in parallel (at most
 * `concurrency` at once; finished shards are never rewritten) and writes one manifest per stage.
 */
export async function mixStageWorkflow(input: MixStageInput): Promise<MixStageResult> {
  const config = parseInput(MixConfig, input.config, 'mix config');
  const progress: MixProgress = { step: 'clean', shards: 0, written: 0, reused: 0 };
  setHandler(mixProgressQuery, () => progress);
  const base = { experimentId: input.experimentId, config, store: input.store, prefix: input.prefix };
  const clean = await cleanMixSources({ ...base, inputs: input.inputs });
  progress.step = 'plan';
  const { plan, stages } = await planMix({ ...base, clean });
  const jobs = stages.flatMap((s) => Array.from({ length: s.shards }, (_, shard) => ({ stage: s.name, shard })));
  progress.step = 'write';
  progress.shards = jobs.length;
  await runWindowed(jobs, config.concurrency, async (j) => {
    const r = await writeMixShard({ ...base, clean, plan, ...j });
    if (r.skipped) progress.reused++;
    else progress.written++;
    setCurrentDetails(`shards ${progress.written + progress.reused}/${progress.shards}`);
  });
  progress.step = 'finalize';
  const result = await finalizeMix({ ...base, clean, plan });
  progress.step = 'done';
  return result;
}
