/** Standalone SWE-bench-style evaluation: read predictions and tasks, grade, cache, report. */
export * from './input-problems';
export * from './predictions';
export * from './tasks';
export * from './grade-cache';
export * from './grade-one';
export * from './reports';
export * from './grade-predictions';
