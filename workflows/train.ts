import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  defineQuery,
  isCancellation,
  patched,
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
  nextReportAfterS,
  parseInput,
  type ArtifactRef,
  type TrainLiveMetrics,
  type SlurmJobState,
  type StoreConfig,
  type TrainStageOutcome,
  type TrainStageResult,
} from '../contracts';
import { describeTrainStage, liveElapsed, type TrainProgress, type TrainStageProgress } from './train-progress';

export type { TrainProgress, TrainStageProgress } from './train-progress';

/**
 * Marks runs that may continue as new while a job runs (the monitor reports every few seconds
 * to a minute, so a multi-day job would otherwise outgrow its history).
 */
export const TRAIN_CONTINUE_PATCH = 'train-live-progress-continue-v1';
/** History length past which a train run continues as new between two reports. */
const HISTORY_EVENTS_LIMIT = 4000;

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
  /** Set by continue-as-new: where the previous run was, monitoring a running job. */
  resume?: TrainResume;
  /** Tests: continue as new after this many monitor reports in one run. */
  continueAsNewAfterReports?: number;
}

type SubmittedJob = Awaited<ReturnType<Activities['submitJob']>>;

/** The state a continued run picks up: finished stages, and the job of the running one. */
export interface TrainResume {
  stageIndex: number;
  job: SubmittedJob;
  outcomes: TrainStageOutcome[];
  previous: string;
  progress: TrainProgress;
  lastState: SlurmJobState;
  reportAfterS: number;
}

export const trainProgressQuery = defineQuery<TrainProgress>('progress');

/**
 * The train stage: each configured stage (mt1, mt2, sft by default) runs as a Slurm job on the
 * slurm task queue, in order; a stage with `init: previous` starts from the previous stage's
 * final checkpoint. The job id lands in history at submission, so retries and worker restarts
 * re-attach instead of resubmitting. Cancelling the workflow `scancel`s the running job.
 *
 * Live progress: the monitor activity returns on every job state change, and between changes
 * after `poll.report_initial_s` doubling up to `poll.report_every_s`, with the elapsed time,
 * log tail and the trainer's latest metrics; each return updates the `progress` query and the
 * Web UI's current details. A long job's run continues as new when its history grows large.
 */
export async function trainStageWorkflow(input: TrainStageInput): Promise<TrainStageResult> {
  const config = parseInput(TrainConfig, input.config, 'train config');
  const { monitorJob } = slurmWait(config.poll.heartbeat_timeout_s);
  const resume = input.resume;
  const progress: TrainProgress = resume?.progress ?? {
    stages: config.stages.map((s) => ({
      name: s.name,
      state: 'WAITING',
      jobId: null,
      elapsed: 0,
      logTail: [],
      updatedAt: null,
      runningSince: null,
      metrics: null,
    })),
    current: null,
  };
  // Elapsed counted on in workflow time (the time of the last workflow task) while a job runs.
  setHandler(trainProgressQuery, () => ({
    ...progress,
    stages: progress.stages.map((s) => ({ ...s, elapsed: liveElapsed(s, Date.now()) })),
  }));
  const workflowId = workflowInfo().workflowId;
  const outcomes: TrainStageOutcome[] = [...(resume?.outcomes ?? [])];
  let previous = resume?.previous ?? config.base_model ?? '';
  let reportsThisRun = 0;

  for (const [i, stage] of config.stages.entries()) {
    if (resume && i < resume.stageIndex) continue;
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
    const resumed = resume?.stageIndex === i ? resume : undefined;
    const job = resumed?.job ?? (await slurmCtl.submitJob({ ...base, manifest, initModel }));
    if (!resumed) {
      p.jobId = job.jobId;
      p.state = 'PENDING';
      setCurrentDetails(`**${stage.name}**: Slurm job ${job.jobId} submitted`);
    } else setCurrentDetails(`**train** ${i + 1}/${config.stages.length}: ${describeTrainStage(p, Date.now())}`);
    // The monitor returns at once when the state differs from lastState, else after reportAfterS.
    let lastState: SlurmJobState = resumed?.lastState ?? 'PENDING';
    let reportAfterS = resumed?.reportAfterS ?? nextReportAfterS(config.poll, null);
    try {
      for (;;) {
        const r = await monitorJob({ ...base, jobId: job.jobId, lastState, reportAfterS });
        const now = Date.now();
        reportAfterS = nextReportAfterS(config.poll, r.state === lastState ? reportAfterS : null);
        lastState = r.state;
        Object.assign(p, {
          state: r.state,
          elapsed: r.elapsed,
          logTail: r.logTail,
          updatedAt: now,
          runningSince: r.state === 'RUNNING' ? now - r.elapsed * 1000 : null,
          metrics: mergeMetrics(p.metrics, r.metrics),
        } satisfies Partial<TrainStageProgress>);
        setCurrentDetails(
          `**train** ${i + 1}/${config.stages.length}: ${describeTrainStage(p, now, { withJob: true })}\n\n` +
            `_as of ${new Date(now).toISOString().slice(11, 19)} UTC_\n\n` +
            '```\n' +
            r.logTail.slice(-10).join('\n') +
            '\n```'
        );
        if (r.done) break;
        reportsThisRun++;
        const info = workflowInfo();
        const tooLong =
          info.continueAsNewSuggested ||
          info.historyLength > HISTORY_EVENTS_LIMIT ||
          (input.continueAsNewAfterReports !== undefined && reportsThisRun >= input.continueAsNewAfterReports);
        if (tooLong && patched(TRAIN_CONTINUE_PATCH)) {
          await continueAsNew<typeof trainStageWorkflow>({
            ...input,
            config,
            resume: { stageIndex: i, job, outcomes, previous, progress, lastState, reportAfterS },
          });
        }
      }
    } catch (err) {
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(() => slurmCtl.cancelJob({ ...base, jobId: job.jobId }));
        p.state = 'CANCELLED';
        p.runningSince = null;
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

/** The new metrics, keeping the total step count once the trainer's start line left the tail. */
function mergeMetrics(
  old: TrainLiveMetrics | null,
  next: TrainLiveMetrics | null | undefined
): TrainLiveMetrics | null {
  if (!next) return old;
  return { ...next, total_steps: next.total_steps ?? old?.total_steps ?? null };
}
