import { z } from 'zod';
import { BuildConfig } from './build';
import { MineConfig } from './mine';
import { MixConfig } from './mix';
import { TrainConfig } from './train';
import { EvaluateSection, evaluationsOf } from './evaluate-stage';
import { RolloutConfig } from './rollout';
import { StoreConfig } from './store';

/** Stage names in pipeline order. */
export const STAGES = ['mine', 'build', 'rollout', 'mix', 'train', 'evaluate'] as const;
export const StageName = z.enum(STAGES);
export type StageName = z.infer<typeof StageName>;

/**
 * An experiment: the single object argument of `experimentWorkflow`. Every stage's configuration
 * lives here; a stage runs when its key is present.
 */
export const ExperimentSpec = z
  .strictObject({
    /** Experiment id: also the workflow id, and the prefix of each stage's child workflow id. */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'expected a lower-case slug like "exp-demo-1" (a-z, 0-9, . _ -)'),
    description: z.string().default(''),
    /** Sweep this experiment belongs to, if any (search attribute SweepId). */
    sweep_id: z.string().optional(),
    store: StoreConfig.prefault({}),
    /** Stages to rerun even when the step cache holds a result for the same inputs. */
    force: z.array(StageName).default([]),
    /**
     * How stages are scheduled: `dag` starts each stage as soon as the stages it reads from are done
     * (independent branches side by side); `chain` runs one stage at a time in the graph's order.
     */
    schedule: z.enum(['dag', 'chain']).default('dag'),
    /**
     * When a stage fails: `continue` lets independent branches finish (their results are cached for a
     * rerun); `cancel` cancels them. Stages reading from the failed one never start either way.
     */
    on_failure: z.enum(['continue', 'cancel']).default('continue'),
    mine: MineConfig.optional(),
    build: BuildConfig.optional(),
    rollout: RolloutConfig.optional(),
    mix: MixConfig.optional(),
    train: TrainConfig.optional(),
    /** One evaluation, or a list of named ones (each its own node and child workflow). */
    evaluate: EvaluateSection.optional(),
  })
  .superRefine((spec, ctx) => {
    // A mix source may only name an upstream artifact that this experiment produces.
    for (const [i, s] of (spec.mix?.sources ?? []).entries()) {
      if (!s.from) continue;
      const [stage, what] = s.from.split('.') as [StageName, string];
      const missing =
        spec[stage] === undefined
          ? `the experiment has no ${stage} stage (add one, or use a path)`
          : stage === 'mine' && !spec.mine!.formats.includes(what as 'python' | 'general')
            ? `mine.formats does not include "${what}"`
            : null;
      if (missing)
        ctx.addIssue({
          code: 'custom',
          path: ['mix', 'sources', i, 'from'],
          message: `"${s.from}" is not available: ${missing}`,
        });
    }
    // The train stage trains on the mix stage's shards, by mix stage name.
    if (spec.train) {
      const mixStages = (spec.mix?.stages ?? []).map((m) => m.name);
      for (const [i, t] of spec.train.stages.entries())
        if (!mixStages.includes(t.data))
          ctx.addIssue({
            code: 'custom',
            path: ['train', 'stages', i, 'data'],
            message: spec.mix
              ? `no mix stage named "${t.data}" (mix.stages has ${mixStages.map((n) => `"${n}"`).join(', ')})`
              : 'the train stage needs a mix stage to take shards from (add `mix`)',
          });
    }
    // The evaluate stage's inputs must come from stages this experiment has.
    for (const ev of evaluationsOf(spec.evaluate)) {
      const at = (...rest: (string | number)[]) =>
        ev.name === null ? ['evaluate', ...rest] : ['evaluate', Number(ev.path.slice(9, -1)), ...rest];
      if ('from' in ev.config.tasks && !spec.build)
        ctx.addIssue({
          code: 'custom',
          path: at('tasks'),
          message: 'tasks from the build stage, but the experiment has no build stage (add `build`, or give `path`)',
        });
      const m = ev.config.model;
      if (m && 'checkpoint' in m && m.checkpoint === 'train' && !spec.train)
        ctx.addIssue({
          code: 'custom',
          path: at('model', 'checkpoint'),
          message: '"train" names the train stage\'s final checkpoint, but the experiment has no train stage',
        });
    }
  });
export type ExperimentSpec = z.infer<typeof ExperimentSpec>;
/** What a user writes: defaults may be omitted. */
export type ExperimentSpecInput = z.input<typeof ExperimentSpec>;
