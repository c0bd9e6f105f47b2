import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { TASK_QUEUES, type ExperimentResult } from '../../contracts';
import { freePort, startTemporal } from '../helpers/temporal';

/**
 * A worker process (workers/main.ts, as `npm run worker` starts it) whose Temporal server is not
 * up yet: it retries the connection with backoff, logging each attempt with the address and the
 * next delay, and once a real dev server starts on that port it connects and runs a workflow.
 * With BOTTEGA_WORKER_CONNECT_ATTEMPTS it gives up after that many attempts, saying why.
 */
const home = mkdtempSync(join(tmpdir(), 'bottega-it-worker-connect-'));
const spawned: ChildProcess[] = [];
let env: TestWorkflowEnvironment | undefined;

/** A worker process pointed at `address`; its stdout (pino JSON lines) collected. */
function worker(address: string, extra: NodeJS.ProcessEnv = {}) {
  const p = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      BOTTEGA_HOME: home,
      BOTTEGA_WORKER_CAPABILITIES: 'cpu',
      BOTTEGA_LOG_LEVEL: 'info',
      BOTTEGA_WORKER_CONNECT_ATTEMPTS: '',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(p);
  const out = { stdout: '', stderr: '' };
  p.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exit = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const lines = () =>
    out.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { p, out, exit, lines };
}

/** Resolves once `check()` holds, or rejects after `ms` with `what()`. */
async function until(check: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms:\n${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a worker started before its Temporal server (real worker process, real dev server)', () => {
  after(async () => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await env?.teardown();
  });

  it('retries with backoff, logging the address and the next delay, then connects and runs a workflow', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const w = worker(address);
    const retries = () => w.lines().filter((l) => typeof l.nextDelayMs === 'number');
    await until(
      () => retries().length >= 2,
      20_000,
      () => w.out.stdout + w.out.stderr
    );
    assert.equal(w.p.exitCode, null, 'the worker keeps trying instead of exiting');
    const [first, second] = retries();
    for (const [i, r] of [first!, second!].entries()) {
      assert.equal(r.address, address);
      assert.equal(r.attempt, i + 1);
      assert.equal(r.level, 40, 'warn');
      assert.match(
        String(r.msg),
        new RegExp(`cannot reach the Temporal server at ${address} .*retrying in \\d+\\.\\d s`)
      );
    }
    // Backoff: the second wait is about twice the first (each jittered by at most 20 %).
    assert.ok((second!.nextDelayMs as number) > (first!.nextDelayMs as number), JSON.stringify([first, second]));

    env = await startTemporal({ port });
    await until(
      () => w.lines().some((l) => l.msg === 'bottega worker running'),
      60_000,
      () => w.out.stdout + w.out.stderr
    );
    assert.ok(w.lines().some((l) => l.msg === `connected to ${address}`));
    const result = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: 'exp-it-late-server',
      taskQueue: TASK_QUEUES.cpu,
      args: [{ id: 'exp-it-late-server' }],
      workflowExecutionTimeout: '60 seconds',
    })) as ExperimentResult;
    assert.equal(result.experimentId, 'exp-it-late-server');
  });

  it('BOTTEGA_WORKER_CONNECT_ATTEMPTS caps the attempts: the worker exits 1 naming the address and the variable', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const w = worker(address, { BOTTEGA_WORKER_CONNECT_ATTEMPTS: '2' });
    assert.equal(await w.exit, 1, w.out.stderr);
    const failed = w.lines().find((l) => l.msg === 'worker failed');
    assert.match(
      JSON.stringify(failed),
      new RegExp(
        `cannot reach the Temporal server at ${address} after 2 attempt\\(s\\).*BOTTEGA_WORKER_CONNECT_ATTEMPTS`
      )
    );
    assert.equal(w.lines().filter((l) => typeof l.nextDelayMs === 'number').length, 1, 'one wait between two attempts');

    const bad = worker(address, { BOTTEGA_WORKER_CONNECT_ATTEMPTS: 'often' });
    assert.equal(await bad.exit, 1);
    assert.match(bad.out.stdout, /BOTTEGA_WORKER_CONNECT_ATTEMPTS: expected a whole number of attempts >= 1/);
  });
});
