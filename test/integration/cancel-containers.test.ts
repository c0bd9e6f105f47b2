import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { StoreConfig, TASK_QUEUES } from '../../contracts';
import { openStore } from '../../activities/store/artifact-store';
import { makeBuildFixtures, writeTasksFile, type BuildFixtures } from '../../infra/fixtures/make-build-repos';
import { createWorkers } from '../../workers/worker';
import { dockerOrSkip, fixtureBuild } from '../helpers/docker';
import { scheduledActivities } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';
import { spawnWorkerProcess } from '../helpers/worker-process';

/**
 * Cancellation reaches the containers (real Temporal, real Docker): cancelling an experiment while
 * a build validation run, a rollout or an evaluation's grading run hangs kills and removes every
 * container the activity started, within seconds and before the cancellation is reported, and no
 * container starts afterwards. A worker shutdown (in-process `shutdown()`, SIGTERM to a worker
 * process) ends within its grace period plus the seconds the cleanup takes, its containers removed.
 *
 * The task is the fixture `acme__calc-4`, whose test sleeps an hour. Containers carry the label
 * `bottega.experiment`; every id here is unique, so other runs on the same engine do not interfere.
 */
const probe = await dockerOrSkip('temporal');
// The base image, its rootfs cache and the wheelhouse are shared with the other Docker tests.
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-cancel-containers-'));
const RUN = randomBytes(3).toString('hex');
/** The workers' shutdownGraceTime (workers/worker.ts). */
const GRACE_MS = 10_000;
/** Cancellation reaches an activity with its next heartbeat (every 5 s), then the cleanup runs. */
const REMOVED_WITHIN_MS = 15_000;

let env: TestWorkflowEnvironment;
let docker: Docker;
let fx: BuildFixtures;
let cpu: { worker: Worker; running: Promise<void> } | undefined;
let dock: { worker: Worker; running: Promise<void> } | undefined;
const spawned: ChildProcess[] = [];
const started: string[] = [];
/** The instance image of acme__calc-4, seen on the build test's validation container. */
let image: { tag: string; id: string } | undefined;

async function startWorker(capability: 'cpu' | 'docker'): Promise<{ worker: Worker; running: Promise<void> }> {
  const [worker] = await createWorkers({
    connection: env.nativeConnection,
    capabilities: [capability],
    env: { ...process.env, BOTTEGA_HOME },
  });
  return { worker: worker!, running: worker!.run() };
}

/** Every container (running or not) labelled with experiment `id`. */
function containersOf(id: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`bottega.experiment=${id}`] } });
}

/**
 * Waits for a running container of experiment `id` and `bottega.kind` `kind`; `gone()` names a
 * reason to stop waiting early (the workflow ended, a worker process died).
 */
