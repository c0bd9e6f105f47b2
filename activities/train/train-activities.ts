import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Context, cancellationDetails, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import {
  type TrainStageOutcome,
  ArtifactRef,
  INVALID_SPEC,
  StoreConfig,
  TrainConfig,
  parseInput,
  type SlurmJobState,
  type TrainJobProgress,
  type TrainStage,
} from '../../contracts';
import { referenceTrainerConfig } from './reference-trainer';
import { loggerFor } from '../logger';
import { openStore, S3ArtifactStore, type ArtifactStore } from '../store/artifact-store';
import { MAX_PRESIGN_S } from '../store/presign';
import type { JobInfo, SlurmBackend } from './backend';
import { liveMetrics, METRICS_TAIL_LINES } from './live-metrics';
import type { JobPoller } from './poller';
import { BackendRegistry } from './backends';
import { exitCodePath, jobName, jobPaths, logPath, type JobPaths } from './paths';
import { renderJobScript } from './sbatch';
import { classifyState, isTerminal, jobFailure, refineFinalState } from './states';

/** Dependencies of the train activities. */
export interface TrainDeps {
  env: NodeJS.ProcessEnv;
  /** State directory: default job workdir (`slurm/`) and SSH known_hosts. */
  bottegaHome: string;
  /** Shared backends and pollers; one per worker process by default. */
  registry?: BackendRegistry;
}

/** Common input of the train activities: one stage of the train config. */
export interface TrainJobInput {
  experimentId: string;
  /** The train workflow's id: the job name derives from it and the stage. */
  workflowId: string;
  config: TrainConfig;
  store: StoreConfig;
  prefix: string;
  /** Name of the stage in `config.stages`. */
  stage: string;
}

/** A submitted (or found) job. */
export interface SubmittedJob {
  jobId: string;
  jobName: string;
  /** True when a job of that name already existed and was reused. */
  reused: boolean;
  script: ArtifactRef;
  inputs: ArtifactRef;
}

/** The reference trainer in this checkout (for clusters sharing the worker's filesystem). */
const REFERENCE_TRAINER = fileURLToPath(new URL('../../infra/trainer/train.py', import.meta.url));
/** Downloads S3 shards into node-local disk in the job (stdlib Python); copied into the job directory. */
const STAGE_DATA_SCRIPT = fileURLToPath(new URL('../../infra/trainer/stage_data.py', import.meta.url));
/** Lines of log carried in heartbeats, progress and failures. */
const TAIL_LINES = 20;
/** Consecutive failed polls (scheduler unreachable) before a monitor attempt fails. */
const MAX_POLL_FAILURES = 5;
/** Consecutive polls a job may be unknown to the scheduler before its exit-code file decides. */
const UNKNOWN_ROUNDS = 3;

/** Marker the reference trainer writes last into a complete checkpoint (`step-N/COMPLETE`). */
export const CHECKPOINT_MARKER = 'COMPLETE';

/** Local path of a `file://` URI; other URIs are handed to the job as they are. */
const clusterPath = (uri: string) => (uri.startsWith('file://') ? fileURLToPath(uri) : uri);

/**
 * How a job gets shards that are not on the cluster's filesystem (an S3 store): each file the
 * manifest lists, plus the manifest, as presigned GET URLs (no credentials reach the cluster) that
 * infra/trainer/stage_data.py downloads into a node-local directory before the trainer starts.
 */
