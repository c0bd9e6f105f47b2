import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers/cli';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { EXPERIMENT_ID_TAKEN, TASK_QUEUES, type ExperimentResult, type ExperimentSpecInput } from '../../contracts';
import { prerequisites } from '../helpers/prereq';
import { runWorkers, scheduledActivities } from '../helpers/stack';
import { listWorkflows, startTemporal } from '../helpers/temporal';

/**
 * Edges of the CLI (bin/bottega.mjs in its own process) and of experiment ids, against a private
 * Temporal dev server and an in-process cpu worker: `run --id` is checked like a spec id before
 * anything starts; `retry --wait` prints the failure cause as `run --wait` does; `cancel` cancels
 * an experiment and waits until it has closed; a workflow id whose experiment id another workflow
 * id already uses is refused before it plans a stage, so nothing lands in the owner's artifacts.
 */
const skip = await prerequisites('temporal');
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> };
let server: Server;
const sockets: Socket[] = [];
const spawned: ChildProcess[] = [];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-cli-edges-'));
const artifacts = join(home, 'artifacts');
const data = join(home, 'docs.jsonl');

/** Writes a spec file (with the test's store) under the test's home. */
function specFile(spec: ExperimentSpecInput, name = spec.id): string {
  const file = join(home, `${name}.json`);
  writeFileSync(file, JSON.stringify({ store: { uri: `file://${artifacts}` }, ...spec }));
  return file;
}

/** A spec whose only stage mixes the local documents (`seed` changes its cache key). */
const mixSpec = (id: string, seed: number): ExperimentSpecInput => ({
  id,
  store: { uri: `file://${artifacts}` },
  mix: {
    seed,
    sources: [{ name: 'docs', path: data }],
    stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'docs' }] }],
  },
});

/** The CLI in its own process, talking to this test's server; resolves when it exits. */
function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const e = { ...process.env, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', ...extraEnv };
  return spawnCli(args, e, (p) => spawned.push(p));
}

/** Every file under `dir`, relative to it (empty when it does not exist). */
const filesUnder = (dir: string): string[] => {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .sort();
  } catch {
    return [];
  }
};

