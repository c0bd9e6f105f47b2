import { rootLogger } from '../activities/logger';
import { connectAttemptsFromEnv, connectWithRetry } from './connect';
import { createWorkers, parseCapabilities } from './worker';

/**
 * Worker entrypoint. Environment: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE,
 * BOTTEGA_WORKER_CAPABILITIES (default "cpu"; e.g. "cpu,docker,slurm"), BOTTEGA_HOME,
 * BOTTEGA_WORKER_CONNECT_ATTEMPTS (default: keep retrying while the server is unreachable).
 */
export async function runWorker(capList = process.env.BOTTEGA_WORKER_CAPABILITIES): Promise<void> {
  const capabilities = parseCapabilities(capList);
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  // A worker started before its server waits for it (BOTTEGA_WORKER_CONNECT_ATTEMPTS caps the attempts).
  const connection = await connectWithRetry({ address, log: rootLogger, maxAttempts: connectAttemptsFromEnv() });
  try {
    const workers = await createWorkers({
      connection,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      capabilities,
    });
    rootLogger.info({ address, capabilities }, 'bottega worker running');
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await connection.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker().catch((err) => {
    rootLogger.error({ err }, 'worker failed');
    process.exit(1);
  });
}
