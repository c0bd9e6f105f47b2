import {
  ActivityCancellationType,
  defineQuery,
  proxyActivities,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  BuildConfig,
  parseInput,
  TASK_QUEUES,
  type ArtifactRef,
  type BuildStageResult,
  type StoreConfig,
} from '../contracts';
import { runWindowed } from './window';

// --- Activities ---

const { prepareBuild, finalizeBuild } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  retry: { maximumAttempts: 5 },
});

/** Builds run on hosts with a Docker engine: the docker task queue. */
const { buildTask, enforceDiskBudget } = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.docker,
  startToCloseTimeout: '4 hours',
  // buildTask heartbeats every 5 s, so a dead worker is noticed in half a minute.
  heartbeatTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 4 },
});

// --- Types and queries ---

/** Input of {@link buildStageWorkflow}. */
export interface BuildStageInput {
  experimentId: string;
  config: BuildConfig;
  store: StoreConfig;
  prefix: string;
  /** The mine stage's task candidates, when it ran in this experiment. */
  mineTasks: ArtifactRef | null;
  /** Local repositories known from the mine stage's git sources, by `owner/name`. */
  repoPaths: Record<string, string>;
}

/** Live funnel of a build stage. */
export interface BuildProgress {
  candidates: number;
  done: number;
  validated: number;
  failed: Record<string, number>;
}

export const buildProgressQuery = defineQuery<BuildProgress>('progress');

/**
 * The build stage: gathers task candidates, builds each one's Docker images and validates it by
 * running its tests before and after the gold patch (at most `concurrency` tasks at once, on the
 * docker task queue), then writes the validated task set and the funnel.
 */
export async function buildStageWorkflow(input: BuildStageInput): Promise<BuildStageResult> {
  const config = parseInput(BuildConfig, input.config, 'build config');
  const progress: BuildProgress = { candidates: 0, done: 0, validated: 0, failed: {} };
  setHandler(buildProgressQuery, () => progress);
  const base = { experimentId: input.experimentId, config, store: input.store, prefix: input.prefix };

  const { count, candidates } = await prepareBuild({ ...base, mineTasks: input.mineTasks, repoPaths: input.repoPaths });
  progress.candidates = count;
  const indices = Array.from({ length: count }, (_, i) => i);
  await runWindowed(indices, config.concurrency, async (index) => {
    const r = await buildTask({ ...base, candidates, index });
    progress.done++;
    if (r.status === 'validated') progress.validated++;
    else if (r.reason) progress.failed[r.reason] = (progress.failed[r.reason] ?? 0) + 1;
    setCurrentDetails(
      `tasks ${progress.done}/${progress.candidates} · validated ${progress.validated} · failed ${progress.done - progress.validated}`
    );
  });
  const { pruned } = await enforceDiskBudget({ ...base, count });
  return finalizeBuild({ ...base, candidates, count, pruned });
}
