import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_DECLS } from '../../contracts';
import { temporalCliPath } from './temporal';

/** `KEYWORD` → `Keyword`: the spelling `temporal server start-dev --search-attribute` takes. */
const cliType = (t: string) => t[0] + t.slice(1).toLowerCase();

/**
 * Spawns `file args` as the leader of a new process group with stdout and stderr appended to
 * `logFile`, so {@link killProcessGroup} takes it and anything it started down together.
 */
export function spawnGroup(file: string, args: string[], logFile: string, env = process.env): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
}

/** Whether `p` has exited (or been killed) already. */
export const hasExited = (p: ChildProcess): boolean => p.exitCode !== null || p.signalCode !== null;

/** SIGKILLs the process group `p` leads and waits for `p` to exit; a no-op when it is gone. */
export async function killProcessGroup(p: ChildProcess | null | undefined): Promise<void> {
  if (!p?.pid || hasExited(p)) return;
  const exited = new Promise((r) => p.once('exit', r));
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    return; // the group is already gone
  }
  await exited;
}

/** The last `n` lines of a log file without colour codes, for failure messages ('' when unreadable). */
export function logTail(file: string, n = 20): string {
  try {
    return stripVTControlCharacters(readFileSync(file, 'utf8')).trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** Where a {@link DevServerProcess} listens and keeps its state. */
export interface DevServerOptions {
  /** gRPC port on 127.0.0.1 (e.g. from `freePort()`); the same on every start. */
  port: number;
  /** SQLite file of the server's state; kept across kill and restart. */
  dbFile: string;
  /** stdout and stderr of every start are appended here. */
  logFile: string;
}

/**
 * A real Temporal dev server (`temporal server start-dev`, headless, with bottega's search
 * attributes) as a child process the test owns, unlike `startTemporal()`'s: it can be SIGKILLed
 * and started again on the same port and SQLite file, which is what a server crash and restart
 * look like to clients and workers.
 */
export class DevServerProcess {
  /** `127.0.0.1:<port>`, for TEMPORAL_ADDRESS and `Connection.connect`. */
  readonly address: string;
  private proc: ChildProcess | null = null;

  constructor(readonly options: DevServerOptions) {
    this.address = `127.0.0.1:${options.port}`;
  }

  /** Whether the server process is up (started and not exited). */
  get running(): boolean {
    return !!this.proc && !hasExited(this.proc);
  }

  /**
   * Starts the server and resolves once it answers with the `default` namespace and bottega's
   * search attributes registered. Throws with the log's tail when it exits or is not ready within
   * `timeoutMs`.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`the Temporal dev server at ${this.address} is already running`);
    const cli = temporalCliPath();
    if (!cli) throw new Error('Temporal CLI not found: run `bash infra/dev.sh up temporal` or set TEMPORAL_CLI_PATH');
    const sa = Object.entries(SEARCH_ATTRIBUTE_DECLS).flatMap(([k, t]) => ['--search-attribute', `${k}=${cliType(t)}`]);
    const { port, dbFile, logFile } = this.options;
    this.proc = spawnGroup(
      cli,
      [
        ...['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port)],
        ...['--db-filename', dbFile, '--log-level', 'warn', ...sa],
      ],
      logFile
    );
    const deadline = Date.now() + timeoutMs;
    let lastError = 'no attempt yet';
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(
          `the Temporal dev server exited during startup (${this.options.logFile}):\n${logTail(logFile)}`
        );
      try {
        await this.ready();
        return;
      } catch (e) {
        lastError = (e as Error).message;
      }
      await sleep(250);
    }
    await this.kill();
    throw new Error(
      `the Temporal dev server at ${this.address} was not ready within ${timeoutMs} ms (${lastError}):\n${logTail(logFile)}`
    );
  }

  /** Throws unless the server answers with the default namespace and bottega's search attributes. */
  private async ready(): Promise<void> {
    const connection = await Connection.connect({ address: this.address, connectTimeout: '2 seconds' });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      const missing = Object.keys(SEARCH_ATTRIBUTE_DECLS).filter((k) => !customAttributes?.[k]);
      if (missing.length) throw new Error(`search attributes not registered yet: ${missing.join(', ')}`);
    } finally {
      await connection.close();
    }
  }

  /** SIGKILLs the server (no graceful shutdown, like a crash or an OOM kill) and waits for its exit. */
  async kill(): Promise<void> {
    await killProcessGroup(this.proc);
  }
}
