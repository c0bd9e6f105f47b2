/** The evaluate stage's activities: serving a checkpoint on Slurm, and recording and summarising runs. */
export * from './serve';
export * from './serve-script';
export * from './stage-activities';
export * from './stage-summary';
export * from './stats';
