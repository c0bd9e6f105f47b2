import type { LogVerdict, RunLog, TestStatusMap } from '../../contracts/grading';
import type { LogParserName } from '../../contracts/task';
import {
  APPLY_PATCH_FAIL,
  END_TEST_OUTPUT,
  START_TEST_OUTPUT,
  TEST_EXIT_CODE,
  TEST_PATCH_APPLY_FAIL,
} from './eval-script';
import { parseTestLog } from './parsers/index';
import { isFail, logLines } from './parsers/common';

export { matchTest } from './match-test';

/** Signs that the runner ran but selected nothing. */
const NOTHING_COLLECTED =
  /\bcollected 0 items\b|\/ 0 selected\b|\bno tests ran\b|^Ran 0 tests\b|^\s*0 passing\b|\bExecuted 0 of\b|\bNo tests found\b|<testsuite\b[^>]*\btests="0"/im;
/** Signs that the runner ran some tests (pytest, unittest, mocha, karma, JUnit). */
const SUITE_RAN =
  /\bcollected [1-9]\d* items?\b|^Ran [1-9]\d* tests?\b|\b[1-9]\d* (?:passed|failed|passing|failing)\b|\bExecuted [1-9]\d* of\b|\bTests run: [1-9]\d*|<testcase\b/im;

function hasLine(lines: string[], marker: string): boolean {
  return lines.some((l) => l.trim() === marker);
}

/**
 * The test command's output: the lines between the first {@link START_TEST_OUTPUT} and the last
 * {@link END_TEST_OUTPUT} (markers must fill their line, so an echoed command cannot fake them), or
 * the whole output when there is no start marker.
 */
export function testSection(output: string): string {
  const lines = logLines(output);
  const start = lines.findIndex((l) => l.trim() === START_TEST_OUTPUT);
  if (start < 0) return lines.join('\n');
  let end = lines.length;
  for (let i = lines.length - 1; i > start; i--) {
    if (lines[i]!.trim() === END_TEST_OUTPUT) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}

/** The last `>>>>> Test Exit Code: N` in the output (the real one follows anything the tests printed). */
export function testExitCode(output: string): number | null {
  const lines = logLines(output);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^>>>>> Test Exit Code: (-?\d+)\s*$/.exec(lines[i]!);
    if (m && lines[i]!.startsWith(TEST_EXIT_CODE)) return Number(m[1]);
  }
  return null;
}

/**
 * Decides whether a test run's log can be graded (SWE-bench 5.0 hardening) and parses it. Invalid,
 * in order: the agent's patch did not apply (`patch_apply_failed`), the test patch did not apply
 * (`test_patch_apply_failed`), the run timed out (`tests_timed_out`); an empty status map with
 * signs that nothing was selected (`no_tests_collected`), an import failure (`missing_module`) or no
 * sign the suite ran (`no_tests_ran`); a non-zero test exit code (the marker's, else the run's) with
 * no FAILED/ERROR entry (`exit_code_mismatch`: forged PASSED lines, crashed runner). An empty map
 * from a suite that visibly ran is valid: every task test is then missing, hence failing.
 */
export function judgeLog(parser: LogParserName, log: RunLog): LogVerdict {
  const section = testSection(log.output);
  const statuses: TestStatusMap = parseTestLog(parser, section);
  const lines = logLines(log.output);
  const invalid = (reason: string): LogVerdict => ({ valid: false, reason, statuses });
  if (hasLine(lines, APPLY_PATCH_FAIL)) return invalid('patch_apply_failed');
  if (hasLine(lines, TEST_PATCH_APPLY_FAIL)) return invalid('test_patch_apply_failed');
  if (log.timedOut) return invalid('tests_timed_out');
  const ids = Object.keys(statuses);
  if (ids.length === 0) {
    if (NOTHING_COLLECTED.test(section)) return invalid('no_tests_collected');
    if (!SUITE_RAN.test(section)) {
      return invalid(
        /ModuleNotFoundError: No module named|ImportError/.test(section) ? 'missing_module' : 'no_tests_ran'
      );
    }
  }
  const code = testExitCode(log.output) ?? log.exitCode;
  if (code !== null && code !== 0 && !ids.some((id) => isFail(statuses[id]))) return invalid('exit_code_mismatch');
  return { valid: true, reason: null, statuses };
}
