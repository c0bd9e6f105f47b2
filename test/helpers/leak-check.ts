/**
 * Where a secret could end up after a run, collected for secret-redaction tests: a worker process's
 * whole output (pino lines on stdout, the Temporal SDK's on stderr), the CLI's output, every
 * workflow history of an experiment, and every file under a directory (artifacts, stage logs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { spawnCli } from './cli';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';

/** A bottega worker (workers/main.ts) in its own process with its output captured. */
export interface LoggedWorker {
  process: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after 20 s). */
  stop(): Promise<void>;
  /**
   * `work`, or a rejection with the worker's output if the worker exits first (a worker that dies
   * at start would otherwise leave the test waiting for the experiment until its time limit).
   */
  whileRunning<T>(work: Promise<T>): Promise<T>;
}

/** Starts `workers/main.ts` against `address` with `env` added to this process's environment. */
export function spawnLoggedWorker(
  address: string,
  opts: { home: string; capabilities: string; env: Record<string, string> }
): LoggedWorker {
  const p = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    env: {
      ...process.env,
      ...opts.env,
      TEMPORAL_ADDRESS: address,
      BOTTEGA_HOME: opts.home,
      BOTTEGA_WORKER_CAPABILITIES: opts.capabilities,
      BOTTEGA_LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  let stopping = false;
  return {
    process: p,
    output: () => out,
    whileRunning: (work) =>
      Promise.race([
        work,
        exited.then(() => {
          if (stopping) return new Promise<never>(() => undefined);
          throw new Error(
            `the worker exited (${p.exitCode ?? p.signalCode}) before the run ended:\n${out.slice(-6000)}`
          );
        }),
      ]),
    async stop() {
      stopping = true;
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs the real CLI (bin/bottega.mjs) to its end; `env` replaces this process's environment. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const r = await spawnCli(args, env);
  return { code: r.code, output: r.stdout + r.stderr };
}

/**
 * Every history of experiment `id` as JSON text: the experiment's and those of all its children
 * (`<id>/<stage>`, `<id>/<stage>/...`), every run of each. Visibility lags, so the listing is
 * polled (about 30 s at most) until it shows at least `children` runs. Also returns the ids read.
 */
export async function experimentHistories(
  client: Client,
  id: string,
  children: number
): Promise<{ text: string; ids: string[] }> {
  let runs: { workflowId: string; runId: string }[] = [];
  for (let i = 0; i < 60 && runs.length < children; i++) {
    if (i) await new Promise((r) => setTimeout(r, 500));
    runs = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "${id}/"` }))
      runs.push({ workflowId: wf.workflowId, runId: wf.runId });
  }
  let text = JSON.stringify(await client.workflow.getHandle(id).fetchHistory());
  for (const r of runs) text += JSON.stringify(await client.workflow.getHandle(r.workflowId, r.runId).fetchHistory());
  return { text, ids: [id, ...runs.map((r) => r.workflowId)] };
}

/** Every file under `dir` (recursively) as UTF-8 text, each prefixed by its path; '' when absent. */
export function textUnder(dir: string): string {
  let st;
  try {
    st = statSync(dir);
  } catch {
    return '';
  }
  if (!st.isDirectory()) return `== ${dir}\n${readFileSync(dir, 'utf8')}\n`;
  return readdirSync(dir)
    .map((f) => textUnder(join(dir, f)))
    .join('');
}
