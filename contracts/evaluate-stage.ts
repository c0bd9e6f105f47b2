import { z } from 'zod';
import { atMost } from './limits';
import { ArtifactRef } from './artifact';
import { RolloutConfig, RolloutPolicyName } from './rollout';
import { SlurmClusterConfig, SlurmResources } from './train';

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** Where the evaluation tasks come from: the build stage's validated tasks, or a validated-tasks JSONL file. */
export const EvaluateTasksSource = z.union([
  z.strictObject({ from: z.literal('build') }),
  z.strictObject({
    /** A `tasks.validated.jsonl`-shaped file on the worker's filesystem (SWE-bench Verified records with images). */
    path: z.string().min(1),
  }),
]);
export type EvaluateTasksSource = z.infer<typeof EvaluateTasksSource>;

/** A model already served (vLLM, SGLang, a hosted API): nothing is started. */
export const EvaluateEndpointModel = z.strictObject({
  /** Base URL ending in /v1. */
  endpoint: z.url(),
  model: z.string().min(1),
  /** Name of the environment variable holding the API key (never the key itself). */
  api_key_env: EnvName.default('OPENAI_API_KEY'),
});
export type EvaluateEndpointModel = z.infer<typeof EvaluateEndpointModel>;

/** Serving frameworks with a default command template. */
export const ServeFramework = z.enum(['vllm', 'sglang']);
export type ServeFramework = z.infer<typeof ServeFramework>;

/**
 * Default serving commands: an OpenAI-compatible server with tool calling. Placeholders (each
 * replaced by its shell-quoted value): `{python}`, `{checkpoint}`, `{port}` (a free port the job
 * picks on its node), `{gpus}` (GPUs per node, at least 1), `{job_dir}`.
 */
export const SERVE_COMMANDS: Record<ServeFramework, string> = {
  vllm:
    '{python} -m vllm.entrypoints.openai.api_server --model {checkpoint} --port {port}' +
    ' --tensor-parallel-size {gpus} --enable-auto-tool-choice --tool-call-parser hermes',
  sglang:
    '{python} -m sglang.launch_server --model-path {checkpoint} --host 0.0.0.0 --port {port}' +
    ' --tp-size {gpus} --tool-call-parser qwen25',
};

/** How a checkpoint is served: a Slurm job running an OpenAI-compatible server. */
export const EvaluateServeConfig = z.strictObject({
  framework: ServeFramework.default('vllm'),
  /** Command template; unset means the framework's entry of {@link SERVE_COMMANDS}. */
  command: z.string().min(1).optional(),
  /** Python on the compute node. */
  python: z.string().min(1).default('python3'),
  cluster: SlurmClusterConfig.prefault({}),
  resources: SlurmResources.prefault({}),
  /** Shared directory for the job's script, log and endpoint file; unset: `$BOTTEGA_HOME/slurm`. */
  workdir: z.string().min(1).optional(),
  /** Extra environment of the job (plain values, never secrets). */
  env: z.record(EnvName, z.string()).default({}),
  /** How long to wait for the job to start and answer `GET /v1/models` (queueing included). */
  health_timeout_s: z.number().int().positive().check(atMost('duration_s')).default(3600),
  /** Seconds between health probes. */
  poll_s: z.number().positive().check(atMost('duration_s')).default(5),
  /** Model name in requests; unset: the first id the server lists at `/v1/models`. */
  model_name: z.string().min(1).optional(),
});
export type EvaluateServeConfig = z.infer<typeof EvaluateServeConfig>;

/** A checkpoint to serve: `train` (the train stage's final checkpoint) or a model directory on the cluster. */
export const EvaluateCheckpointModel = z.strictObject({
  checkpoint: z.string().min(1),
  serve: EvaluateServeConfig.prefault({}),
  /** The server's key, when it wants one. */
  api_key_env: EnvName.default('OPENAI_API_KEY'),
});
export type EvaluateCheckpointModel = z.infer<typeof EvaluateCheckpointModel>;

export const EvaluateModel = z.union([EvaluateEndpointModel, EvaluateCheckpointModel]);
export type EvaluateModel = z.infer<typeof EvaluateModel>;

