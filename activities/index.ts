import { createBuildActivities, type BuildDeps } from './build/build-activities';
import { createCacheActivities } from './cache-activities';
import { createExperimentIdActivities } from './experiment-id-activities';
import { createSweepActivities } from './sweep-activities';
import { createRolloutActivities } from './rollout/rollout-activities';
import { createMineActivities, type MineDeps } from './mine/mine-activities';
import { createMixActivities } from './mix/mix-activities';
import { createTrainActivities } from './train/train-activities';
import { createEvaluateStageActivities, createServeActivities } from './evaluate/evaluate-stage';

/** Everything activities need from the outside world, injected by the worker. */
export type ActivityDeps = MineDeps & BuildDeps;

/**
 * Builds every activity bottega registers. Workflows type their proxies with
 * `proxyActivities<ReturnType<typeof createActivities>>`.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCacheActivities(deps),
    ...createExperimentIdActivities(),
    ...createSweepActivities(),
    ...createMineActivities(deps),
    ...createBuildActivities(deps),
    ...createRolloutActivities(deps),
    ...createMixActivities(deps),
    ...createTrainActivities(deps),
    ...createServeActivities(deps),
    ...createEvaluateStageActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