async function runningContainer(
  id: string,
  kind: string,
  timeoutMs: number,
  gone: () => Promise<string | null> | string | null = () => null
): Promise<Docker.ContainerInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await containersOf(id)).find((c) => c.State === 'running' && c.Labels['bottega.kind'] === kind);
    if (found) return found;
    const why = await gone();
    assert.equal(why, null, `no running ${kind} container of ${id}: ${why}`);
    assert.ok(Date.now() < deadline, `no running ${kind} container of ${id} within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Container `start` events of experiment `id` from now on, with their time (ms). */
async function watchStarts(id: string): Promise<{ times: number[]; stop(): void }> {
  const times: number[] = [];
  const stream = (await docker.getEvents({
    filters: { type: ['container'], event: ['start'], label: [`bottega.experiment=${id}`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      times.push(Number((JSON.parse(line) as { timeNano: number }).timeNano) / 1e6);
    }
  });
  return { times, stop: () => stream.destroy() };
}

/** A `gone` check for {@link runningContainer}: the workflow is no longer running. */
function workflowEnded(handle: WorkflowHandle): () => Promise<string | null> {
  return async () => {
    const d = await handle.describe();
    if (d.status.name === 'RUNNING') return null;
    const failure = await handle.result().then(
      () => 'completed',
      (e: unknown) => {
        const chain: string[] = [];
        for (let c = e as Error | undefined; c; c = c.cause as Error | undefined) chain.push(c.message);
        return chain.join(' ← ');
      }
    );
    return `the workflow ended (${d.status.name}): ${failure}`;
  };
}

/** Waits until experiment `id` has no container left; returns how long that took from `since`. */
async function allRemoved(id: string, since: number, timeoutMs: number): Promise<number> {
  for (;;) {
    const left = await containersOf(id);
    if (left.length === 0) return Date.now() - since;
    assert.ok(
      Date.now() - since < timeoutMs,
      `containers of ${id} still there ${timeoutMs} ms after the cancel: ${left.map((c) => `${c.Labels['bottega.kind']} ${c.State}`).join(', ')}`
    );
    await sleep(200);
  }
}

/**
 * Cancels `handle` and checks the guarantees: the workflow ends cancelled with the containers of
 * experiment `id` already gone, they went within {@link REMOVED_WITHIN_MS}, and none starts afterwards.
 */
async function cancelAndCheck(id: string, handle: WorkflowHandle): Promise<void> {
  const starts = await watchStarts(id);
  try {
    const cancelAt = Date.now();
    await handle.cancel();
    const removedAfter = allRemoved(id, cancelAt, REMOVED_WITHIN_MS);
    removedAfter.catch(() => {}); // awaited below, unless an earlier check failed
    await assert.rejects(
      handle.result(),
      (e: unknown) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure
    );
    // The activity reports its cancellation only once its containers are removed.
    assert.deepEqual(
      (await containersOf(id)).map((c) => c.Labels['bottega.kind']),
      [],
      'no container left when the cancellation completes'
    );
    assert.ok((await removedAfter) < REMOVED_WITHIN_MS);
    // Nothing picks up where the cancelled activity stopped.
    await sleep(4000);
    assert.deepEqual(await containersOf(id), [], 'no container appears after the cancel');
    assert.deepEqual(
      starts.times.filter((t) => t >= cancelAt),
      [],
      'no container started after the cancel'
    );
  } finally {
    starts.stop();
  }
}

/** A build-only experiment over acme__calc-4 whose validation run hangs for 10 minutes. */
async function startBuild(id: string): Promise<WorkflowHandle> {
  const tasksFile = join(tmp, 'tasks.hang.jsonl');
  writeTasksFile(tasksFile, fx.tasks, ['acme__calc-4']);
  started.push(id);
  return env.client.workflow.start('experimentWorkflow', {
    workflowId: id,
    taskQueue: TASK_QUEUES.cpu,
    args: [
      {
        id,
        store: { uri: `file://${join(tmp, 'artifacts')}` },
        build: fixtureBuild(tasksFile, fx.repos, BOTTEGA_HOME, {
          validation_runs: 2,
          test_timeout_s: 600,
          concurrency: 1,
        }),
      },
    ],
  });
}

/** acme__calc-4 as a validated record with its image; replay-gold's test run (test_hangs) hangs. */
function hangingTaskLine(): string {
  assert.ok(image, 'the build test found the instance image');
  const t = fx.tasks.find((x) => x.instance_id === 'acme__calc-4')!;
  const { expected: _expected, ...record } = t;
  return `${JSON.stringify({
    ...record,
    FAIL_TO_PASS: ['tests/test_ops.py::test_hangs'],
    PASS_TO_PASS: [],
    image,
    test_scope: 'files',
  })}\n`;
}

/** The rollout stage (replay-gold) over the hanging task, started on its own as `<id>/rollout`. */
async function startRollout(id: string, commandTimeoutS: number): Promise<WorkflowHandle> {
  const store = StoreConfig.parse({ uri: `file://${join(tmp, 'artifacts')}` });
  const prefix = `experiments/${id}/rollout`;
  const tasks = await openStore(store).put(`${prefix}/input.tasks.jsonl`, hangingTaskLine());
  const wid = `${id}/rollout`;
  started.push(wid);
  return env.client.workflow.start('rolloutStageWorkflow', {
    workflowId: wid,
    taskQueue: TASK_QUEUES.cpu,
    args: [
      {
        experimentId: id,
        config: {
          policy: 'replay-gold',
          rollouts_per_task: 1,
          limits: { command_timeout_s: commandTimeoutS, wall_clock_s: 1200 },
        },
        store,
        prefix,
        tasks,
      },
    ],
  });
}