async function stagingPlan(store: ArtifactStore, manifest: ArtifactRef, config: TrainConfig, jobName: string) {
  if (!(store instanceof S3ArtifactStore))
    throw ApplicationFailure.create({
      type: INVALID_SPEC,
      nonRetryable: true,
      message: `train: shards at ${manifest.uri} are neither on the cluster's filesystem (file://) nor in the S3 store of this experiment`,
    });
  const m = ShardManifestFiles.parse(JSON.parse((await store.get(manifest.uri)).toString('utf8')));
  const dir = `${config.data_staging_dir.replace(/\/+$/, '')}/${jobName}`;
  const files = async () => {
    const expires = MAX_PRESIGN_S;
    const out = [
      {
        name: 'manifest.json',
        url: await store.presignGet(manifest.uri, expires),
        sha256: manifest.sha256,
        bytes: manifest.bytes,
      },
    ];
    for (const s of m.shards)
      for (const [kind, f] of Object.entries(s.files))
        out.push({
          name: `${s.name}.${kind}`,
          url: await store.presignGet(f.uri, expires),
          sha256: f.sha256,
          bytes: f.bytes,
        });
    return out;
  };
  return { dir, files };
}

/** What staging needs of a shard manifest (docs/shards.md): each shard's files. */
const ShardManifestFiles = z.object({
  shards: z.array(
    z.object({
      name: z.string().regex(/^[^/]+$/),
      files: z.record(
        z.string().regex(/^[^/]+$/),
        z.object({ uri: z.string(), sha256: z.string(), bytes: z.number() })
      ),
    })
  ),
});

