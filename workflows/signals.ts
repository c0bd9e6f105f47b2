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

// Moved to contracts (activities use it too); re-exported for the workflows that import it here.
export { slugId } from '../contracts/experiment-id';

/**
 * Patch id of the experiment id check in `experimentWorkflow` (an experiment id another workflow
 * id already uses is refused). Experiments that started before it replay without the check.
 */
export const EXPERIMENT_ID_PATCH = 'experiment-id-owner-v1';

/**
 * Patch id of the experiment as a DAG (`experimentWorkflow` starts each stage when the stages it
 * reads from are done, keys each stage on its own inputs only; `sweepWorkflow` signs stages the
 * same way). Experiments and sweeps that started before it replay the chain.
 */
export const EXPERIMENT_DAG_PATCH = 'experiment-dag-v1';
