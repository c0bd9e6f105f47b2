import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  executeChild,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  EvaluateConfig,
  INVALID_SPEC,
  SPEC_BOUNDS,
  TASK_QUEUES,
  parseInput,
  type ArtifactRef,
  type EvaluateRun,
  type EvaluateServing,
  type EvaluateStageResult,
  type RolloutConfig,
  type StoreConfig,
} from '../contracts';
import { rolloutStageWorkflow } from './rollout';
import { runWindowed } from './window';

// --- Activities ---

/** Store-side bookkeeping (cpu task queue). */
const { importEvaluationTasks, recordEvaluationRun, summarizeEvaluation } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  retry: { maximumAttempts: 5 },
});

/** Short Slurm calls: submit and cancel the serving job (idempotent, retried). */
const slurmCtl = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.slurm,
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '2 minutes', maximumAttempts: 10 },
});

/** The health wait: heartbeats every probe; its own deadline is `health_timeout_s`. */
const slurmWait = (healthTimeoutS: number) =>
  proxyActivities<Activities>({
    taskQueue: TASK_QUEUES.slurm,
    startToCloseTimeout: `${healthTimeoutS + 600} seconds`,
    heartbeatTimeout: '2 minutes',
    cancellationType: ActivityCancellationType.TRY_CANCEL,
    retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
  });

// --- Types and queries ---

/** Input of {@link evaluateStageWorkflow}. */
export interface EvaluateStageInput {
  experimentId: string;
  config: EvaluateConfig;
  store: StoreConfig;
  prefix: string;
  /** The evaluation tasks (validated-tasks JSONL); unset: read from `config.tasks.path`. */
  tasks?: ArtifactRef;
  /** The train stage's final checkpoint, for `model.checkpoint: train`. */
  checkpoint?: string;
}

/** Live progress of the evaluate stage. */
export interface EvaluateProgress {
  phase: 'serving' | 'health' | 'running' | 'summary' | 'done';
  serving: { jobId: string | null; endpoint: string | null };
  runsDone: number;
  runs: number;
  resolved: number[];
}

export const evaluateProgressQuery = defineQuery<EvaluateProgress>('progress');

const invalid = (message: string) => ApplicationFailure.create({ type: INVALID_SPEC, nonRetryable: true, message });

/**
 * The evaluate stage. With `model.checkpoint`, a serving job (vLLM or SGLang from a template) is
 * submitted to Slurm, its health endpoint awaited and its host:port found; it is always cancelled
 * at the end, also when the evaluation fails or the workflow is cancelled. Then `runs` (k) times,
 * the rollout stage runs the agent once on every task (run r samples with seed + r), and its
 * graded final patches become the run's predictions, per-instance reports and run report. The
 * summary holds the resolved rate per run, the mean, 95% intervals and baseline differences.
 */