/** Creates the train stage's Slurm activities (slurm task queue). */
export function createTrainActivities(deps: TrainDeps) {
  const registry = (deps.registry ??= new BackendRegistry(deps.env, deps.bottegaHome));
  const storeOf = (s: StoreConfig) => openStore(parseInput(StoreConfig, s, 'store config'), deps.env);

  const prepare = (raw: TrainJobInput) => {
    const config = parseInput(TrainConfig, raw.config, 'train config');
    const stage = config.stages.find((s) => s.name === raw.stage);
    if (!stage) {
      throw ApplicationFailure.create({
        type: INVALID_SPEC,
        nonRetryable: true,
        message: `train config has no stage ${JSON.stringify(raw.stage)}`,
      });
    }
    const backend = registry.backend(config.cluster);
    const paths = jobPaths(config.workdir ?? join(deps.bottegaHome, 'slurm'), raw.experimentId, stage.name);
    if (config.framework.python === 'auto') {
      const venv = join(deps.bottegaHome, 'trainer-venv', 'bin', 'python');
      config.framework.python = existsSync(venv) ? venv : 'python3';
    }
    return { config, stage, backend, paths, name: jobName(raw.workflowId, stage.name) };
  };

  const tailOf = (b: SlurmBackend, p: JobPaths, jobId: string) =>
    b.files.tail(logPath(p, jobId), TAIL_LINES).catch(() => [] as string[]);

  return {
    /**
     * Submits a stage's job, idempotently: a job with the stage's name that is still active or
     * has completed is reused; otherwise the script and its inputs are stored as artifacts and
     * then submitted with `sbatch`.
     */
    async submitJob(raw: TrainJobInput & { manifest: ArtifactRef; initModel: string }): Promise<SubmittedJob> {
      const { config, stage, backend, paths, name } = prepare(raw);
      const log = loggerFor({ experimentId: raw.experimentId, stage: 'train', activity: 'submitJob', job: name });
      const staged = raw.manifest.uri.startsWith('file://')
        ? null
        : await stagingPlan(storeOf(raw.store), raw.manifest, config, name);
      const manifest = staged ? `${staged.dir}/manifest.json` : clusterPath(raw.manifest.uri);
      const rendered = renderJobScript({
        name,
        workflowId: raw.workflowId,
        stage: stage.name,
        resources: config.resources,
        signalLeadS: config.signal_lead_s,
        framework: config.framework,
        paths,
        hparams: stage.hparams,
        manifest,
        dataDir: dirname(manifest),
        initModel: raw.initModel,
        trainer: config.framework.type === 'reference' ? (config.framework.script ?? REFERENCE_TRAINER) : '',
        env: config.env,
        ...(staged
          ? {
              stageData: {
                python: config.framework.python,
                script: paths.stager,
                list: paths.dataList,
                dir: staged.dir,
              },
            }
          : {}),
      });
      const inputs = {
        job_name: name,
        stage: stage satisfies TrainStage,
        manifest: raw.manifest,
        init_model: raw.initModel,
        resources: config.resources,
        framework: config.framework,
        backend: config.cluster.backend,
        paths,
        command: rendered.command,
      };
      const store = storeOf(raw.store);
      const key = `${raw.prefix}/${stage.name}`;
      // What ran is always recoverable: stored before anything reaches the cluster.
      const script = await store.put(`${key}/job.sbatch`, rendered.script, { records: null });
      const inputsRef = await store.put(`${key}/inputs.json`, JSON.stringify(inputs, null, 2) + '\n', {
        records: null,
      });
      const existing = (await backend.findByName(name)).sort((a, b) => Number(b.jobId) - Number(a.jobId));
      // A completed job counts only if it ran in this stage's directory (its exit-code file says
      // 0): the same workflow id on another server or workdir must not adopt it.
      let active = existing.find((j) => !isTerminal(j.state));
      for (const j of existing.filter((x) => x.state === 'COMPLETED')) {
        if (active) break;
        if ((await backend.files.read(exitCodePath(paths, j.jobId)))?.trim() === '0') active = j;
      }
      if (active) {
        log.info({ jobId: active.jobId, state: active.state }, 'reusing the job already submitted');
        return { jobId: active.jobId, jobName: name, reused: true, script, inputs: inputsRef };
      }
      await backend.files.mkdirp(paths.checkpoints);
      // The reference trainer gets its own --config (model, checkpoint dir, known keys only);
      // a user command gets the framework-neutral hyperparameters.
      const hparamsFile =
        config.framework.type === 'reference'
          ? referenceTrainerConfig({
              stage: stage.name,
              hparams: stage.hparams,
              initModel: raw.initModel,
              modelConfig: config.model_config,
              checkpointDir: paths.checkpoints,
            })
          : stage.hparams;
      await backend.files.write(paths.hparams, JSON.stringify(hparamsFile, null, 2) + '\n');
      // Presigned URLs, made now: they live at most 7 days (SigV4), so a job queued longer fails
      // its staging with a message saying to resubmit.
      if (staged) {
        await backend.files.write(paths.stager, readFileSync(STAGE_DATA_SCRIPT, 'utf8'));
        await backend.files.write(paths.dataList, JSON.stringify({ files: await staged.files() }) + '\n');
      }
      const jobId = await backend.submit(rendered.script, rendered.options);
      log.info({ jobId, backend: backend.kind }, 'submitted');
      return { jobId, jobName: name, reused: false, script, inputs: inputsRef };
    },

    /**
     * Waits for a job to end, heartbeating `{stage, jobId, state, elapsed, logTail, metrics}`
     * (polls are batched across monitors). A retry after worker loss re-attaches to the same
     * job (from the input, the last heartbeat, or the job name). REQUEUED, PREEMPTED and PENDING
     * are waited through. COMPLETED returns; any other end is a typed non-retryable failure with
     * the log tail. Cancelled by the workflow: the job is scancel'ed. Worker shutdown or timeout:
     * the job is left running for the next attempt (so it is when the activity is paused).
     *
     * While the job is active it returns with `done: false` as soon as its state differs from
     * `lastState` (what the workflow shows), and otherwise after `reportAfterS` (default
     * `poll.report_every_s`) with the elapsed time, log tail and the trainer's latest metrics,
     * so the workflow can publish them. Every `poll.initial_s` it also looks at the job's files:
     * the exit-code file appearing (the job is ending), or the log growing while the job is not
     * RUNNING (it is starting), makes the poller ask `squeue` at once.
     */
    async monitorJob(
      raw: TrainJobInput & { jobId?: string; lastState?: SlurmJobState; reportAfterS?: number }
    ): Promise<TrainJobProgress> {
      const started = Date.now();
      const { config, stage, backend, paths, name } = prepare(raw);
      const ctx = Context.current();
      const prev = ctx.info.heartbeatDetails as Partial<TrainJobProgress> | undefined;
      let jobId = raw.jobId ?? prev?.jobId;
      if (!jobId) {
        const found = (await backend.findByName(name)).sort((a, b) => Number(b.jobId) - Number(a.jobId));
        jobId = found[0]?.jobId;
        if (!jobId) throw new Error(`no job named ${name} to monitor`);
      }
      const id = jobId;
      const log = loggerFor({ experimentId: raw.experimentId, stage: 'train', activity: 'monitorJob', jobId });
      if (prev?.jobId) log.info({ state: prev.state }, 're-attached to the job');
      const poller = registry.poller(config.cluster, config.poll);
      // What the workflow shows: a different state is reported at once.
      const shown: SlurmJobState = raw.lastState ?? 'PENDING';
      const reportAt = started + (raw.reportAfterS ?? config.poll.report_every_s) * 1000;
      const progress: TrainJobProgress = {
        stage: stage.name,
        jobId,
        state: prev?.state ?? shown,
        elapsed: prev?.elapsed ?? 0,
        logTail: [],
        done: false,
        metrics: prev?.metrics ?? null,
      };
      // Slurm's elapsed time at the last poll, and when that was: elapsed is extrapolated between polls.
      let polled = { elapsed: progress.elapsed, at: started };
      // A snapshot: details are encoded later, and progress keeps changing.
      const beat = () => ctx.heartbeat({ ...progress, logTail: [...progress.logTail] });
      const timer = setInterval(beat, Math.min(5000, (ctx.info.heartbeatTimeoutMs ?? 15_000) / 3));
      const readFiles = async () => {
        progress.logTail = await tailOf(backend, paths, id);
        const m = liveMetrics(await backend.files.tail(paths.metrics, METRICS_TAIL_LINES).catch(() => []));
        if (m) progress.metrics = m;
      };
      /** A report for the workflow: fresh files, elapsed extrapolated while the job runs. */
      const report = async (): Promise<TrainJobProgress> => {
        await readFiles();
        if (progress.state === 'RUNNING')
          progress.elapsed = Math.round(polled.elapsed + (Date.now() - polled.at) / 1000);
        beat();
        const m = progress.metrics;
        log.info(
          {
            state: progress.state,
            elapsed: progress.elapsed,
            step: m?.step,
            loss: m?.loss,
            tokensPerS: m?.tokens_per_s,
          },
          'job progress'
        );
        return { ...progress, logTail: [...progress.logTail] };
      };
      const stopWatch = watchJobFiles(backend, paths, id, config.poll.initial_s * 1000, () => progress.state, poller);
      let unknown = 0;
      let pollFailures = 0;
      // A failure state is believed when a second poll confirms it: a requeue passes through
      // states that look final for an instant.
      let suspect: SlurmJobState | null = null;
      // The pending poll: kept across a wait that ended for a report.
      let next: Promise<JobInfo | null> | null = null;
      try {
        for (;;) {
          beat();
          let info: JobInfo | null;
          next ??= poller.next(id);
          // While a failure state awaits its confirming poll there is nothing to report.
          const canReport = suspect === null && classifyState(progress.state) === 'active';
          const wait = delay(canReport ? reportAt - Date.now() : MAX_TIMER_MS);
          try {
            const r = await Promise.race([next.then((x) => ({ info: x })), wait.done, ctx.cancelled]);
            // The report is due and nothing changed: the pending poll is left for the next call.
            if (r === 'due') return await report();
            info = r.info;
          } catch (err) {
            next = null;
            // A failed poll (network, ssh) is retried; after several in a row the attempt fails
            // (retryable: the next attempt re-attaches) so the error shows in the Web UI.
            if (ctx.cancellationSignal.aborted || ++pollFailures >= MAX_POLL_FAILURES) throw err;
            await Promise.race([sleep(config.poll.initial_s * 1000 * pollFailures), ctx.cancelled]);
            continue;
          } finally {
            wait.cancel();
          }
          next = null;
          pollFailures = 0;
          let state: SlurmJobState;
          let exitCode: string | null = info?.exitCode ?? null;
          if (info) {
            unknown = 0;
            state = info.state;
            polled = { elapsed: info.elapsed, at: Date.now() };
            progress.elapsed = info.elapsed;
          } else {
            // Forgotten by squeue (MinJobAge) and no accounting: the exit-code file decides.
            const code = (await backend.files.read(exitCodePath(paths, id)))?.trim();
            if (code === undefined && ++unknown < UNKNOWN_ROUNDS) continue;
            state = code === '0' ? 'COMPLETED' : 'FAILED';
            exitCode = code ?? null;
          }
          if (state !== progress.state)
            log.info({ from: progress.state, to: state, reason: info?.reason ?? null }, 'job state');
          progress.state = state;
          const cls = classifyState(state);
          if (cls === 'failed' && suspect !== state) {
            suspect = state;
            continue;
          }
          suspect = null;
          if (cls === 'active') {
            // A new state goes to the workflow at once (it calls again with it as lastState).
            if (state !== shown || Date.now() >= reportAt) return await report();
            continue;
          }
          await readFiles();
          beat();
          poller.forget(id);
          if (cls === 'completed') return { ...progress, logTail: [...progress.logTail], done: true };
          const final = refineFinalState(state, progress.logTail);
          throw jobFailure({ stage: stage.name, jobId: id, state: final, exitCode, logTail: progress.logTail });
        }
      } catch (err) {
        const why = cancellationDetails();
        if (ctx.cancellationSignal.aborted && why && !why.workerShutdown && !why.timedOut && !why.paused) {
          // Cancelled by the workflow (or the activity was reset / lost): stop the job.
          log.info({ why }, 'cancelled: scancel');
          await backend.cancel(id);
        }
        throw err;
      } finally {
        clearInterval(timer);
        stopWatch();
      }
    },

    /** `scancel`s a job (the workflow's non-cancellable cleanup). */
    async cancelJob(raw: TrainJobInput & { jobId: string }): Promise<void> {
      const { backend } = prepare(raw);
      await backend.cancel(raw.jobId);
      loggerFor({ experimentId: raw.experimentId, stage: 'train', activity: 'cancelJob' }).info(
        { jobId: raw.jobId },
        'scancel'
      );
    },

    /**
     * Records a finished stage's outputs as artifacts: the checkpoint directory listing (with
     * the complete `step-*` checkpoints), the metrics JSONL and the job log. The final checkpoint
     * is the newest complete one (or the checkpoint directory itself when the trainer keeps
     * none of that shape).
     */
    async collectOutputs(raw: TrainJobInput & { jobId: string }): Promise<{
      checkpoint_dir: string;
      final_checkpoint: string;
      checkpoints: ArtifactRef;
      metrics: ArtifactRef;
      log: ArtifactRef;
      metrics_summary: TrainMetricsSummary | null;
    }> {
      const { stage, backend, paths } = prepare(raw);
      const store = storeOf(raw.store);
      const key = `${raw.prefix}/${stage.name}`;
      const entries = await backend.files.list(paths.checkpoints);
      const complete: string[] = [];
      for (const e of entries.filter((x) => /^step-\d+\/$/.test(x))) {
        const files = await backend.files.list(`${paths.checkpoints}/${e}`);
        if (files.includes(CHECKPOINT_MARKER)) complete.push(e.slice(0, -1));
      }
      complete.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
      const newest = complete.at(-1);
      const final = newest ? `${paths.checkpoints}/${newest}` : paths.checkpoints;
      // The final checkpoint's files and sizes, from its completeness marker (the reference
      // trainer writes them there; other frameworks' markers are kept as they are).
      const marker = newest ? await backend.files.read(`${final}/${CHECKPOINT_MARKER}`) : null;
      let finalFiles: unknown = null;
      try {
        finalFiles = marker ? (JSON.parse(marker) as unknown) : null;
      } catch {
        finalFiles = marker;
      }
      const listing = { dir: paths.checkpoints, entries, complete, final, final_marker: finalFiles };
      const metrics = (await backend.files.read(paths.metrics)) ?? '';
      const jobLog = (await backend.files.read(logPath(paths, raw.jobId))) ?? '';
      return {
        checkpoint_dir: paths.checkpoints,
        final_checkpoint: final,
        checkpoints: await store.put(`${key}/checkpoints.json`, JSON.stringify(listing, null, 2) + '\n', {
          records: null,
        }),
        metrics: await store.put(`${key}/metrics.jsonl`, metrics),
        metrics_summary: summarizeMetrics(metrics),
        log: await store.put(`${key}/job.log`, jobLog),
      };
    },
  };
}

