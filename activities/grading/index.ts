/**
 * The grading core: log parsers (swebench 5.0.2's, ported exactly, and bottega's strict readings),
 * eval/apply scripts, the official verdict, the strict check, task derivation.
 */
export * from './derive';
export * from './eval-script';
export * from './grade';
export * from './infra-labels';
export * from './match-test';
export * from './official';
export * from './parsers/index';
export { strictCheck } from './strict';
export { judgeLog, testExitCode, testSection } from './verdict';
export * from './test-directives';
export { runTaskTests, taskRunOptions, type TestRunOptions, type TestRunTask, type TestRunTimings } from './run-tests';
