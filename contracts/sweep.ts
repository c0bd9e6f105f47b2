import { z } from 'zod';
import { StageName } from './spec';

/** A dotted path into an experiment spec: `mix.sources.2.repeat`, `train.model` (numbers index arrays). */
export const SpecPath = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*(\.([a-z_][a-z0-9_]*|\d+))*$/, 'expected a dotted spec path like "mix.sources.0.repeat"');
export type SpecPath = z.infer<typeof SpecPath>;

/** One listed arm: a name and the spec paths it sets (`null` removes the key). */
export const SweepArm = z.strictObject({
  /** Label shown in reports and progress (free text). */
  name: z.string().min(1).max(100),
  set: z.record(SpecPath, z.unknown()).default({}),
});
export type SweepArm = z.infer<typeof SweepArm>;

/**
 * An ablation sweep: the single object argument of `sweepWorkflow`. Arms are the listed `arms`
 * crossed with the `grid` (every combination of its values, keys in sorted order); each arm is the
 * `base` experiment with its paths set, run as the child experiment `<id>-<NN>`.
 */
export const SweepSpec = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,89}$/, 'expected a lower-case slug like "ablation-1" (a-z, 0-9, . _ -)'),
    description: z.string().default(''),
    /** The experiment every arm starts from (an ExperimentSpec without `id`; the CLI inlines a file). */
    base: z.record(z.string(), z.unknown()),
    /** Listed arms (e.g. the paper's component ablation). */
    arms: z.array(SweepArm).default([]),
    /** Grid axes: every combination of the values, crossed with `arms`. */
    grid: z.record(SpecPath, z.array(z.unknown()).min(1)).default({}),
    /** Child experiments running at once. */
    max_parallel: z.number().int().min(1).max(1000).default(4),
    /** Arms started per workflow run before the sweep continues as new (keeps its history small). */
    arms_per_run: z.number().int().min(1).max(10_000).default(200),
    /** Internal: the state a continued-as-new sweep carries. Do not set. */
    carry: z.lazy(() => SweepCarry).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.arms.length === 0 && Object.keys(s.grid).length === 0)
      ctx.addIssue({ code: 'custom', path: ['grid'], message: 'a sweep needs `arms`, a `grid`, or both' });
    if ('id' in s.base)
      ctx.addIssue({ code: 'custom', path: ['base', 'id'], message: 'arms get their ids from the sweep; remove it' });
    const names = s.arms.map((a) => a.name);
    for (const [i, n] of names.entries())
      if (names.indexOf(n) !== i)
        ctx.addIssue({ code: 'custom', path: ['arms', i, 'name'], message: `duplicate arm name "${n}"` });
  });
export type SweepSpec = z.infer<typeof SweepSpec>;
export type SweepSpecInput = z.input<typeof SweepSpec>;

/** Where an arm is. `reused`: an earlier run of this sweep completed it (not rerun). */
export const ArmState = z.enum(['pending', 'waiting', 'running', 'completed', 'reused', 'failed']);
export type ArmState = z.infer<typeof ArmState>;

/** One arm of a sweep, as the progress query and the result report it. */
export const ArmStatus = z.strictObject({
  index: z.number().int().nonnegative(),
  /** Experiment id (= workflow id) of the arm. */
  id: z.string(),
  name: z.string(),
  /** The spec paths this arm sets. */
  params: z.record(z.string(), z.unknown()),
  state: ArmState,
  /** How each stage was obtained, once the arm finished. */
  stages: z.record(z.string(), z.enum(['ran', 'cached'])).default({}),
  /** The evaluate stage's resolved rate, when the arm has one. */
  eval_score: z.number().optional(),
  error: z.string().optional(),
});
export type ArmStatus = z.infer<typeof ArmStatus>;

/** What a continued-as-new sweep carries over. */
export const SweepCarry = z.strictObject({
  arms: z.array(ArmStatus),
  /** Stage signatures already produced (the step cache holds them): arms needing them need not wait. */
  done: z.array(z.string()),
  runs: z.number().int().nonnegative(),
});
export type SweepCarry = z.infer<typeof SweepCarry>;

/** The sweep's result. `failed > 0` means some arms failed; rerunning the sweep reruns only those. */
export const SweepResult = z.strictObject({
  sweepId: z.string(),
  arms: z.array(ArmStatus),
  completed: z.number().int().nonnegative(),
  reused: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Workflow runs the sweep took (continue-as-new). */
  runs: z.number().int().positive(),
});
export type SweepResult = z.infer<typeof SweepResult>;

/** What the sweep's `progress` query returns. */
export interface SweepProgress {
  sweepId: string;
  total: number;
  counts: Record<ArmState, number>;
  arms: ArmStatus[];
}

/** Signal an arm experiment sends its parent sweep when a stage has its result (ran or cached). */
export interface StageDoneSignal {
  experimentId: string;
  /** The stage, or `evaluate.<name>` for a named evaluation. */
  stage: StageName | (string & {});
  /** How the stage got its result (absent in signals from before this field). */
  status?: 'ran' | 'cached';
}