describe('CLI and experiment id edges (real CLI process, real Temporal dev server)', { skip }, () => {
  before(async () => {
    env = await startTemporal();
    workers = await runWorkers(env, home, ['cpu']);
    // A "GitHub" that accepts connections and never answers: a mine stage waits until cancelled.
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const doc = (i: number) =>
      JSON.stringify({ id: `d${i}`, text: `def f${i}(x):\n    return x * ${i} + ${i * 7}\n`.repeat(20) });
    writeFileSync(data, Array.from({ length: 40 }, (_, i) => doc(i)).join('\n') + '\n');
  });
  after(async () => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const s of sockets) s.destroy();
    server?.close();
    await workers?.stop();
    await env?.teardown();
  });

  it('run --id is checked like the spec id: exit 2 in the spec errors format, nothing started', async () => {
    const file = specFile({ id: 'exp-it-good-id' });
    const r = await cli(['run', file, '--id', 'Bad ID', '--wait']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `${file}: invalid experiment spec\n--id: expected a lower-case slug like "exp-demo-1" (a-z, 0-9, . _ -); got "Bad ID"\n`
    );
    for (const id of ['Bad ID', 'bad-id', 'exp-it-good-id'])
      await assert.rejects(env.client.workflow.getHandle(id).describe(), WorkflowNotFoundError, `${id} not started`);
    // An empty --id is an invalid id too, not "no override".
    const empty = await cli(['run', file, '--id', '']);
    assert.equal(empty.code, 2, empty.stderr);
    assert.match(empty.stderr, /--id: expected a lower-case slug .*; got ""/);
  });

  it('retry --wait prints the failure cause and exit code that run --wait prints', async () => {
    const id = 'exp-it-retry-cause';
    const spec = mixSpec(id, 1);
    spec.mix!.sources[0]!.path = join(home, 'missing.jsonl');
    const run = await cli(['run', specFile(spec), '--wait']);
    assert.equal(run.code, 2, run.stderr);
    const cause = `experiment ${id} failed: mix.sources[0].path: cannot read ${join(home, 'missing.jsonl')}`;
    assert.ok(run.stderr.includes(cause), run.stderr);

    const retry = await cli(['retry', id, '--wait']);
    assert.match(retry.stderr, /reset exp-it-retry-cause to before its mix stage .*: new run \S+/);
    assert.ok(retry.stderr.includes(`${cause}\n`), retry.stderr);
    assert.doesNotMatch(retry.stderr, /Workflow execution failed/);
    assert.equal(retry.code, 2, retry.stderr);
  });

  it('cancel waits until the experiment has closed and prints its final status; unknown ids exit 2', async () => {
    const id = 'exp-it-cancel-cli';
    const port = (server.address() as { port: number }).port;
    await env.client.workflow.start('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [{ id, mine: { sources: [{ type: 'github', repo: 'acme/slow', api_url: `http://127.0.0.1:${port}` }] } }],
    });
    // Cancel once the mine stage's activity runs (it waits on the silent "GitHub").
    const repoChild = env.client.workflow.getHandle(`${id}/mine/0-acme__slow`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(Date.now() < deadline, 'the mine activity never started');
      const d = await repoChild.describe().catch(() => null);
      if (d?.raw.pendingActivities?.some((a) => a.state === 2 /* STARTED */)) break;
      await sleep(200);
    }
    const runId = (await env.client.workflow.getHandle(id).describe()).runId;
    const r = await cli(['cancel', id]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `experiment ${id}: cancelled (run ${runId})\n`);
    assert.match(r.stderr, new RegExp(`cancellation requested for experiment ${id} \\(run ${runId}\\)`));
    // Closed by the time the command returns, and its stage with it.
    assert.equal((await env.client.workflow.getHandle(id).describe()).status.name, 'CANCELLED');
    assert.equal((await env.client.workflow.getHandle(`${id}/mine`).describe()).status.name, 'CANCELLED');

    const again = await cli(['cancel', id]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `experiment ${id}: already cancelled (run ${runId}); nothing to cancel\n`);

    const unknown = await cli(['cancel', 'no-such-experiment']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no experiment with id "no-such-experiment" in namespace default at 127\.0\.0\.1:\d+/);
    const stage = await cli(['cancel', `${id}/mine`]);
    assert.equal(stage.code, 2);
    assert.match(stage.stderr, /is a mineStageWorkflow, not an experiment: cancel its experiment instead/);

    const done = 'exp-it-cancel-done';
    await env.client.workflow.execute('experimentWorkflow', {
      workflowId: done,
      taskQueue: TASK_QUEUES.cpu,
      args: [{ id: done }],
    });
    const late = await cli(['cancel', done]);
    assert.equal(late.code, 1, 'a completed experiment was not cancelled');
    assert.match(late.stdout, /experiment exp-it-cancel-done: already completed \(run \S+\); nothing to cancel/);
  });

  it('a workflow id whose experiment id another workflow id uses is refused before planning a stage', async () => {
    const owner = 'EXP-It-Owner';
    const id = 'exp-it-owner';
    const first = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: owner,
      taskQueue: TASK_QUEUES.cpu,
      args: [mixSpec('from-the-ui', 1)],
    })) as ExperimentResult;
    assert.equal(first.experimentId, id, 'the experiment id is the workflow id as a slug');
    const ownerFiles = filesUnder(join(artifacts, 'experiments', id));
    assert.ok(
      ownerFiles.some((f) => f.startsWith('mix/')),
      ownerFiles.join('\n')
    );

    // `bottega run` under that experiment id (another mix seed: other artifacts, if it ran).
    const r = await cli(['run', specFile(mixSpec(id, 2)), '--wait']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `experiment ${id} failed: experiment id "${id}" of workflow "${id}" is already used by workflow "${owner}" \\(run \\S+, completed\\).*Start this run under another id`
      )
    );
    const refused = await env.client.workflow.getHandle(id).fetchHistory();
    assert.deepEqual(scheduledActivities(refused), ['experimentIdHolder'], 'no stage planned');
    assert.deepEqual(filesUnder(join(artifacts, 'experiments', id)), ownerFiles, "the owner's artifacts only");

    // Another spelling of the same id, started as the Web UI would: refused too.
    const h = await env.client.workflow.start('experimentWorkflow', {
      workflowId: 'Exp It Owner',
      taskQueue: TASK_QUEUES.cpu,
      args: [mixSpec('from-the-ui', 3)],
    });
    await assert.rejects(h.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const af = e.cause;
      assert.ok(af instanceof ApplicationFailure && af.type === EXPERIMENT_ID_TAKEN, String(af));
      assert.match(af.message, /already used by workflow "EXP-It-Owner"/);
      return true;
    });

    // The refused runs do not hold the id: the owner runs again under it (from the step cache).
    let holders: string[] = [];
    for (let i = 0; i < 60; i++) {
      holders = (await listWorkflows(env.client, `WorkflowType = 'experimentWorkflow' AND ExperimentId = '${id}'`)).map(
        (w) => w.workflowId
      );
      if (holders.length === 1) break;
      await sleep(500);
    }
    assert.deepEqual(holders, [owner], 'refused runs drop their ExperimentId');
    const again = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: owner,
      taskQueue: TASK_QUEUES.cpu,
      args: [mixSpec('from-the-ui', 1)],
    })) as ExperimentResult;
    assert.equal(again.stages.mix?.status, 'cached');
  });
});
