import { spawn, type ChildProcess } from 'node:child_process';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

/**
 * A bottega worker in its own process, as in production, so a test can SIGKILL it. Every process
 * started is kept in `spawned` for the test's cleanup.
 */
export function spawnWorkerProcess(
  env: TestWorkflowEnvironment,
  opts: { home: string; capabilities?: string; spawned: ChildProcess[] }
): ChildProcess {
  const p = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      BOTTEGA_HOME: opts.home,
      BOTTEGA_WORKER_CAPABILITIES: opts.capabilities ?? 'cpu',
      BOTTEGA_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  opts.spawned.push(p);
  return p;
}

/** Activities completed so far in one workflow's history (0 while it does not exist yet). */
export async function completedActivities(env: TestWorkflowEnvironment, workflowId: string): Promise<number> {
  try {
    const h = await env.client.workflow.getHandle(workflowId).fetchHistory();
    return (h.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes).length;
  } catch {
    return 0;
  }
}
