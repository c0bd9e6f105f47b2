import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { TASK_QUEUES, TrainStageResult, type ArtifactRef, type TrainConfigInput } from '../../contracts';
import { LocalArtifactStore } from '../../activities/store/artifact-store';
import type { TrainProgress } from '../../workflows/train';
import { runWorkers } from '../helpers/stack';
import { prerequisites } from '../helpers/prereq';
import { startTemporal } from '../helpers/temporal';
import { spawnWorkerProcess } from '../helpers/worker-process';

/**
 * The train stage on the real single-node Slurm cluster and a real Temporal dev server. The job
 * command is a small bash "trainer" (steps, metrics, a checkpoint marker), not the real trainer.
 */
const prereqSkip = await prerequisites('temporal', 'slurm', 'slurmrestd', 'sshd');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-train-stage-'));
const home = join(tmp, 'home');
const workdir = join(tmp, 'work');
const trainer = join(tmp, 'fake-trainer.sh');
writeFileSync(
  trainer,
  `#!/bin/bash
# fake-trainer.sh CKPT_DIR METRICS INIT: FAKE_STEPS steps of a second, then a complete checkpoint.
ckpt=$1 metrics=$2 init=$3
steps=\${FAKE_STEPS:-2}
# a requeued run "resumes": two more steps
[ "\${SLURM_RESTART_COUNT:-0}" -gt 0 ] && steps=2
echo "init=$init restart=\${SLURM_RESTART_COUNT:-0}"
trap 'echo "usr2: checkpointing"; exit 0' USR2
for i in $(seq 1 "$steps"); do
  echo "step $i"
  echo "{\\"step\\":$i,\\"loss\\":$((100 - i))}" >> "$metrics"
  sleep 1
done
mkdir -p "$ckpt/step-$steps" && echo '{}' > "$ckpt/step-$steps/COMPLETE"
echo "trained"
`
);
const store = { uri: `file://${join(tmp, 'artifacts')}` };
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
let slurmWorker: { stop(): Promise<void> } | undefined;
const spawned: ChildProcess[] = [];
let manifests: Record<string, ArtifactRef>;

function config(over: Partial<TrainConfigInput> & { steps?: number } = {}): TrainConfigInput {
  const { steps, ...rest } = over;
  return {
    resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '200M', time_limit: '10:00' },
    framework: { type: 'command', command: `bash ${trainer} {ckpt_dir} {metrics} {init_model}` },
    workdir,
    env: { FAKE_STEPS: String(steps ?? 2) },
    poll: { initial_s: 0.5, max_s: 2, heartbeat_timeout_s: 10, report_every_s: 2 },
    stages: [{ name: 'mt1', data: 'mt1' }],
    ...rest,
  };
}

/** Workflow ids (and so Slurm job names) unique to this run: jobs of earlier runs stay in squeue. */
const RUN = Date.now().toString(36);

function start(name: string, cfg: TrainConfigInput): Promise<WorkflowHandle> {
  const id = `${name}-${RUN}`;
  return env.client.workflow.start('trainStageWorkflow', {
    workflowId: id,
    taskQueue: TASK_QUEUES.cpu,
    args: [{ experimentId: id, config: cfg, store, prefix: `${id}/train`, manifests }],
  });
}

