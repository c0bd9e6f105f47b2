/** The zod schemas every part of bottega shares. Each schema has a same-named inferred type. */
export * from './artifact';
export * from './mine';
export * from './pr';
export * from './results';
export * from './spec';
export * from './store';
export * from './validation';
export * from './temporal';
export * from './failures';
export * from './task';
export * from './build';
export * from './grading';
export * from './rollout';
export * from './trajectory';
export * from './train';
export * from './mix';
export * from './evaluate';
