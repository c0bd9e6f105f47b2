import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  EvalRunReport,
  EvaluateStageResult,
  InstanceReport,
  Prediction,
  TASK_QUEUES,
  SA,
  Trajectory,
  type ArtifactRef,
  type BuildStageResult,
  type EvaluateConfigInput,
  type ExperimentResult,
} from '../../contracts';
import { makeBuildFixtures } from '../../infra/fixtures/make-build-repos';
import type { EvaluateProgress } from '../../workflows/evaluate';
import { dockerOrSkip, testWheelhouse } from '../helpers/docker';
import { runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * The evaluate stage on the real Temporal dev server and Docker: replay-gold over the fixture
 * tasks with k = 2 (every instance resolves in every run, SWE-bench shapes), and, on the real
 * Slurm cluster, the serving lifecycle with a stand-in OpenAI-compatible server as the job's
 * program: submitted, health-awaited, found and used, and cancelled at the end, on failure and on
 * cancellation.
 */
const probe = await dockerOrSkip('temporal', 'slurm');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-evaluate-'));
const workdir = join(tmp, 'work');
const STANDIN = fileURLToPath(new URL('../helpers/standin-llm.py', import.meta.url));
const store = { uri: `file://${join(tmp, 'artifacts')}` };
let buildConfig: Record<string, unknown>;
/** Workflow ids (and so Slurm job names) unique to this run: jobs of earlier runs stay in squeue. */
const RUN = Date.now().toString(36);
const CHOSEN = ['acme__calc-1', 'acme__units-1'];
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
let tasks: ArtifactRef;

const readText = (ref: ArtifactRef) => readFileSync(fileURLToPath(ref.uri), 'utf8');
const jsonLines = (ref: ArtifactRef) =>
  readText(ref)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);

/** Starts the stage on the build stage's tasks (or, with `withRef: false`, on `config.tasks.path`). */
function start(name: string, config: EvaluateConfigInput, withRef = true): Promise<WorkflowHandle> {
  const id = `${name}-${RUN}`;
  return env.client.workflow.start('evaluateStageWorkflow', {
    workflowId: id,
    taskQueue: TASK_QUEUES.cpu,
    args: [{ experimentId: id, config, store, prefix: `${id}/evaluate`, ...(withRef ? { tasks } : {}) }],
  });
}

