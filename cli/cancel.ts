import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporalSettings } from './client';
import { watchWorkers } from './worker-check';

/**
 * Exit codes of `bottega cancel`: 0 the experiment closed as cancelled (or, with `--no-wait`, the
 * cancellation was requested); 1 it closed otherwise (it completed, failed, was terminated or timed
 * out before the cancellation took effect, or had already); 2 no experiment has that id;
 * 3 the Temporal server is unreachable.
 */
export const CANCEL_EXIT = { cancelled: 0, notCancelled: 1, unknown: 2, unavailable: 3 } as const;

/** Options of {@link cancelExperiment}. */
export interface CancelOptions {
  /** Wait until the experiment has closed and print its final status (the CLI's default). */
  wait: boolean;
  out: (s: string) => void;
  err: (s: string) => void;
}

/**
 * `bottega cancel ID`: requests cancellation of the experiment's open run. The experiment cancels
 * its running stage, which cancels that stage's activities (and their containers and jobs). With
 * `wait`, follows the run until it has closed and prints its final status on stdout. Returns the
 * exit code ({@link CANCEL_EXIT}).
 */
export async function cancelExperiment(client: Client, id: string, opts: CancelOptions): Promise<number> {
  let d;
  try {
    d = await client.workflow.getHandle(id).describe();
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) throw e;
    const t = temporalSettings();
    opts.err(
      `no experiment with id ${JSON.stringify(id)} in namespace ${t.namespace} at ${t.address}: check the id with \`bottega ls\` (or set TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE)`
    );
    return CANCEL_EXIT.unknown;
  }
  if (d.type !== 'experimentWorkflow') {
    const parent = id.includes('/') ? `: cancel its experiment instead (bottega cancel ${id.split('/')[0]})` : '';
    opts.err(`${id} is a ${d.type}, not an experiment${parent}`);
    return CANCEL_EXIT.unknown;
  }
  const status = (name: string) => name.toLowerCase();
  if (d.status.name !== 'RUNNING') {
    opts.out(`experiment ${id}: already ${status(d.status.name)} (run ${d.runId}); nothing to cancel`);
    return d.status.name === 'CANCELLED' ? CANCEL_EXIT.cancelled : CANCEL_EXIT.notCancelled;
  }
  const handle = client.workflow.getHandle(id, d.runId);
  await handle.cancel();
  opts.err(`cancellation requested for experiment ${id} (run ${d.runId})`);
  if (!opts.wait) {
    opts.out(`experiment ${id}: cancellation requested (run ${d.runId})`);
    return CANCEL_EXIT.cancelled;
  }
  opts.err(
    'waiting for it to close: its running stage stops its activities first (Ctrl-C stops waiting; the cancellation stands)'
  );
  // The cancellation is carried out by the workflow code: nothing happens without a cpu worker.
  const watch = watchWorkers(client, () => ({ cpu: ['workflows'] }), { err: opts.err, remind: true });
  let final;
  try {
    await handle.result().catch(() => undefined);
    final = await handle.describe();
  } finally {
    watch.stop();
  }
  opts.out(`experiment ${id}: ${status(final.status.name)} (run ${d.runId})`);
  return final.status.name === 'CANCELLED' ? CANCEL_EXIT.cancelled : CANCEL_EXIT.notCancelled;
}