export async function evaluateStageWorkflow(input: EvaluateStageInput): Promise<EvaluateStageResult> {
  const config = parseInput(EvaluateConfig, input.config, 'evaluate config');
  const base = { experimentId: input.experimentId, config, store: input.store, prefix: input.prefix };
  const progress: EvaluateProgress = {
    phase: 'running',
    serving: { jobId: null, endpoint: null },
    runsDone: 0,
    runs: config.runs,
    resolved: [],
  };
  setHandler(evaluateProgressQuery, () => progress);

  let tasks = input.tasks;
  if (!tasks) {
    if (!('path' in config.tasks))
      throw invalid('evaluate: tasks come from the build stage, but no validated tasks were given');
    tasks = await importEvaluationTasks({ ...base, path: config.tasks.path });
  }
  const model = config.policy === 'replay-gold' ? undefined : config.model;
  if (!model || 'endpoint' in model) {
    const endpoint = model && 'endpoint' in model ? model : undefined;
    return evaluate(input, config, tasks, progress, {
      endpoint: endpoint?.endpoint ?? 'http://127.0.0.1:8000/v1',
      model: endpoint?.model ?? config.policy,
      apiKeyEnv: endpoint?.api_key_env ?? 'OPENAI_API_KEY',
      serving: null,
    });
  }

  const checkpoint = model.checkpoint === 'train' ? input.checkpoint : model.checkpoint;
  if (!checkpoint) throw invalid('evaluate: model.checkpoint is "train" but the train stage gave no checkpoint');
  const job = {
    ...base,
    workflowId: workflowInfo().workflowId,
    serve: model.serve,
    checkpoint,
  };
  let jobId: string | undefined;
  try {
    progress.phase = 'serving';
    const submitted = await slurmCtl.submitServeJob(job);
    jobId = submitted.jobId;
    progress.serving.jobId = jobId;
    progress.phase = 'health';
    setCurrentDetails(`serving ${checkpoint}: Slurm job ${jobId}, waiting for health`);
    const ep = await slurmWait(model.serve.health_timeout_s).awaitServeEndpoint({
      ...job,
      jobId,
      apiKeyEnv: model.api_key_env,
    });
    progress.serving.endpoint = ep.endpoint;
    return await evaluate(input, config, tasks, progress, {
      endpoint: ep.endpoint,
      model: ep.model,
      apiKeyEnv: model.api_key_env,
      serving: { job_id: jobId, checkpoint, endpoint: ep.endpoint, model: ep.model },
    });
  } finally {
    // Always: on success, failure and cancellation (by id, and by name for a submit cut short).
    await CancellationScope.nonCancellable(() => slurmCtl.cancelServeJob({ ...job, ...(jobId ? { jobId } : {}) }));
  }
}

/** The endpoint the evaluation's agent talks to. */
interface Target {
  endpoint: string;
  model: string;
  apiKeyEnv: string;
  serving: EvaluateServing | null;
}

/** k runs of the rollout stage, each recorded as SWE-bench outputs, then the summary. */
async function evaluate(
  input: EvaluateStageInput,
  config: EvaluateConfig,
  tasks: ArtifactRef,
  progress: EvaluateProgress,
  target: Target
): Promise<EvaluateStageResult> {
  const base = { experimentId: input.experimentId, config, store: input.store, prefix: input.prefix };
  const me = workflowInfo().workflowId;
  progress.phase = 'running';
  const runNumbers = Array.from({ length: config.runs }, (_, i) => i + 1);
  const runs: EvaluateRun[] = await runWindowed(runNumbers, config.parallel_runs, async (run) => {
    const seed = config.sampling.seed + run;
    const rollout: RolloutConfig = {
      policy: config.policy,
      endpoint: target.endpoint,
      model: target.model,
      api_key_env: target.apiKeyEnv,
      tool_mode: config.tool_mode,
      rollouts_per_task: 1,
      sampling: { ...config.sampling, seed },
      limits: config.limits,
      container: config.container,
      concurrency: config.concurrency,
      endpoint_concurrency: config.endpoint_concurrency,
      container_starts_per_s: config.container_starts_per_s,
      batch_size: config.batch_size,
      batches_per_run: 50,
      // Evaluation keeps every trajectory: none is dropped for its length (the largest value the
      // contract accepts; a trajectory never exceeds limits.max_total_tokens, which has the same bound).
      max_trajectory_tokens: SPEC_BOUNDS.doc_tokens.max,
    };
    const result = await executeChild(rolloutStageWorkflow, {
      workflowId: `${me}/run-${run}`,
      args: [{ ...base, config: rollout, prefix: `${input.prefix}/run-${run}/rollout`, tasks }],
    });
    const recorded = await recordEvaluationRun({ ...base, tasks, run, seed, model: target.model, rollout: result });
    progress.runsDone++;
    progress.resolved.push(recorded.resolved);
    setCurrentDetails(`evaluate: ${progress.runsDone}/${config.runs} runs; resolved ${progress.resolved.join(', ')}`);
    return recorded;
  });
  progress.phase = 'summary';
  const out = await summarizeEvaluation({ ...base, tasks, model: target.model, runs, serving: target.serving });
  progress.phase = 'done';
  setCurrentDetails(
    `evaluate: Pass@1 ${(100 * out.summary.mean).toFixed(1)}% over ${config.runs} run(s) of ${out.summary.tasks} task(s)`
  );
  return out;
}
