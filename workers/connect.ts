import { setTimeout as sleep } from 'node:timers/promises';
import { NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';

/** Environment variable that caps the connection attempts of a starting worker (unset: no cap). */
export const CONNECT_ATTEMPTS_ENV = 'BOTTEGA_WORKER_CONNECT_ATTEMPTS';

/** Options of {@link connectWithRetry}. */
export interface ConnectRetryOptions {
  /** host:port of the Temporal frontend. */
  address: string;
  log: Logger;
  /** Give up after this many attempts; undefined: keep trying. */
  maxAttempts?: number;
  /** Wait after the first failed attempt; doubled after each further one. Default 1 s. */
  initialDelayMs?: number;
  /** Longest wait between attempts. Default 30 s. */
  maxDelayMs?: number;
}

/**
 * The attempt cap from {@link CONNECT_ATTEMPTS_ENV}: a whole number >= 1, or undefined (keep
 * trying) when unset or empty. Anything else throws, naming the variable.
 */
export function connectAttemptsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[CONNECT_ATTEMPTS_ENV]?.trim();
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(
      `${CONNECT_ATTEMPTS_ENV}: expected a whole number of attempts >= 1 (or unset to keep retrying), got ${JSON.stringify(raw)}`
    );
  return n;
}

/**
 * Connects to the Temporal server, retrying with exponential backoff (jittered by up to ±20 %)
 * while it cannot be reached, so that a worker started before the server (a reboot, a compose
 * file, a server upgrade) waits for it instead of exiting. Each failed attempt is logged at warn
 * with the address, the error and the delay before the next one. Throws once `maxAttempts`
 * attempts have failed.
 */
export async function connectWithRetry(opts: ConnectRetryOptions): Promise<NativeConnection> {
  const initial = opts.initialDelayMs ?? 1000;
  const max = opts.maxDelayMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await NativeConnection.connect({ address: opts.address });
      if (attempt > 1) opts.log.info({ address: opts.address, attempt }, `connected to ${opts.address}`);
      return connection;
    } catch (e) {
      const error = (e as Error).message;
      if (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts)
        throw new Error(
          `cannot reach the Temporal server at ${opts.address} after ${attempt} attempt(s) (${error}); ` +
            `start it (bottega dev up temporal), check TEMPORAL_ADDRESS, or unset ${CONNECT_ATTEMPTS_ENV} to keep retrying`
        );
      const base = Math.min(max, initial * 2 ** (attempt - 1));
      const delayMs = Math.round(base * (0.8 + 0.4 * Math.random()));
      opts.log.warn(
        { address: opts.address, attempt, nextDelayMs: delayMs, error },
        `cannot reach the Temporal server at ${opts.address} (attempt ${attempt}); retrying in ${(delayMs / 1000).toFixed(1)} s`
      );
      await sleep(delayMs);
    }
  }
}
