/** ApplicationFailure type of an experiment refused because its experiment id belongs to another workflow id. */
export const EXPERIMENT_ID_TAKEN = 'ExperimentIdTaken';

/**
 * The experiment id of a workflow whose id differs from the spec's (a schedule appends the start
 * time; the Web UI lets a user pick any id): the workflow id as a slug, so each run has its own
 * child workflows. Not injective ("Exp A" and "exp-a" both give "exp-a"): `experimentWorkflow`
 * refuses to run under an experiment id that another workflow id already uses.
 */
export function slugId(workflowId: string, max: number): string {
  return (
    workflowId
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, max) || 'x'
  );
}
