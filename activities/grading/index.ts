/** The grading core: log parsers, eval/apply scripts, log verdicts, task derivation and grading. */
export * from './derive';
export * from './eval-script';
export * from './grade';
export * from './infra-labels';
export * from './match-test';
export * from './parsers/index';
export { judgeLog, testExitCode, testSection } from './verdict';
export { runTaskTests, type TestRunOptions, type TestRunTask, type TestRunTimings } from './run-tests';
