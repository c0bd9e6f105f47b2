import { defineSignal } from '@temporalio/workflow';
import type { StageDoneSignal } from '../contracts';

/** Sent by an arm experiment to its sweep when one of its stages has a result (ran or cached). */
export const stageDoneSignal = defineSignal<[StageDoneSignal]>('stageDone');

/**
 * Patch id of the visibility and sweep additions to `experimentWorkflow` (search attributes
 * BaseModel / DatasetVersion / EvalScore, the sweep's stageDone signal). Experiments that started
 * before them replay without them. See the README's "Changing workflow code" guide.
 */
export const VISIBILITY_PATCH = 'visibility-and-sweeps-v1';

/**
 * The experiment id of a workflow whose id differs from the spec's (a schedule appends the start
 * time; the Web UI lets a user pick any id): the workflow id as a slug, so each run has its own
 * child workflows.
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