/** The longest setTimeout delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer that resolves `'due'` after `ms` (at once when ≤ 0) and can be cancelled. */
function delay(ms: number): { done: Promise<'due'>; cancel: () => void } {
  let t: NodeJS.Timeout | undefined;
  const done = new Promise<'due'>((r) => {
    t = setTimeout(() => r('due'), Math.max(0, ms));
  });
  return { done, cancel: () => clearTimeout(t) };
}

/**
 * Looks at a job's files every `everyMs` and hurries the poller when they show a state change
 * squeue has not reported yet: the exit-code file appeared (the batch script is ending), or the
 * log's last line changed while the job is not RUNNING (it started, e.g. after a requeue).
 * Returns a stop function.
 */
function watchJobFiles(
  backend: SlurmBackend,
  paths: JobPaths,
  jobId: string,
  everyMs: number,
  state: () => SlurmJobState,
  poller: JobPoller
): () => void {
  let looked = false;
  let hurriedForExit = false;
  let lastLine: string | undefined;
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const s = state();
      if (classifyState(s) !== 'active') return;
      // The job script removes its exit-code file when it starts and writes it as it ends.
      const ending = !hurriedForExit && (await backend.files.read(exitCodePath(paths, jobId))) !== null;
      const line = (await backend.files.tail(logPath(paths, jobId), 1))[0];
      // A log change counts from the second look on (the first sets the baseline).
      const starting = looked && line !== lastLine && s !== 'RUNNING' && s !== 'COMPLETING';
      looked = true;
      lastLine = line;
      if (ending) hurriedForExit = true;
      if (ending || starting) poller.hurry(jobId);
    } catch {
      // unreadable for now: squeue still decides
    } finally {
      busy = false;
    }
  };
  void check();
  const t = setInterval(() => void check(), Math.max(250, everyMs));
  return () => clearInterval(t);
}

