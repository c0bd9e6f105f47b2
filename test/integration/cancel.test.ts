import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { TASK_QUEUES } from '../../contracts';
import { startTemporal } from '../helpers/temporal';
import { cpuWorker } from '../helpers/stack';

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let server: Server;
const sockets: Socket[] = [];
const home = mkdtempSync(join(tmpdir(), 'bottega-cancel-'));

describe('cancelling an experiment', () => {
  before(async () => {
    env = await startTemporal();
    worker = await cpuWorker(env, home);
    running = worker.run();
    // A "GitHub" that accepts connections and never answers: the mine activity waits forever.
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    server?.close();
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('cancels the stage child, the repository child and the running activity', async () => {
    const port = (server.address() as { port: number }).port;
    const spec = {
      id: 'exp-cancel',
      mine: { sources: [{ type: 'github', repo: 'acme/slow', api_url: `http://127.0.0.1:${port}` }] },
    };
    const handle = await env.client.workflow.start('experimentWorkflow', {
      workflowId: spec.id,
      taskQueue: TASK_QUEUES.cpu,
      args: [spec],
    });
    const repoChild = env.client.workflow.getHandle('exp-cancel/mine/0-acme__slow');
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(Date.now() < deadline, 'the mine activity never started');
      const d = await repoChild.describe().catch(() => null);
      if (d && d.raw.pendingActivities?.some((a) => a.state === 2 /* STARTED */)) break;
      await sleep(200);
    }
    await handle.cancel();
    await assert.rejects(
      handle.result(),
      (e: unknown) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure
    );
    const stage = await env.client.workflow.getHandle('exp-cancel/mine').describe();
    assert.equal(stage.status.name, 'CANCELLED');
    const repo = await repoChild.describe();
    assert.equal(repo.status.name, 'CANCELLED');
    // The activity saw the cancellation (through its heartbeat) rather than being abandoned.
    const history = await repoChild.fetchHistory();
    assert.ok(
      (history.events ?? []).some((e) => e.activityTaskCanceledEventAttributes),
      'ActivityTaskCanceled recorded'
    );
  });
});
