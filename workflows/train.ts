import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  INVALID_SPEC,
  TASK_QUEUES,
  TrainConfig,
  parseInput,
  type ArtifactRef,
  type SlurmJobState,
  type StoreConfig,
  type TrainStageOutcome,
  type TrainStageResult,
} from '../contracts';

// --- Activities ---

/** Short Slurm calls (sbatch, scancel, file reads): idempotent, retried. */
const slurmCtl = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.slurm,
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '2 minutes', maximumAttempts: 10 },
});

/** The monitor proxy: its heartbeat timeout comes from the config (how fast a lost worker is noticed). */
const slurmWait = (heartbeatTimeoutS: number) =>
  proxyActivities<Activities>({
    taskQueue: TASK_QUEUES.slurm,
    startToCloseTimeout: '60 days',
    heartbeatTimeout: `${heartbeatTimeoutS} seconds`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // Unlimited attempts: a retry re-attaches to the running job, it never resubmits.
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes' },
  });

// --- Types and queries ---

/** Input of {@link trainStageWorkflow}. */
export interface TrainStageInput {
  experimentId: string;
  config: TrainConfig;
  store: StoreConfig;
  prefix: string;
  /** The mix stage's manifests by mix stage name (what `stages[].data` names). */
  manifests: Record<string, ArtifactRef>;
}

/** Live state of one training stage. */
export interface TrainStageProgress {
  name: string;
  /** WAITING before submission, then the Slurm state. */
  state: SlurmJobState | 'WAITING';
  jobId: string | null;
  elapsed: number;
  logTail: string[];
}

/** Live progress of the train stage. */
export interface TrainProgress {
  stages: TrainStageProgress[];
  /** Index of the running stage, null before the first and after the last. */
  current: number | null;
}

export const trainProgressQuery = defineQuery<TrainProgress>('progress');

/**
 * The train stage: each configured stage (mt1, mt2, sft by default) runs as a Slurm job on the
 * slurm task queue, in order; a stage with `init: previous` starts from the previous stage's
 * final checkpoint. The job id lands in history at submission, so retries and worker restarts
 * re-attach instead of resubmitting. Cancelling the workflow `scancel`s the running job.
 */
export async function trainStageWorkflow(input: TrainStageInput): Promise<TrainStageResult> {
  const config = parseInput(TrainConfig, input.config, 'train config');
  const { monitorJob } = slurmWait(config.poll.heartbeat_timeout_s);
  const progress: TrainProgress = {
    stages: config.stages.map((s) => ({ name: s.name, state: 'WAITING', jobId: null, elapsed: 0, logTail: [] })),
    current: null,
  };
  setHandler(trainProgressQuery, () => progress);
  const workflowId = workflowInfo().workflowId;
  const outcomes: TrainStageOutcome[] = [];
  let previous = config.base_model ?? '';

  for (const [i, stage] of config.stages.entries()) {
    const manifest = input.manifests[stage.data];
    if (!manifest) {
      throw ApplicationFailure.create({
        type: INVALID_SPEC,
        nonRetryable: true,
        message: `train stage ${stage.name}: no mix manifest named ${JSON.stringify(stage.data)} (have: ${Object.keys(input.manifests).join(', ') || 'none'})`,
      });
    }
    const initModel = stage.init === 'previous' ? previous : (stage.init ?? previous);
    const p = progress.stages[i]!;
    progress.current = i;
    const base = {
      experimentId: input.experimentId,
      workflowId,
      config,
      store: input.store,
      prefix: input.prefix,
      stage: stage.name,
    };
    const job = await slurmCtl.submitJob({ ...base, manifest, initModel });
    p.jobId = job.jobId;
    p.state = 'PENDING';
    setCurrentDetails(`**${stage.name}**: Slurm job ${job.jobId} submitted`);
    let lastState: SlurmJobState | undefined;
    try {
      for (;;) {
        const r = await monitorJob({ ...base, jobId: job.jobId, ...(lastState ? { lastState } : {}) });
        lastState = r.state;
        Object.assign(p, { state: r.state, elapsed: r.elapsed, logTail: r.logTail });
        setCurrentDetails(
          `**${stage.name}** (${i + 1}/${config.stages.length}): job ${r.jobId} ${r.state}, ${r.elapsed}s\n\n` +
            '```\n' +
            r.logTail.slice(-10).join('\n') +
            '\n```'
        );
        if (r.done) break;
      }
    } catch (err) {
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(() => slurmCtl.cancelJob({ ...base, jobId: job.jobId }));
        p.state = 'CANCELLED';
      }
      throw err;
    }
    const out = await slurmCtl.collectOutputs({ ...base, jobId: job.jobId });
    outcomes.push({
      name: stage.name,
      jobId: job.jobId,
      state: p.state as SlurmJobState,
      checkpoint_dir: out.checkpoint_dir,
      final_checkpoint: out.final_checkpoint,
      metrics_summary: out.metrics_summary,
      artifacts: {
        script: job.script,
        inputs: job.inputs,
        checkpoints: out.checkpoints,
        metrics: out.metrics,
        log: out.log,
      },
    });
    previous = out.final_checkpoint;
  }
  progress.current = null;
  setCurrentDetails(`train: ${outcomes.length} stage(s) done; final checkpoint ${previous}`);
  return { stages: outcomes, final_checkpoint: previous };
}