/** A baseline to compare with: SWE-bench run report(s) (`<model>.<run_id>.json`), one per run. */
export const EvaluateBaseline = z.strictObject({
  name: z.string().min(1),
  run_report: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
});
export type EvaluateBaseline = z.infer<typeof EvaluateBaseline>;

/**
 * The evaluate stage: the rollout agent on an evaluation task set, `runs` times, graded with the
 * SWE-bench 5.0 rules. Defaults follow the paper's protocol: SWE-agent tools, temperature 0,
 * 100 steps, 128k context, Pass@1 averaged over 4 runs.
 */
/** The fields of an evaluation (shared by {@link EvaluateConfig} and {@link NamedEvaluateConfig}). */
const evaluateFields = {
  tasks: EvaluateTasksSource.default({ from: 'build' }),
  /** Needed by the `openai` policy; `replay-gold` ignores it. */
  model: EvaluateModel.optional(),
  /** `replay-gold` stands in for a model in tests (it solves each task from its gold patch). */
  policy: RolloutPolicyName.default('openai'),
  tool_mode: z.enum(['native', 'xml']).default('native'),
  /** k: independent runs over every task (Pass@1 is averaged over them). */
  runs: z.number().int().min(1).max(64).default(4),
  /** How many runs go at once (each has its own rollout concurrency). */
  parallel_runs: z.number().int().positive().check(atMost('concurrency')).default(1),
  sampling: z
    .strictObject({
      temperature: z.number().min(0).max(2).default(0),
      top_p: z.number().gt(0).max(1).default(1),
      max_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(4096),
      /** Run r (1-based) samples with seed + r (recorded in each trajectory). */
      seed: z.number().int().default(0),
    })
    .prefault({}),
  limits: RolloutConfig.shape.limits,
  container: RolloutConfig.shape.container,
  concurrency: z.number().int().positive().check(atMost('concurrency')).default(2),
  endpoint_concurrency: z.number().int().positive().check(atMost('concurrency')).default(8),
  container_starts_per_s: z.number().positive().check(atMost('rate')).default(2),
  batch_size: z.number().int().positive().max(500).default(100),
  baselines: z.array(EvaluateBaseline).default([]),
  /** Names the run reports (`<model>.<run_id>-run<r>.json`), as SWE-bench's `--run_id`. */
  run_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a short name like "verified-eval"')
    .default('bottega-eval'),
};

/** `policy: openai` needs a model. */
const needsModel: [(c: { policy: string; model?: unknown }) => boolean, { message: string; path: string[] }] = [
  (c) => c.policy !== 'openai' || !!c.model,
  { message: 'the openai policy needs a model: {endpoint, model} or {checkpoint, serve}', path: ['model'] },
];

export const EvaluateConfig = z.strictObject(evaluateFields).refine(...needsModel);
export type EvaluateConfig = z.infer<typeof EvaluateConfig>;
/** What a user writes: defaults may be omitted. */
export type EvaluateConfigInput = z.input<typeof EvaluateConfig>;

