import {
  ActivityCancellationType,
  continueAsNew,
  defineQuery,
  executeChild,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  RolloutConfig,
  parseInput,
  TASK_QUEUES,
  type ArtifactRef,
  type RolloutStageResult,
  type StoreConfig,
} from '../contracts';
import { runWindowed } from './window';

// --- Activities ---

const { prepareRollout, finalizeRollout } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  retry: { maximumAttempts: 5 },
});

/** Rollouts run on hosts with a Docker engine: the docker task queue. */
const { runRollout } = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.docker,
  startToCloseTimeout: '6 hours',
  // runRollout heartbeats every 5 s: a dead worker is noticed in half a minute, and the
  // unfinished rollout restarts cleanly (finished ones are never rerun).
  heartbeatTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 4 },
});

// --- Types and queries ---

/** Input of {@link rolloutStageWorkflow}. */
export interface RolloutStageInput {
  experimentId: string;
  config: RolloutConfig;
  store: StoreConfig;
  prefix: string;
  /** The build stage's validated tasks. */
  tasks: ArtifactRef;
  /** Set by the stage itself when it continues as new: the plan and how far it got. */
  resume?: RolloutResume;
}

/** What a continued run of {@link rolloutStageWorkflow} carries over. */
export interface RolloutResume {
  count: number;
  tasks: number;
  plan: ArtifactRef;
  /** Index of the first batch this run starts. */
  nextBatch: number;
  progress: RolloutProgress;
}

/** Input of {@link rolloutBatchWorkflow}: rollouts `[start, end)` of the plan. */
export interface RolloutBatchInput {
  experimentId: string;
  config: RolloutConfig;
  store: StoreConfig;
  prefix: string;
  plan: ArtifactRef;
  start: number;
  end: number;
}

/** Live progress of the rollout stage. */
export interface RolloutProgress {
  rollouts: number;
  done: number;
  passed: number;
  exits: Record<string, number>;
}

export const rolloutProgressQuery = defineQuery<RolloutProgress>('progress');

/** Runs one batch of rollouts with bounded concurrency; keeps each child's history small. */
export async function rolloutBatchWorkflow(input: RolloutBatchInput): Promise<RolloutProgress> {
  const config = parseInput(RolloutConfig, input.config, 'rollout config');
  const progress: RolloutProgress = { rollouts: input.end - input.start, done: 0, passed: 0, exits: {} };
  setHandler(rolloutProgressQuery, () => progress);
  const indices = Array.from({ length: input.end - input.start }, (_, i) => input.start + i);
  await runWindowed(indices, config.concurrency, async (index) => {
    const r = await runRollout({ ...input, config, index });
    progress.done++;
    if (r.label === 'pass') progress.passed++;
    progress.exits[r.exit] = (progress.exits[r.exit] ?? 0) + 1;
  });
  return progress;
}

/**
 * The rollout stage: every validated task gets `rollouts_per_task` agent rollouts in fresh
 * containers, in child workflows of at most `batch_size` rollouts, then the trajectories are
 * length-gated and split into pass and fail sets.
 */
export async function rolloutStageWorkflow(input: RolloutStageInput): Promise<RolloutStageResult> {
  const config = parseInput(RolloutConfig, input.config, 'rollout config');
  const progress: RolloutProgress = input.resume?.progress ?? { rollouts: 0, done: 0, passed: 0, exits: {} };
  setHandler(rolloutProgressQuery, () => progress);
  const base = { experimentId: input.experimentId, config, store: input.store, prefix: input.prefix };
  const { count, tasks, plan } = input.resume ?? (await prepareRollout({ ...base, tasks: input.tasks }));
  progress.rollouts = count;
  const batches: { start: number; end: number }[] = [];
  for (let start = 0; start < count; start += config.batch_size)
    batches.push({ start, end: Math.min(count, start + config.batch_size) });
  const me = workflowInfo().workflowId;
  // Each run starts at most `batches_per_run` batches, then continues as new with the plan and
  // the progress so far, so the history stays small however many tasks there are.
  const first = input.resume?.nextBatch ?? 0;
  const last = Math.min(batches.length, first + config.batches_per_run);
  await runWindowed(batches.slice(first, last), 2, async (b, j) => {
    const r = await executeChild(rolloutBatchWorkflow, {
      workflowId: `${me}/batch-${first + j}`,
      args: [{ ...base, plan, ...b }],
    });
    progress.done += r.done;
    progress.passed += r.passed;
    for (const [k, v] of Object.entries(r.exits)) progress.exits[k] = (progress.exits[k] ?? 0) + v;
    setCurrentDetails(`rollouts ${progress.done}/${progress.rollouts} · passed ${progress.passed}`);
  });
  if (last < batches.length) {
    const resume: RolloutResume = { count, tasks, plan, nextBatch: last, progress };
    return continueAsNew<typeof rolloutStageWorkflow>({ ...input, config, resume });
  }
  return finalizeRollout({ ...base, count, tasks });
}
