import { resolve } from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { SlurmClusterConfig, type ExperimentSpec } from '../contracts';
import { createBackend } from '../activities/train/backends';
import { reapOrphans, type OrphanJob } from '../activities/train/reap';

/** Whether the workflow that owns a job still runs (a missing workflow counts as gone). */
async function running(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return false;
    throw e;
  }
}

/**
 * `bottega slurm reap`: lists (and with `cancel`, scancels) active bottega jobs whose workflow is
 * no longer running, e.g. after a workflow was terminated from the UI, which runs no cleanup.
 * The cluster comes from a spec's `train.cluster`, else the local CLI backend.
 */
export async function slurmReap(
  client: Client,
  spec: ExperimentSpec | null,
  opts: { cancel: boolean },
  out: (line: string) => void
): Promise<OrphanJob[]> {
  const cluster = spec?.train?.cluster ?? SlurmClusterConfig.parse({});
  const home = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
  const backend = createBackend(cluster, process.env, home);
  const orphans = await reapOrphans(backend, (id) => running(client, id), { cancel: opts.cancel });
  if (orphans.length === 0) out('no orphaned bottega jobs');
  for (const o of orphans)
    out(
      `${opts.cancel ? 'cancelled' : 'orphan'} job ${o.jobId} ${o.state.padEnd(10)} stage ${o.stage} of workflow ${o.workflowId}`
    );
  if (orphans.length > 0 && !opts.cancel) out('run again with --cancel to scancel them');
  return orphans;
}