/** One of several evaluations of an experiment: its own node and child workflow `<id>/evaluate.<name>`. */
export const NamedEvaluateConfig = z
  .strictObject({
    /** Names the evaluation: its node `evaluate.<name>` and child workflow `<id>/evaluate.<name>`. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected a short lower-case name like "base" (a-z, 0-9, _ -)'),
    ...evaluateFields,
  })
  .refine(...needsModel);
export type NamedEvaluateConfig = z.infer<typeof NamedEvaluateConfig>;

/**
 * The spec's `evaluate`: one evaluation (node `evaluate`), or a list of named ones (nodes
 * `evaluate.<name>`, e.g. the base model and the trained checkpoint, or two benchmarks).
 */
export const EvaluateSection = z.union([
  EvaluateConfig,
  z
    .array(NamedEvaluateConfig)
    .min(1, 'list at least one evaluation, or give one evaluation as an object')
    .superRefine((list, ctx) => {
      const names = list.map((e) => e.name);
      for (const [i, n] of names.entries())
        if (names.indexOf(n) !== i)
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate evaluation name "${n}"` });
    }),
]);
export type EvaluateSection = z.infer<typeof EvaluateSection>;

/** One evaluation of a spec: its graph node, its spec path, and its config (without the name). */
export interface Evaluation {
  /** `evaluate`, or `evaluate.<name>` for a named one. */
  node: string;
  name: string | null;
  /** Where it is in the spec: `evaluate` or `evaluate[i]`. */
  path: string;
  config: EvaluateConfig;
}

/** The evaluations of a spec's `evaluate` (none when it has no evaluate stage). */
export function evaluationsOf(section: EvaluateSection | undefined): Evaluation[] {
  if (section === undefined) return [];
  if (!Array.isArray(section)) return [{ node: 'evaluate', name: null, path: 'evaluate', config: section }];
  return section.map(({ name, ...config }, i) => ({
    node: `evaluate.${name}`,
    name,
    path: `evaluate[${i}]`,
    config: config as EvaluateConfig,
  }));
}

/** A 95% confidence interval and its method. */
export const ConfidenceInterval = z.strictObject({
  low: z.number(),
  high: z.number(),
  level: z.literal(0.95),
  method: z.string(),
});
export type ConfidenceInterval = z.infer<typeof ConfidenceInterval>;

/** One run of the evaluation: its counts and artifacts. */
export const EvaluateRun = z.strictObject({
  /** 1-based. */
  run: z.number().int().positive(),
  seed: z.number().int(),
  total: z.number().int().nonnegative(),
  submitted: z.number().int().nonnegative(),
  resolved: z.number().int().nonnegative(),
  unresolved: z.number().int().nonnegative(),
  empty_patch: z.number().int().nonnegative(),
  error: z.number().int().nonnegative(),
  /** resolved / total. */
  resolved_rate: z.number().min(0).max(1),
  resolved_ids: z.array(z.string()),
  /** Instances where bottega's strict check reached the other verdict (reported beside, never scored). */
  strict_disagreement_ids: z.array(z.string()).default([]),
  exits: z.record(z.string(), z.number().int().nonnegative()),
  artifacts: z.strictObject({
    /** SWE-bench predictions JSONL (`instance_id`, `model_name_or_path`, `model_patch`). */
    predictions: ArtifactRef,
    /** `{instance_id: report}`: every graded instance's SWE-bench `report.json` body. */
    reports: ArtifactRef,
    /** SWE-bench run report (schema_version 2). */
    run_report: ArtifactRef,
    /** The run's trajectories (JSONL of Trajectory). */
    trajectories: ArtifactRef,
  }),
});
export type EvaluateRun = z.infer<typeof EvaluateRun>;

/** How the evaluation compares with a baseline. */
export const EvaluateBaselineResult = z.strictObject({
  name: z.string(),
  rates: z.array(z.number()),
  mean: z.number(),
  /** This evaluation's mean minus the baseline's. */
  difference: z.number(),
  ci95_runs: ConfidenceInterval.nullable(),
  ci95_instances: ConfidenceInterval.nullable(),
});
export type EvaluateBaselineResult = z.infer<typeof EvaluateBaselineResult>;

/** The evaluation's numbers. */
export const EvaluateSummary = z.strictObject({
  model: z.string(),
  policy: RolloutPolicyName,
  tasks: z.number().int().nonnegative(),
  runs: z.number().int().positive(),
  seeds: z.array(z.number().int()),
  resolved_rates: z.array(z.number()),
  mean: z.number(),
  /** Over runs: Student t-interval (null for one run). */
  ci95: ConfidenceInterval.nullable(),
  /** Over instances: percentile bootstrap with a fixed seed. */
  ci95_instances: ConfidenceInterval.nullable(),
  /** Instance id → runs in which it resolved. */
  per_instance: z.record(z.string(), z.number().int().nonnegative()),
  baselines: z.array(EvaluateBaselineResult),
});
export type EvaluateSummary = z.infer<typeof EvaluateSummary>;

/** Where the served checkpoint was. */
export const EvaluateServing = z.strictObject({
  job_id: z.string(),
  checkpoint: z.string(),
  endpoint: z.string(),
  model: z.string(),
});
export type EvaluateServing = z.infer<typeof EvaluateServing>;

/** The evaluate stage's output. */
export const EvaluateStageResult = z.strictObject({
  summary: EvaluateSummary,
  runs: z.array(EvaluateRun),
  serving: EvaluateServing.nullable(),
  artifacts: z.strictObject({ summary: ArtifactRef, report: ArtifactRef }),
});
export type EvaluateStageResult = z.infer<typeof EvaluateStageResult>;
