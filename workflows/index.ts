// Every workflow the bottega worker serves. Explicit named re-exports: `export *` barrels can
// drop workflows from the bundle.
export { experimentWorkflow, progressQuery } from './experiment';
export { mineStageWorkflow, mineRepoWorkflow, mineProgressQuery } from './mine';
export { buildStageWorkflow, buildProgressQuery } from './build';
export { rolloutStageWorkflow, rolloutBatchWorkflow, rolloutProgressQuery } from './rollout';
export { mixStageWorkflow, mixProgressQuery } from './mix';
export { trainStageWorkflow, trainProgressQuery } from './train';
export { evaluateStageWorkflow, evaluateProgressQuery } from './evaluate';
export { sweepWorkflow, sweepProgressQuery } from './sweep';
export { stageDoneSignal } from './signals';
