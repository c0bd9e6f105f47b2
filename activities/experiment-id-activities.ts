import { Context } from '@temporalio/activity';
import { SA, slugId } from '../contracts';
import { loggerFor } from './logger';

/** Another workflow that runs, or ran, under the experiment id a new run asks for. */
export interface ExperimentIdHolder {
  workflowId: string;
  runId: string;
  /** Lower-case execution status, as `bottega ls` prints it. */
  status: string;
}

/**
 * Creates the activity that finds who holds an experiment id. It reads visibility through the
 * worker's Temporal client, so it sees every experiment of the namespace, whatever its store.
 */
export function createExperimentIdActivities() {
  return {
    /**
     * An experiment workflow whose id is not `workflowId` but whose experiment id is `experimentId`
     * (its ExperimentId search attribute, checked against its workflow id: a scheduled run starts
     * with the spec's id there and sets its own slug a moment later); null when there is none.
     * Runs of `workflowId` itself (reruns, resets) never count.
     */
    async experimentIdHolder(input: { experimentId: string; workflowId: string }): Promise<ExperimentIdHolder | null> {
      const client = Context.current().client;
      // Experiment ids are slugs ([a-z0-9._-]): nothing in them needs escaping in the query.
      const query = `WorkflowType = 'experimentWorkflow' AND ${SA.ExperimentId.name} = '${input.experimentId}'`;
      let holder: ExperimentIdHolder | null = null;
      for await (const w of client.workflow.list({ query })) {
        if (w.workflowId === input.workflowId) continue;
        if (slugId(w.workflowId, 100) !== input.experimentId) continue;
        holder = { workflowId: w.workflowId, runId: w.runId, status: w.status.name.toLowerCase() };
        break;
      }
      loggerFor({ experimentId: input.experimentId, activity: 'experimentIdHolder' }).info(
        { workflowId: input.workflowId, holder },
        holder ? 'experiment id already used by another workflow id' : 'experiment id free'
      );
      return holder;
    },
  };
}