/** Polls the progress query until `pred` holds. */
async function until(h: WorkflowHandle, pred: (p: TrainProgress) => boolean, what: string): Promise<TrainProgress> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = await h.query<TrainProgress>('progress').catch(() => null);
    if (p && pred(p)) return p;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}: ${JSON.stringify(p)}`);
    await sleep(250);
  }
}

const squeueByName = (name: string) =>
  execFileSync('squeue', ['-h', '-a', '-t', 'all', '-n', name, '-o', '%i|%T'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|') as [string, string]);
const stateOf = (id: string) =>
  execFileSync('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T'], { encoding: 'utf8' }).trim();

/**
 * A requeued job waits `BeginTime` (Slurm's credential lifetime, ~2 minutes) before it may start
 * again: make it eligible now. A restart within the second of the requeue would still meet the
 * revoked credential ("Job credential revoked"), so wait two seconds first.
 */
async function eligibleNow(jobId: string): Promise<void> {
  await sleep(2000);
  execFileSync('scontrol', ['update', `jobid=${jobId}`, 'StartTime=now']);
}

/** The typed ApplicationFailure under a failed workflow. */
async function failureOf(h: WorkflowHandle): Promise<ApplicationFailure> {
  const err = await h.result().then(
    () => assert.fail('workflow should fail'),
    (e: unknown) => e
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ActivityFailure, String(err.cause));
  assert.ok(err.cause.cause instanceof ApplicationFailure, String(err.cause.cause));
  return err.cause.cause;
}

describe('train stage on Slurm', { skip: prereqSkip }, () => {
  before(async () => {
    // Secrets reach the workers by environment variable names only.
    process.env.BOTTEGA_SSH_KEY ??= join(resolve(process.env.BOTTEGA_HOME ?? '.bottega'), 'sshd', 'id_ed25519');
    process.env.BOTTEGA_TEST_SLURM_JWT = execFileSync('scontrol', ['token', 'lifespan=900'], { encoding: 'utf8' })
      .trim()
      .replace(/^SLURM_JWT=/, '');
    env = await startTemporal();
    const s = new LocalArtifactStore(join(tmp, 'artifacts'));
    manifests = {
      mt1: await s.put('mix/mt1/manifest.json', '{"shards":[]}\n', { records: null }),
      sft: await s.put('mix/sft/manifest.json', '{"shards":[]}\n', { records: null }),
    };
    workers = await runWorkers(env, home, ['cpu']);
    slurmWorker = await runWorkers(env, home, ['slurm']);
  });
  after(async () => {
    for (const p of spawned) p.kill('SIGKILL');
    await slurmWorker?.stop();
    await workers?.stop();
    await env?.teardown();
  });

  it('runs the stages in order, chains checkpoints, and records outputs as artifacts', async () => {
    const h = await start(
      'train-chain',
      config({
        stages: [
          { name: 'mt1', data: 'mt1', init: '/models/base' },
          { name: 'sft', data: 'sft', init: 'previous', hparams: { epochs: 2 } },
        ],
      })
    );
    const r = TrainStageResult.parse(await h.result());
    assert.deepEqual(
      r.stages.map((s) => [s.name, s.state]),
      [
        ['mt1', 'COMPLETED'],
        ['sft', 'COMPLETED'],
      ]
    );
    const [mt1, sft] = r.stages;
    assert.equal(mt1!.final_checkpoint, join(workdir, h.workflowId, 'mt1/checkpoints/step-2'));
    assert.equal(r.final_checkpoint, join(workdir, h.workflowId, 'sft/checkpoints/step-2'));
    const inputs = (ref: ArtifactRef) => JSON.parse(readFileSync(fileURLToPath(ref.uri), 'utf8'));
    assert.equal(inputs(mt1!.artifacts.inputs).init_model, '/models/base');
    assert.equal(inputs(sft!.artifacts.inputs).init_model, mt1!.final_checkpoint);
    assert.equal(inputs(sft!.artifacts.inputs).stage.hparams.epochs, 2);
    assert.equal(inputs(sft!.artifacts.inputs).stage.hparams.lr, 1e-5);
    assert.match(readFileSync(fileURLToPath(sft!.artifacts.script.uri), 'utf8'), /#SBATCH --requeue/);
    assert.equal(mt1!.artifacts.metrics.records, 2);
    assert.deepEqual(inputs(mt1!.artifacts.checkpoints).complete, ['step-2']);
    assert.match(readFileSync(fileURLToPath(sft!.artifacts.log.uri), 'utf8'), /init=.*mt1\/checkpoints\/step-2/);
    const p = await h.query<TrainProgress>('progress');
    assert.deepEqual(
      p.stages.map((s) => [s.name, s.state, s.jobId]),
      [
        ['mt1', 'COMPLETED', mt1!.jobId],
        ['sft', 'COMPLETED', sft!.jobId],
      ]
    );
  });

  it('a workflow cancel scancels the job, which ends CANCELLED', async () => {
    const h = await start('train-cancel', config({ steps: 120 }));
    const p = await until(h, (x) => x.stages[0]!.state === 'RUNNING', 'RUNNING');
    const jobId = p.stages[0]!.jobId!;
    await h.cancel();
    await assert.rejects(
      h.result(),
      (e: unknown) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure
    );
    const deadline = Date.now() + 20_000;
    while (/RUNNING|COMPLETING/.test(stateOf(jobId)) && Date.now() < deadline) await sleep(200);
    assert.equal(stateOf(jobId), 'CANCELLED');
  });

  it('a bad command becomes a typed failure with the log tail', async () => {
    const h = await start(
      'train-badcmd',
      config({ framework: { type: 'command', command: 'no-such-trainer-xyz {stage}' } })
    );
    const f = await failureOf(h);
    assert.equal(f.type, 'SlurmJobFailed');
    assert.equal(f.nonRetryable, true);
    const d = f.details?.[0] as { state: string; logTail: string[] };
    assert.equal(d.state, 'FAILED');
    assert.ok(
      d.logTail.some((l) => /no-such-trainer-xyz: command not found/.test(l)),
      d.logTail.join('\n')
    );
  });

  it('a job over its memory becomes a typed OUT_OF_MEMORY failure with the log tail', async () => {
    const hog = 'python3 -c "import time; b=[bytearray(20<<20) for _ in range(40)]; time.sleep(5)"';
    const h = await start(
      'train-oom',
      config({
        resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '100M', time_limit: '5:00' },
        framework: { type: 'command', command: hog },
      })
    );
    const f = await failureOf(h);
    assert.equal(f.type, 'SlurmJobOutOfMemory');
    const d = f.details?.[0] as { state: string; logTail: string[] };
    assert.equal(d.state, 'OUT_OF_MEMORY');
    assert.ok(
      d.logTail.some((l) => /exceeded memory limit/i.test(l)),
      d.logTail.join('\n')
    );
  });

  it('scontrol requeue mid-run: the monitor waits through REQUEUED/PENDING and the job completes', async () => {
    // 20 steps of a second: long enough that the requeue lands mid-run even on a loaded machine.
    const h = await start('train-requeue', config({ steps: 20 }));
    const p = await until(h, (x) => x.stages[0]!.state === 'RUNNING', 'RUNNING');
    const jobId = p.stages[0]!.jobId!;
    await sleep(1500);
    execFileSync('scontrol', ['requeue', jobId]);
    // A requeued job waits ~2 minutes (BeginTime) before it is eligible: make it eligible now.
    const deadline = Date.now() + 30_000;
    while (!/PENDING/.test(stateOf(jobId))) {
      assert.ok(Date.now() < deadline, 'never went back to PENDING');
      await sleep(200);
    }
    // The monitor reports the requeued job as waiting, not finished.
    await until(h, (x) => /PENDING|REQUEUED/.test(x.stages[0]!.state), 'the monitor to see PENDING');
    await eligibleNow(jobId);
    const r = TrainStageResult.parse(await h.result());
    assert.equal(r.stages[0]!.jobId, jobId);
    assert.equal(r.stages[0]!.state, 'COMPLETED');
    const log = readFileSync(fileURLToPath(r.stages[0]!.artifacts.log.uri), 'utf8');
    assert.match(log, /restart 0/);
    assert.match(log, /restart 1/);
    assert.match(log, /DUE TO JOB REQUEUE/);
  });

  it('USR2 before the time limit: the trap forwards it, the trainer stops, the job requeues and completes', async () => {
    const h = await start('train-usr2', config({ steps: 30 }));
    const p = await until(h, (x) => x.stages[0]!.state === 'RUNNING', 'RUNNING');
    const jobId = p.stages[0]!.jobId!;
    await sleep(1500);
    // What Slurm does at `--signal=B:USR2@<lead>`: USR2 to the batch shell only.
    execFileSync('scancel', ['--signal=USR2', '--batch', jobId]);
    await until(h, (x) => /PENDING|REQUEUED/.test(x.stages[0]!.state), 'the monitor to see PENDING');
    await eligibleNow(jobId);
    const r = TrainStageResult.parse(await h.result());
    assert.equal(r.stages[0]!.state, 'COMPLETED');
    const log = readFileSync(fileURLToPath(r.stages[0]!.artifacts.log.uri), 'utf8');
    assert.match(log, /\[bottega\] USR2/);
    assert.match(log, /usr2: checkpointing/);
    assert.match(log, /requeueing job/);
    assert.match(log, /restart=1/);
  });

  it('the ssh and slurmrestd backends run the same flow', async () => {
    const ssh = {
      backend: 'ssh' as const,
      ssh: {
        host: '127.0.0.1',
        user: 'root',
        port: Number(process.env.BOTTEGA_SSHD_PORT ?? 2222),
        key_env: 'BOTTEGA_SSH_KEY',
      },
    };
    const rest = {
      backend: 'rest' as const,
      rest: { url: process.env.SLURMRESTD_URL ?? 'http://127.0.0.1:6820', token_env: 'BOTTEGA_TEST_SLURM_JWT' },
    };
    const results = await Promise.all(
      [ssh, rest].map(async (cluster) => {
        const h = await start(`train-${cluster.backend}`, config({ cluster }));
        return TrainStageResult.parse(await h.result());
      })
    );
    for (const r of results) {
      assert.equal(r.stages[0]!.state, 'COMPLETED');
      assert.equal(r.stages[0]!.artifacts.metrics.records, 2);
      assert.match(r.final_checkpoint, /checkpoints\/step-2$/);
    }
  });

  it('a worker killed while monitoring: a new one re-attaches, and squeue shows one job', async () => {
    await slurmWorker?.stop();
    slurmWorker = undefined;
    const spawnSlurm = () => spawnWorkerProcess(env, { home, capabilities: 'slurm', spawned });
    const w1 = spawnSlurm();
    const cfg = config({ steps: 16 });
    cfg.poll = { ...cfg.poll, heartbeat_timeout_s: 5 };
    const h = await start('train-worker-loss', cfg);
    const p = await until(h, (x) => x.stages[0]!.state === 'RUNNING', 'RUNNING');
    const jobId = p.stages[0]!.jobId!;
    w1.kill('SIGKILL');
    await new Promise((r) => w1.once('exit', r));
    await sleep(1000);
    assert.equal(stateOf(jobId), 'RUNNING', 'killing the worker must not touch the job');
    spawnSlurm();
    const r = TrainStageResult.parse(await h.result());
    assert.equal(r.stages[0]!.jobId, jobId);
    const jobs = squeueByName(`bottega.${h.workflowId}.mt1`);
    assert.deepEqual(jobs, [[jobId, 'COMPLETED']]);
    const history = await h.fetchHistory();
    const submits = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'submitJob'
    );
    assert.equal(submits.length, 1);
    const monitorAttempts = (history.events ?? [])
      .map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0)
      .reduce((a, b) => Math.max(a, b), 0);
    assert.ok(monitorAttempts >= 2, 'the monitor was retried on the new worker');
  });
});
