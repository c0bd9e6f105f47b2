/**
 * Workers for `npm run bench -- dag`: a cpu and a docker worker, each in its own process as
 * deployed (`bottega worker --capabilities cpu` / `--capabilities docker`), or both in the bench's
 * process; and the check that no one else's worker polls bottega's task queues on the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { TASK_QUEUES } from '../contracts';
import { createWorkers } from '../workers/worker';
import { timestampMs } from './dag-timeline';

/** Longest a live poller goes unseen: a long poll lasts about a minute. */
const POLL_S = 75;

/** Running bench workers. */
export interface BenchWorkers {
  /** Stops them and waits until they have exited. */
  stop(): Promise<void>;
}

/** A poller of one of bottega's cpu and docker task queues. */
interface Poller {
  identity: string;
  queue: string;
}

/** Whether process `pid` runs on this host. */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Pollers of bottega's cpu and docker task queues (workflow and activity tasks) that may still be
 * alive. The server lists a poller for minutes after its worker stopped; one is left out when it
 * was last seen longer ago than a long poll lasts, or when its identity (the SDK's `pid@host`)
 * names this host and a process that no longer runs (an earlier bench run's workers).
 */
export async function livePollers(client: Client): Promise<Poller[]> {
  const out = new Map<string, Poller>();
  const now = Date.now();
  for (const queue of [TASK_QUEUES.cpu, TASK_QUEUES.docker])
    for (const taskQueueType of [1, 2]) {
      const r = await client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: queue },
        taskQueueType,
      });
      for (const p of r.pollers ?? []) {
        const identity = p.identity ?? '?';
        const seen = p.lastAccessTime ? timestampMs(p.lastAccessTime) : now;
        const [pid, host] = identity.split('@');
        if (now - seen > POLL_S * 1000 || (host === hostname() && pid && !processRuns(Number(pid)))) continue;
        out.set(`${identity} ${queue}`, { identity, queue });
      }
    }
  return [...out.values()];
}

/** Sends `signal` to the worker process and waits for it to exit (SIGKILL after 60 s). */
async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((done) => p.once('exit', () => done()));
  p.kill('SIGTERM');
  const killer = setTimeout(() => p.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(killer);
}

/**
 * A cpu and a docker worker in two processes (`workers/main.ts`, logging at warn), resolved once
 * both poll their task queue on the server `client` talks to.
 * @throws when one exits, or does not poll within 90 s (both are stopped first)
 */
async function spawnWorkers(client: Client, address: string, home: string): Promise<BenchWorkers> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const procs = (['cpu', 'docker'] as const).map((cap) => ({
    cap,
    proc: spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: address,
        BOTTEGA_HOME: home,
        BOTTEGA_WORKER_CAPABILITIES: cap,
        BOTTEGA_LOG_LEVEL: process.env.BOTTEGA_LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  }));
  const stop = async () => void (await Promise.all(procs.map((p) => stopProcess(p.proc))));
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const dead = procs.find((p) => p.proc.exitCode !== null || p.proc.signalCode !== null);
      if (dead) throw new Error(`the ${dead.cap} worker exited (${dead.proc.exitCode ?? dead.proc.signalCode})`);
      const polling = await livePollers(client);
      const ready = procs.every((p) =>
        polling.some((q) => q.queue === TASK_QUEUES[p.cap] && q.identity.startsWith(`${p.proc.pid}@`))
      );
      if (ready) return { stop };
      if (Date.now() > deadline) throw new Error('the cpu and docker worker processes did not poll within 90 s');
      await sleep(250);
    }
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Both workers in this process, on one event loop. */
async function inProcessWorkers(address: string, home: string): Promise<BenchWorkers> {
  const native = await NativeConnection.connect({ address });
  const workers = await createWorkers({
    connection: native,
    capabilities: ['cpu', 'docker'],
    env: { ...process.env, BOTTEGA_HOME: home },
  });
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    async stop() {
      for (const w of workers) w.shutdown();
      await running;
      await native.close();
    },
  };
}

/**
 * Starts the bench's cpu and docker workers against the server at `address`, with BOTTEGA_HOME
 * `home`: two processes, or with `inProcess` both in this one.
 */
export function startBenchWorkers(
  client: Client,
  address: string,
  home: string,
  inProcess: boolean
): Promise<BenchWorkers> {
  return inProcess ? inProcessWorkers(address, home) : spawnWorkers(client, address, home);
}
