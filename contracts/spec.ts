import { z } from 'zod';
import { BuildConfig } from './build';
import { MineConfig } from './mine';
import { RolloutConfig } from './rollout';
import { StoreConfig } from './store';

/** Stage names in pipeline order. Later issues add mix, train and evaluate. */
export const STAGES = ['mine', 'build', 'rollout'] as const;
export const StageName = z.enum(STAGES);
export type StageName = z.infer<typeof StageName>;

/**
 * An experiment: the single object argument of `experimentWorkflow`. Every stage's configuration
 * lives here; a stage runs when its key is present.
 */
export const ExperimentSpec = z.strictObject({
  /** Experiment id: also the workflow id, and the prefix of each stage's child workflow id. */
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'expected a lower-case slug like "exp-demo-1" (a-z, 0-9, . _ -)'),
  description: z.string().default(''),
  /** Sweep this experiment belongs to, if any (search attribute SweepId). */
  sweep_id: z.string().optional(),
  store: StoreConfig.prefault({}),
  /** Stages to rerun even when the step cache holds a result for the same inputs. */
  force: z.array(StageName).default([]),
  mine: MineConfig.optional(),
  build: BuildConfig.optional(),
  rollout: RolloutConfig.optional(),
});
export type ExperimentSpec = z.infer<typeof ExperimentSpec>;
/** What a user writes: defaults may be omitted. */
export type ExperimentSpecInput = z.input<typeof ExperimentSpec>;
