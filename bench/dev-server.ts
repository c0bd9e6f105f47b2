/**
 * A Temporal dev server a benchmark starts for itself (`--own-server`): headless, on a free port,
 * SQLite under the bench's temp folder, bottega's search attributes registered, log level warn,
 * stdout and stderr in `logFile`, which is what the bench's server-log checks then read.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_DECLS } from '../contracts';
import { hasExited, killProcessGroup, logTail, spawnGroup } from '../test/helpers/dev-server-process';
import { freePort, temporalCliPath } from '../test/helpers/temporal';
import type { ServerLog } from './server-log';

/** A running bench-owned dev server. */
export interface BenchDevServer {
  address: string;
  log: ServerLog;
  /** Kills the server and everything it started. */
  stop(): Promise<void>;
}

/**
 * Starts the server and resolves once it answers with bottega's search attributes.
 * @param dir folder for its database and `temporal.log`
 * @param extraArgs more `temporal server start-dev` arguments (e.g. `--dynamic-config-value k=v`)
 * @throws with the log's tail when the CLI is missing, the server exits, or it is not ready in 60 s
 */
export async function startBenchDevServer(dir: string, extraArgs: string[] = []): Promise<BenchDevServer> {
  const cli = temporalCliPath();
  if (!cli) throw new Error('Temporal CLI not found: run `bash infra/dev.sh up temporal` or set TEMPORAL_CLI_PATH');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const logFile = join(dir, 'temporal.log');
  const sa = Object.entries(SEARCH_ATTRIBUTE_DECLS).flatMap(([k, t]) => [
    '--search-attribute',
    `${k}=${t[0] + t.slice(1).toLowerCase()}`,
  ]);
  const proc: ChildProcess = spawnGroup(
    cli,
    [
      ...['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port)],
      ...['--db-filename', join(dir, 'temporal.db'), '--log-level', 'warn', ...sa, ...extraArgs],
    ],
    logFile
  );
  const stop = () => killProcessGroup(proc);
  const deadline = Date.now() + 60_000;
  let lastError = 'no attempt yet';
  while (Date.now() < deadline) {
    if (hasExited(proc))
      throw new Error(`the bench's Temporal dev server exited at start (${logFile}):\n${logTail(logFile)}`);
    try {
      const c = await Connection.connect({ address, connectTimeout: '2 seconds' });
      try {
        const { customAttributes } = await c.operatorService.listSearchAttributes({ namespace: 'default' });
        const missing = Object.keys(SEARCH_ATTRIBUTE_DECLS).filter((k) => !customAttributes?.[k]);
        if (missing.length === 0)
          return { address, log: { file: logFile, origin: "the bench's own dev server" }, stop };
        lastError = `search attributes not registered yet: ${missing.join(', ')}`;
      } finally {
        await c.close();
      }
    } catch (e) {
      lastError = (e as Error).message;
    }
    await sleep(250);
  }
  await stop();
  throw new Error(
    `the bench's Temporal dev server at ${address} was not ready in 60 s (${lastError}):\n${logTail(logFile)}`
  );
}
