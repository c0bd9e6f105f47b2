/**
 * The log of the Temporal server a benchmark uses, for checks that read what the server itself
 * reported (the sweep bench's history-limit warnings). Which file that is:
 *
 * 1. the bench's own dev server (bench/dev-server.ts): its stdout and stderr;
 * 2. `--server-log FILE`: a file the caller names for an external server;
 * 3. the server `infra/dev.sh` runs (`$BOTTEGA_HOME/logs/temporal.log`), but only when that server
 *    is alive and listening on the address the bench uses.
 *
 * Anything else throws: a check that silently reads nothing would report "no warnings" for any run.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where a server's log is, and why the bench believes it is that server's. */
export interface ServerLog {
  file: string;
  /** How it was found, for the report. */
  origin: string;
}

/** Temporal's history limit lines, e.g. `msg="history size exceeds warn limit."` (also `count`, and error limits). */
export const HISTORY_WARNING_RE = /(history (size|count) exceeds|exceeds.*(warn|error) limit)/i;

/** Options of {@link locateServerLog}. */
export interface LocateServerLogOptions {
  /** `host:port` the bench's clients and worker connect to. */
  address: string;
  /** `--server-log`, when given. */
  serverLog?: string;
  /** BOTTEGA_HOME of `infra/dev.sh` (its run/ and logs/ folders). */
  home: string;
  /** The dev.sh server's port when its command line cannot be read (BOTTEGA_TEMPORAL_PORT, default 7233). */
  devPort?: number;
}

/**
 * The log of the server at `address` (cases 2 and 3 above).
 * @throws naming the address and how to fix it (`--server-log FILE` or `--own-server`) when no log is found.
 */
export function locateServerLog(opts: LocateServerLogOptions): ServerLog {
  const fix =
    'pass --server-log FILE (where that server writes its output, at log level warn or lower) ' +
    'or --own-server (the bench starts a dev server and reads its output)';
  if (opts.serverLog !== undefined) {
    if (!existsSync(opts.serverLog) || !statSync(opts.serverLog).isFile())
      throw new Error(`--server-log ${opts.serverLog}: no such file; ${fix}`);
    return { file: opts.serverLog, origin: '--server-log' };
  }
  const file = join(opts.home, 'logs', 'temporal.log');
  const pidFile = join(opts.home, 'run', 'temporal.pid');
  const why = devServerMismatch(opts.address, pidFile, opts.devPort ?? 7233);
  if (why !== null) throw new Error(`cannot find the log of the Temporal server at ${opts.address}: ${why}; ${fix}`);
  if (!existsSync(file))
    throw new Error(`cannot find the log of the Temporal server at ${opts.address}: ${file} is missing; ${fix}`);
  return { file, origin: `infra/dev.sh (${pidFile})` };
}

/** Null when the dev.sh server (pid file) is alive and serves `address`, else the reason it is not. */
function devServerMismatch(address: string, pidFile: string, devPort: number): string | null {
  const [host, portText] = splitAddress(address);
  if (!['127.0.0.1', 'localhost', '::1', '0.0.0.0'].includes(host))
    return `${address} is not on this machine, so infra/dev.sh's log does not belong to it`;
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 0);
  } catch {
    return `no infra/dev.sh Temporal server is running (${pidFile})`;
  }
  let port = devPort;
  try {
    // The running process's own `--port` beats the environment's idea of it.
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = args.indexOf('--port');
    if (i >= 0 && args[i + 1]) port = Number(args[i + 1]);
  } catch {
    // no /proc: keep devPort
  }
  return String(port) === portText ? null : `infra/dev.sh's server listens on port ${port}, not ${portText}`;
}

function splitAddress(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return i < 0 ? [address, ''] : [address.slice(0, i).replace(/^\[|\]$/g, ''), address.slice(i + 1)];
}

/** The log's size now: pass it to {@link historyWarnings} to read only what the run adds. */
export function logOffset(log: ServerLog): number {
  return statSync(log.file).size;
}

/**
 * History-limit warning lines written to the log since `offset`.
 * @throws when the log has disappeared (it would otherwise read as "no warnings").
 */
export function historyWarnings(log: ServerLog, offset: number): string[] {
  if (!existsSync(log.file)) throw new Error(`the Temporal server log ${log.file} disappeared during the run`);
  const buf = readFileSync(log.file);
  // A log rotated or truncated during the run is read whole.
  const from = buf.length >= offset ? offset : 0;
  return buf
    .toString('utf8', from)
    .split('\n')
    .filter((l) => HISTORY_WARNING_RE.test(l));
}