/** The job's Slurm state ('' when the scheduler has forgotten it). */
const slurmState = (jobId: string) => {
  try {
    return execFileSync('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};
const assertStopped = (jobId: string) => {
  const s = slurmState(jobId);
  assert.ok(s === 'CANCELLED' || s === '', `serving job ${jobId} is ${s}, expected CANCELLED or gone`);
};

/** A serving config whose program is the stand-in server. */
const serveWith = (flags = '', health = 120) => ({
  checkpoint: '/models/fake-checkpoint',
  serve: {
    framework: 'vllm' as const,
    command: `{python} ${STANDIN} --port {port} --model {checkpoint} --log {job_dir}/requests.log ${flags}`,
    resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '200M', time_limit: '15:00' },
    workdir,
    health_timeout_s: health,
    poll_s: 0.5,
  },
});

async function until(h: WorkflowHandle, pred: (p: EvaluateProgress) => boolean, what: string) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const p = await h.query<EvaluateProgress>('progress').catch(() => null);
    if (p && pred(p)) return p;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}: ${JSON.stringify(p)}`);
    await sleep(250);
  }
}

describe('evaluate stage (real Docker, real Temporal)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  before(async () => {
    if ('skip' in probe) return;
    env = await startTemporal();
    workers = await runWorkers(env, BOTTEGA_HOME, ['cpu', 'docker', 'slurm']);
    // The evaluation tasks: the build stage's validated fixture tasks (with their images).
    const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
    const tasksFile = join(tmp, 'tasks.jsonl');
    writeFileSync(
      tasksFile,
      fx.tasks
        .filter((t) => CHOSEN.includes(t.instance_id))
        .map((t) => JSON.stringify(t))
        .join('\n') + '\n'
    );
    const id = `exp-it-evaluate-build-${RUN}`;
    buildConfig = {
      tasks: { files: [tasksFile] },
      repo_paths: Object.fromEntries(fx.repos.map((x) => [x.repo, x.path])),
      wheelhouse: testWheelhouse(BOTTEGA_HOME),
    };
    const r = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [{ id, store, build: buildConfig }],
    })) as ExperimentResult;
    tasks = (r.stages.build!.result as BuildStageResult).artifacts.tasks;
  });
  after(async () => {
    await workers?.stop();
    await env?.teardown();
  });

  it('an experiment with an evaluate stage reports EvalScore and BaseModel as search attributes', async () => {
    const id = `exp-it-evaluate-sa-${RUN}`;
    const h = await env.client.workflow.start('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          id,
          store,
          build: buildConfig,
          // replay-gold ignores the model; its name still labels the experiment.
          evaluate: {
            policy: 'replay-gold',
            runs: 1,
            model: { endpoint: 'http://127.0.0.1:9/v1', model: 'gold-replayer' },
          },
        },
      ],
    });
    const r = (await h.result()) as ExperimentResult;
    assert.equal(r.stages.build!.status, 'cached');
    const d = await h.describe();
    assert.equal(d.typedSearchAttributes.get(SA.EvalScore), 1);
    assert.equal(d.typedSearchAttributes.get(SA.BaseModel), 'gold-replayer');
    assert.equal(d.typedSearchAttributes.get(SA.Stage), 'evaluate');
  });

  it('replay-gold, k = 2: every instance resolves in every run; SWE-bench shapes; baseline difference', async () => {
    const baseline = join(tmp, 'baseline.json');
    writeFileSync(baseline, JSON.stringify({ resolved_ids: ['acme__calc-1', 'other__x-1'], schema_version: 2 }));
    const h = await start('eval-it-gold', {
      policy: 'replay-gold',
      runs: 2,
      sampling: { seed: 100 },
      concurrency: 2,
      baselines: [{ name: 'half', run_report: baseline }],
      run_id: 'gold',
    });
    const out = EvaluateStageResult.parse(await h.result());
    assert.equal(out.serving, null);
    assert.equal(out.runs.length, 2);
    assert.deepEqual(out.summary.resolved_rates, [1, 1]);
    assert.equal(out.summary.mean, 1);
    assert.deepEqual([out.summary.ci95?.low, out.summary.ci95?.high], [1, 1]);
    assert.deepEqual(out.summary.seeds, [101, 102], 'run r samples with seed + r');
    assert.deepEqual(out.summary.per_instance, { 'acme__calc-1': 2, 'acme__units-1': 2 });
    assert.equal(out.summary.baselines[0]!.mean, 0.5, 'baseline ids outside the task set do not count');
    assert.equal(out.summary.baselines[0]!.difference, 0.5);
    for (const run of out.runs) {
      assert.deepEqual(run.resolved_ids, CHOSEN);
      const preds = jsonLines(run.artifacts.predictions).map((p) => Prediction.parse(p));
      assert.deepEqual(
        preds.map((p) => p.instance_id),
        CHOSEN
      );
      for (const p of preds) {
        assert.deepEqual(Object.keys(p).sort(), ['instance_id', 'model_name_or_path', 'model_patch']);
        assert.match(p.model_patch ?? '', /^diff --git/m);
      }
      const reports = JSON.parse(readText(run.artifacts.reports)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(reports).sort(), CHOSEN);
      for (const r of Object.values(reports)) assert.equal(InstanceReport.parse(r).resolved, true);
      const report = EvalRunReport.parse(JSON.parse(readText(run.artifacts.run_report)));
      assert.equal(report.total_instances, 2);
      assert.equal(report.submitted_instances, 2);
      assert.equal(report.completed_instances, 2);
      assert.equal(report.resolved_instances, 2);
      assert.deepEqual(report.resolved_ids, CHOSEN);
      assert.match(
        run.artifacts.run_report.uri,
        new RegExp(`/run-${run.run}/replay-gold\\.gold-run${run.run}\\.json$`)
      );
      const trajs = jsonLines(run.artifacts.trajectories).map((t) => Trajectory.parse(t));
      assert.ok(trajs.every((t) => t.sampling?.seed === run.seed, 'the seed is recorded in each trajectory'));
    }
    const md = readText(out.artifacts.report);
    assert.match(md, /Pass@1 \(mean over runs\): 100\.0%/);
    assert.match(md, /\| half \| 1 \| 50\.0% \| \+50\.0 pp \|/);
    const summary = JSON.parse(readText(out.artifacts.summary)) as { mean: number };
    assert.equal(summary.mean, 1);
  });

  describe('serving a checkpoint on Slurm', () => {
    it('submits the job, awaits health, finds and uses the endpoint, cancels the job at the end', async () => {
      const h = await start('eval-it-serve', { model: serveWith(), runs: 1, run_id: 'served' });
      const out = EvaluateStageResult.parse(await h.result());
      const serving = out.serving!;
      assert.ok(serving, 'the checkpoint was served');
      assert.equal(serving.checkpoint, '/models/fake-checkpoint');
      assert.equal(serving.model, '/models/fake-checkpoint', 'the model name comes from /v1/models');
      assert.match(serving.endpoint, /^http:\/\/[^:/]+:\d+\/v1$/);
      assertStopped(serving.job_id);
      // The endpoint was used: the agent's calls reached the server, with the served model's name.
      const log = readFileSync(join(workdir, `eval-it-serve-${RUN}`, 'serve', 'requests.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { method: string; path: string; model: string | null });
      const chats = log.filter((r) => r.path === '/v1/chat/completions');
      assert.equal(chats.length, 2, 'one turn (submit) per task');
      assert.ok(chats.every((r) => r.model === '/models/fake-checkpoint'));
      assert.ok(
        log.some((r) => r.path === '/v1/models'),
        'health was probed'
      );
      // The stand-in submits nothing: both instances are empty patches.
      const run = out.runs[0]!;
      assert.equal(run.empty_patch, 2);
      assert.equal(out.summary.mean, 0);
      const report = EvalRunReport.parse(JSON.parse(readText(run.artifacts.run_report)));
      assert.deepEqual(report.empty_patch_ids, CHOSEN);
      const preds = jsonLines(run.artifacts.predictions).map((p) => Prediction.parse(p));
      assert.ok(preds.every((p) => p.model_name_or_path === '/models/fake-checkpoint' && p.model_patch === ''));
      assert.ok(existsSync(join(workdir, `eval-it-serve-${RUN}`, 'serve', `endpoint.${serving.job_id}`)));
    });

    it('cancels the serving job when the evaluation fails (never healthy)', async () => {
      const h = await start('eval-it-serve-fail', { model: serveWith('--unhealthy', 6), runs: 1 });
      const p = await until(h, (x) => x.serving.jobId !== null, 'the job id');
      const err = await h.result().then(
        () => assert.fail('the workflow should fail'),
        (e: unknown) => e
      );
      assert.ok(err instanceof WorkflowFailedError, String(err));
      assert.ok(err.cause instanceof ActivityFailure, String(err.cause));
      assert.ok(err.cause.cause instanceof ApplicationFailure);
      assert.equal(err.cause.cause.type, 'ServeFailed');
      assert.match(err.cause.cause.message, /not healthy after 6s/);
      assertStopped(p.serving.jobId!);
    });

    it('a serving job that dies fails the stage with its log (tasks read from a path)', async () => {
      const model = serveWith();
      model.serve.command = `{python} -c 'import sys; print("cannot load the model"); sys.exit(3)'`;
      const h = await start('eval-it-serve-dies', { model, runs: 1, tasks: { path: fileURLToPath(tasks.uri) } }, false);
      const err = await h.result().then(
        () => assert.fail('the workflow should fail'),
        (e: unknown) => e
      );
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ActivityFailure, String(err));
      const app = err.cause.cause as ApplicationFailure;
      assert.equal(app.type, 'ServeFailed');
      assert.match(app.message, /ended FAILED before it was healthy/);
      assert.match(app.message, /cannot load/, 'the job log tail comes with the failure');
      const p = await h.query<EvaluateProgress>('progress');
      assert.match(slurmState(p.serving.jobId!), /^(FAILED|CANCELLED|)$/, 'the job is not left running');
    });

    it('cancels the serving job when the workflow is cancelled', async () => {
      const h = await start('eval-it-serve-cancel', { model: serveWith('--unhealthy', 600), runs: 1 });
      const p = await until(h, (x) => x.phase === 'health' && x.serving.jobId !== null, 'the health wait');
      await sleep(2000);
      await h.cancel();
      const err = await h.result().then(
        () => assert.fail('the workflow should be cancelled'),
        (e: unknown) => e
      );
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, String(err));
      assertStopped(p.serving.jobId!);
    });

    it('a checkpoint "train" without a train checkpoint is an invalid spec (nothing submitted)', async () => {
      const h = await start('eval-it-serve-nockpt', { model: { checkpoint: 'train' }, runs: 1 });
      const err = await h.result().then(
        () => assert.fail('the workflow should fail'),
        (e: unknown) => e
      );
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
      assert.equal(err.cause.type, 'InvalidSpec');
    });
  });
});
