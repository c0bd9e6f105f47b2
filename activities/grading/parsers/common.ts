import type { TestStatus, TestStatusMap } from '../../../contracts/grading';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;

/** Removes ANSI colour and cursor escapes. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Splits a log into lines without ANSI escapes or carriage returns. */
export function logLines(log: string): string[] {
  return stripAnsi(log)
    .split('\n')
    .map((l) => l.replace(/\r$/, ''));
}

/** True for outcomes SWE-bench counts as a pass: PASSED and XFAIL. */
export function isPass(status: TestStatus | undefined): boolean {
  return status === 'PASSED' || status === 'XFAIL';
}

/** True for FAILED and ERROR. */
export function isFail(status: TestStatus | undefined): boolean {
  return status === 'FAILED' || status === 'ERROR';
}

/**
 * Records a status; a FAILED/ERROR already recorded is never overwritten by a better one (a test
 * that passed its call and then errored in teardown is reported twice, and the failure wins).
 */
export function record(map: TestStatusMap, id: string, status: TestStatus): void {
  if (!id) return;
  if (isFail(map[id]) && !isFail(status)) return;
  map[id] = status;
}