/** A stage's metrics in a few numbers. */
export type TrainMetricsSummary = NonNullable<TrainStageOutcome['metrics_summary']>;

/**
 * Sums up a metrics JSONL: lines with a numeric `step` (and `event: "step"` where the trainer
 * tags its lines) are steps; torn or foreign lines are skipped.
 */
export function summarizeMetrics(jsonl: string): TrainMetricsSummary | null {
  const steps: Record<string, unknown>[] = [];
  for (const line of jsonl.split('\n')) {
    try {
      const r = JSON.parse(line) as Record<string, unknown>;
      if (typeof r.step === 'number' && (r.event === undefined || r.event === 'step')) steps.push(r);
    } catch {
      // a torn last line of a killed job, or a non-JSON line
    }
  }
  if (steps.length === 0) return null;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const losses = steps.map((r) => num(r.loss)).filter((x): x is number => x !== null);
  const tps = steps.map((r) => num(r.tokens_per_s)).filter((x): x is number => x !== null);
  return {
    steps: steps.length,
    tokens: steps.reduce((a, r) => a + (num(r.tokens) ?? 0), 0),
    loss_first: losses[0] ?? null,
    loss_last: losses.at(-1) ?? null,
    tokens_per_s: tps.length ? tps.reduce((a, b) => a + b, 0) / tps.length : null,
  };
}

/** The train activities' type (for workflow proxies). */
export type TrainActivities = ReturnType<typeof createTrainActivities>;