describe('cancel stops containers (real Docker, real Temporal)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  before(async () => {
    if ('skip' in probe) return;
    docker = probe.docker;
    env = await startTemporal();
    fx = await makeBuildFixtures(join(tmp, 'fixtures'));
    cpu = await startWorker('cpu');
    dock = await startWorker('docker');
  });
  after(async () => {
    for (const id of started)
      await env?.client.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => {});
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    dock?.worker.shutdown();
    await dock?.running;
    cpu?.worker.shutdown();
    await cpu?.running;
    await env?.teardown();
    // Leave nothing behind even when an assertion failed.
    for (const id of started)
      for (const c of await containersOf(id).catch(() => []))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
  });

  it('build validation: the hanging test container is removed and no next run starts', async () => {
    const id = `exp-cc-build-${RUN}`;
    const handle = await startBuild(id);
    // The first time on a machine, the environment and instance images are built first.
    const c = await runningContainer(id, 'run', 300_000, workflowEnded(handle));
    image = { tag: c.Image, id: c.ImageID };
    await sleep(1000);
    await cancelAndCheck(id, handle);
    // The activity saw the cancellation and threw it, rather than finishing the task normally.
    const history = await env.client.workflow.getHandle(`${id}/build`).fetchHistory();
    assert.ok(
      (history.events ?? []).some((e) => e.activityTaskCanceledEventAttributes),
      'buildTask recorded ActivityTaskCanceled'
    );
    assert.deepEqual(scheduledActivities(history), ['prepareBuild', 'buildTask'], 'the stage went no further');
  });

  it('rollout: the agent container is removed mid-command and grading never starts', async () => {
    const id = `exp-cc-rollout-${RUN}`;
    const handle = await startRollout(id, 600);
    await runningContainer(id, 'rollout', 60_000, workflowEnded(handle));
    // replay-gold views the files, applies test_patch and runs the hanging test within a few seconds.
    await sleep(3000);
    await cancelAndCheck(id, handle);
  });

  it('rollout grading: the grading container is removed', async () => {
    const id = `exp-cc-grade-${RUN}`;
    // The agent's test runs time out after 2 s; grading (5 × that) hangs on test_hangs.
    const handle = await startRollout(id, 2);
    await runningContainer(id, 'run', 60_000, workflowEnded(handle));
    await sleep(1000);
    await cancelAndCheck(id, handle);
  });

  it('evaluate: the grading container is removed and the run ends cancelled', async () => {
    const id = `exp-cc-eval-${RUN}`;
    const tasksFile = join(tmp, 'eval.tasks.jsonl');
    writeFileSync(tasksFile, hangingTaskLine());
    started.push(id);
    const handle = await env.client.workflow.start('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          id,
          store: { uri: `file://${join(tmp, 'artifacts')}` },
          // The agent's test runs time out after 2 s; grading (5 × that) hangs on test_hangs.
          evaluate: { policy: 'replay-gold', runs: 1, tasks: { path: tasksFile }, limits: { command_timeout_s: 2 } },
        },
      ],
    });
    await runningContainer(id, 'run', 90_000, workflowEnded(handle));
    await sleep(1000);
    await cancelAndCheck(id, handle);
  });

  it('worker shutdown and SIGTERM end within the grace period, their containers removed', async () => {
    const id = `exp-cc-shutdown-${RUN}`;
    const handle = await startBuild(id);
    await runningContainer(id, 'run', 120_000, workflowEnded(handle));
    const t0 = Date.now();
    dock!.worker.shutdown();
    await dock!.running;
    const shutdownMs = Date.now() - t0;
    dock = undefined;
    assert.ok(shutdownMs < GRACE_MS + 5000, `worker.shutdown() took ${shutdownMs} ms`);
    assert.deepEqual(await containersOf(id), [], 'the shut-down worker left no container');

    // The task failed with WORKER_SHUTDOWN and is retried: by a worker process this time.
    const p = spawnWorkerProcess(env, { home: BOTTEGA_HOME, capabilities: 'docker', spawned });
    const exited = new Promise<void>((ok) => p.once('exit', () => ok()));
    await runningContainer(id, 'run', 120_000, () =>
      p.exitCode !== null || p.signalCode !== null ? `the worker process exited (${p.exitCode ?? p.signalCode})` : null
    );
    const t1 = Date.now();
    p.kill('SIGTERM');
    const ended = await Promise.race([exited.then(() => true), sleep(GRACE_MS + 20_000).then(() => false)]);
    const sigtermMs = Date.now() - t1;
    assert.ok(ended, `the worker process was still alive ${sigtermMs} ms after SIGTERM`);
    assert.ok(sigtermMs < GRACE_MS + 5000, `the worker process took ${sigtermMs} ms to exit after SIGTERM`);
    assert.deepEqual(await containersOf(id), [], 'the worker process left no container');
  });
});
