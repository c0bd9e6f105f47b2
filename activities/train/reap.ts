import type { JobInfo, SlurmBackend } from './backend';
import { parseJobComment } from './sbatch';

/** Prefix of every job name bottega submits (see `jobName`). */
export const JOB_NAME_PREFIX = 'bottega.';

/** An active bottega job whose workflow is no longer running. */
export interface OrphanJob extends JobInfo {
  workflowId: string;
  stage: string;
}

/**
 * Finds orphans: active bottega jobs whose workflow is gone (terminated, or finished without
 * cleanup). `workflowRunning` asks Temporal (e.g. `describe()` status RUNNING); it is called
 * once per workflow. With `cancel`, each orphan is `scancel`ed. Jobs without a bottega comment
 * are left alone.
 */
export async function reapOrphans(
  backend: SlurmBackend,
  workflowRunning: (workflowId: string) => Promise<boolean>,
  opts: { cancel?: boolean } = {}
): Promise<OrphanJob[]> {
  const running = new Map<string, boolean>();
  const orphans: OrphanJob[] = [];
  for (const job of await backend.listActive(JOB_NAME_PREFIX)) {
    const owner = parseJobComment(job.comment);
    if (!owner) continue;
    if (!running.has(owner.workflowId)) running.set(owner.workflowId, await workflowRunning(owner.workflowId));
    if (running.get(owner.workflowId)) continue;
    orphans.push({ ...job, ...owner });
    if (opts.cancel) await backend.cancel(job.jobId);
  }
  return orphans;
}
