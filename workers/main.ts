import { NativeConnection } from '@temporalio/worker';
import { rootLogger } from '../activities/logger';
import { createWorkers, parseCapabilities } from './worker';

/**
 * Worker entrypoint. Environment: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE,
 * BOTTEGA_WORKER_CAPABILITIES (default "cpu"; e.g. "cpu,docker,slurm"), BOTTEGA_HOME.
 */
export async function runWorker(capList = process.env.BOTTEGA_WORKER_CAPABILITIES): Promise<void> {
  const capabilities = parseCapabilities(capList);
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const connection = await NativeConnection.connect({ address });
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
