import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { MineStageResult, TASK_QUEUES, type ArtifactRef, type ExperimentResult } from '../../contracts';
import { connectClient } from '../../cli/client';
import { makeFixtureRepos, type FixtureRepo } from '../../infra/fixtures/make-repos';
import { DevServerProcess, hasExited, killProcessGroup, logTail, spawnGroup } from '../helpers/dev-server-process';
import { prerequisites } from '../helpers/prereq';
import { fileSha256, fixtureSpec } from '../helpers/stack';
import { freePort } from '../helpers/temporal';

const skip = await prerequisites('temporal');

/**
 * "A Temporal server outage mid-run loses nothing": the test's own dev server (SQLite file) is
 * SIGKILLed while a mine activity runs, kept down for a while, and started again on the same port
 * and file. The worker process rides the outage out (it keeps retrying its polls), the experiment
 * completes, and every output artifact is byte-identical to an uninterrupted reference run's.
 */
const home = mkdtempSync(join(tmpdir(), 'bottega-outage-'));
const OUTAGE_MS = 12_000;
const MINE = { page_size: 1, repo_concurrency: 1 };
/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED (@temporalio/proto is not a direct dependency). */
const PENDING_ACTIVITY_STATE_STARTED = 2;
let server: DevServerProcess;
let worker: ChildProcess | undefined;
let workerExit: string | null = null;
const connections: Connection[] = [];
let repos: FixtureRepo[];

async function connect(): Promise<Client> {
  const connection = await Connection.connect({ address: server.address });
  connections.push(connection);
  return new Client({ connection });
}

/** The bottega worker as its own process (and process group), as in production. */
function spawnWorker(): ChildProcess {
  const p = spawnGroup(process.execPath, ['--import', 'tsx', 'workers/main.ts'], join(home, 'worker.log'), {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    BOTTEGA_HOME: home,
    BOTTEGA_WORKER_CAPABILITIES: 'cpu',
    BOTTEGA_LOG_LEVEL: 'warn',
  });
  p.once('exit', (code, signal) => (workerExit = `code ${code}, signal ${signal}`));
  return p;
}

/**
 * What a workflow and its (transitive) running children are doing, read with describe (strongly
 * consistent, unlike visibility): the activity types that a worker has started, and the number
 * of activities completed so far.
 */
async function activityState(client: Client, workflowId: string): Promise<{ started: string[]; completed: number }> {
  const handle = client.workflow.getHandle(workflowId);
  const { raw } = await handle.describe();
  const started = (raw.pendingActivities ?? [])
    .filter((a) => a.state === PENDING_ACTIVITY_STATE_STARTED)
    .map((a) => a.activityType?.name ?? '?');
  const history = await handle.fetchHistory();
  let completed = (history.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes).length;
  for (const child of raw.pendingChildren ?? []) {
    if (!child.workflowId) continue;
    const sub = await activityState(client, child.workflowId);
    started.push(...sub.started);
    completed += sub.completed;
  }
  return { started, completed };
}

/** Every artifact of the mine stage's result, by name. */
function mineArtifacts(r: ExperimentResult): Record<string, ArtifactRef> {
  const artifacts = MineStageResult.parse(r.stages.mine!.result).artifacts;
  return Object.fromEntries(Object.entries(artifacts).filter((e): e is [string, ArtifactRef] => !!e[1]));
}

describe('a Temporal server outage mid-run', { skip }, () => {
  before(async () => {
    server = new DevServerProcess({
      port: await freePort(),
      dbFile: join(home, 'temporal.db'),
      logFile: join(home, 'temporal.log'),
    });
    await server.start();
    ({ repos } = await makeFixtureRepos(join(home, 'fixtures')));
    worker = spawnWorker();
  });
  after(async () => {
    for (const c of connections) await c.close().catch(() => undefined);
    await killProcessGroup(worker);
    await server?.kill();
  });

  it('loses nothing: the worker survives, the run completes with byte-identical outputs', async (t) => {
    let client = await connect();
    // Reference: an uninterrupted run.
    const ref = (await client.workflow.execute('experimentWorkflow', {
      workflowId: 'exp-outage-ref',
      taskQueue: TASK_QUEUES.cpu,
      args: [fixtureSpec('exp-outage-ref', repos, {}, MINE)],
    })) as ExperimentResult;

    // Same inputs under another id, forced past the step cache; the server dies mid-stage.
    const id = 'exp-outage';
    await client.workflow.start('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [fixtureSpec(id, repos, { force: ['mine'] }, MINE)],
    });
    const deadline = Date.now() + 60_000;
    for (let polls = 1; ; polls++) {
      const s = await activityState(client, id);
      // Some pages done and one running: the kill lands in the middle of the stage.
      if (s.completed >= 1 && s.started.includes('minePage')) {
        t.diagnostic(
          `SIGKILL after ${polls} polls: ${s.completed} activities completed, running: ${s.started.join(', ')}`
        );
        break;
      }
      assert.ok(Date.now() < deadline, `no minePage activity was seen running (${JSON.stringify(s)})`);
      await sleep(50);
    }
    await server.kill();
    const downAt = Date.now();

    // A client started during the outage fails fast, naming the address, instead of hanging.
    const t0 = Date.now();
    await assert.rejects(connectClient({ TEMPORAL_ADDRESS: server.address }), (e: Error) => {
      assert.ok(e.message.includes(`cannot reach the Temporal server at ${server.address}`), e.message);
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000, `the client took ${Date.now() - t0} ms to give up`);

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    assert.equal(workerExit, null, `the worker exited during the outage:\n${logTail(join(home, 'worker.log'))}`);
    await server.start();

    client = await connect();
    const handle = client.workflow.getHandle(id);
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the outage must land mid-run');
    const resumed = (await handle.result()) as ExperimentResult;

    assert.equal(workerExit, null, `the worker exited:\n${logTail(join(home, 'worker.log'))}`);
    assert.ok(worker && !hasExited(worker));
    const a = mineArtifacts(ref);
    const b = mineArtifacts(resumed);
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort(), 'the same artifacts');
    for (const [name, refArtifact] of Object.entries(a)) {
      assert.equal(b[name]!.sha256, refArtifact.sha256, `${name}: byte-identical after the outage`);
      assert.equal(b[name]!.records, refArtifact.records, `${name}: same record count`);
      assert.equal(fileSha256(b[name]!), b[name]!.sha256, `${name}: the bytes on disk match the result`);
    }
    assert.deepEqual(
      MineStageResult.parse(resumed.stages.mine!.result).summary,
      MineStageResult.parse(ref.stages.mine!.result).summary,
      'nothing lost or duplicated'
    );
  });
});
