import { join, resolve } from 'node:path';
import { TASK_QUEUES, type Capability } from '../contracts';
import { temporalSettings } from './client';

/** Workers running inside the CLI's process (`bottega run --local-worker`). */
export interface LocalWorkers {
  capabilities: Capability[];
  /** Where the workers' log lines go (stdout and stderr stay the CLI's). */
  logFile: string;
  /** Rejects when the workers stop before {@link LocalWorkers.stop} (e.g. a failed poll); never resolves. */
  readonly stopped: Promise<never>;
  /** Shuts the workers down (letting running activities finish their step) and closes their connection. */
  stop(): Promise<void>;
}

/**
 * Starts one worker per capability in this process, as `bottega worker` would, for a quick try
 * without a separate worker. Their log lines (pino and the Temporal runtime's) go to
 * `$BOTTEGA_HOME/logs/local-worker.log`, so the CLI's own output stays readable. Call it before
 * anything imports activities/logger.ts (it reads BOTTEGA_LOG_FILE once).
 */
export async function startLocalWorkers(
  capabilities: Capability[],
  env: NodeJS.ProcessEnv = process.env
): Promise<LocalWorkers> {
  const home = resolve(env.BOTTEGA_HOME ?? '.bottega');
  const logFile = env.BOTTEGA_LOG_FILE ?? join(home, 'logs', 'local-worker.log');
  process.env.BOTTEGA_LOG_FILE = logFile;
  const { rootLogger } = await import('../activities/logger');
  const { DefaultLogger, NativeConnection, Runtime } = await import('@temporalio/worker');
  try {
    Runtime.install({
      // The runtime's lines (worker state, core warnings) into the same file, at warn and above.
      logger: new DefaultLogger('WARN', ({ level, message, meta }) => {
        const method = level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
        rootLogger[method]({ sdk: true, ...meta }, message);
      }),
      // The CLI handles Ctrl-C itself: it stops these workers and says what keeps running.
      shutdownSignals: [],
    });
  } catch {
    // Already installed in this process (a test): use it as it is.
  }
  const { createWorkers } = await import('../workers/worker');
  const t = temporalSettings(env);
  const connection = await NativeConnection.connect({ address: t.address });
  let workers;
  try {
    workers = await createWorkers({ connection, namespace: t.namespace, capabilities, env });
  } catch (e) {
    await connection.close();
    throw e;
  }
  let stopping = false;
  const running = Promise.all(workers.map((w) => w.run()));
  const stopped = running.then(
    () => {
      if (!stopping) throw new Error('the local worker stopped');
      return new Promise<never>(() => undefined);
    },
    (e: unknown) => {
      if (!stopping) throw new Error(`the local worker failed: ${(e as Error).message}`);
      return new Promise<never>(() => undefined);
    }
  );
  // Observed only when raced against the experiment; never an unhandled rejection.
  stopped.catch(() => undefined);
  rootLogger.info({ queues: capabilities.map((c) => TASK_QUEUES[c]) }, 'local workers running in the CLI process');
  return {
    capabilities,
    logFile,
    stopped,
    async stop() {
      stopping = true;
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running.catch(() => undefined);
      await connection.close();
    },
  };
}
