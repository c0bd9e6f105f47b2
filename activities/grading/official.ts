/**
 * swebench 5.0.2's grading (`harness/grading.py`), ported exactly: `get_logs_eval` (log slicing,
 * the "found" checks), `_resolve_case`, `get_eval_tests_report` and `get_resolution_status`.
 */
import type { RunLog, TestOutcomes } from '../../contracts/grading';
import type { LogParserName } from '../../contracts/task';
import { APPLY_PATCH_FAIL, END_TEST_OUTPUT, START_TEST_OUTPUT, TEST_PATCH_APPLY_FAIL } from './eval-script';
import type { TestStatusMap } from '../../contracts/grading';
import { type OfficialStatusMap, knownStatuses, parseOfficialLog } from './parsers/index';
import { PY_WS, PythonParserError, universalNewlines } from './parsers/python-text';

/** swebench's other "bad code" markers; bottega's scripts never print them, test output might. */
const RESET_FAILED = '>>>>> Reset Failed';
const TESTS_ERROR = '>>>>> Tests Errored';
const TESTS_TIMEOUT = '>>>>> Tests Timed Out';
const BAD_CODES: [string, string][] = [
  [APPLY_PATCH_FAIL, 'patch_apply_failed'],
  [RESET_FAILED, 'reset_failed'],
  [TESTS_ERROR, 'tests_errored'],
  [TESTS_TIMEOUT, 'tests_timed_out'],
];

/** grading.py's `SUITE_RAN` (re.M; `\d` is any Unicode digit). It knows no pytest or unittest count. */
const BOL = '(?<=^|\\n)';
const SUITE_RAN = new RegExp(
  [
    String.raw`Executed [1-9]\p{Nd}* of \p{Nd}+`,
    String.raw`TOTAL: [1-9]\p{Nd}* (?:SUCCESS|FAILED)`,
    String.raw`[1-9]\p{Nd}* passing`,
    `Tests:${PY_WS}+[1-9]\\p{Nd}*`,
    String.raw`Test Suites:${PY_WS}+(?:\p{Nd}+ [\p{L}\p{N}_]+, )*[1-9]\p{Nd}* total`,
    String.raw`${BOL}# tests [1-9]\p{Nd}*`,
    String.raw`[1-9]\p{Nd}* specs?, \p{Nd}+ failures?`,
    String.raw`': ok(?=\n|$)`,
  ].join('|'),
  'u'
);
/** `>>>>> Test Exit Code:\s*(-?\d+)`, first match in the log. */
const EXIT_CODE = new RegExp(`>>>>> Test Exit Code:${PY_WS}*(-?\\p{Nd}+)`, 'u');
const ND = /\p{Nd}/u;

/** Python's `int()` of `-?\\d+`: any Unicode decimal digit (Nd digits come in runs of ten from 0). */
function pyInt(s: string): number {
  let n = 0;
  for (const ch of s.replace(/^-/, '')) {
    let cp = ch.codePointAt(0)!;
    const at = cp;
    while (ND.test(String.fromCodePoint(cp - 1))) cp--;
    n = n * 10 + ((at - cp) % 10);
  }
  return s.startsWith('-') ? -n : n;
}

/** The first recorded test exit status (`parse_test_exit_code`), or null. Test output can forge it. */
export function officialExitCode(content: string): number | null {
  const m = EXIT_CODE.exec(content);
  return m ? pyInt(m[1]!) : null;
}

/** What `get_logs_eval` decided, with the map its parser produced either way. */
export interface OfficialLogEval {
  /** `get_logs_eval`'s status map: empty when not found. */
  statuses: OfficialStatusMap;
  /** `get_logs_eval`'s second value: the log is graded. */
  found: boolean;
  /**
   * Why not found: `patch_apply_failed`, `reset_failed`, `tests_errored`, `tests_timed_out` (a
   * marker, or the run timed out: the official harness then writes no report), `test_patch_apply_failed`
   * or `no_test_output` (no start/end markers), `no_tests_ran` (nothing parsed, no `SUITE_RAN`),
   * `exit_code_mismatch` (non-zero exit, no FAILED/ERROR), `parser_crashed` (the Python parser raises).
   */
  reason: string | null;
  /** The parser's map on the test section (whole-log fallback), also for a log then rejected. */
  parsed: OfficialStatusMap;
}

const notFound = (reason: string, parsed: OfficialStatusMap = {}): OfficialLogEval => ({
  statuses: {},
  found: false,
  reason,
  parsed,
});

/**
 * The test section as `get_logs_eval` slices it: after the first {@link START_TEST_OUTPUT} (up to a
 * second one), before the next {@link END_TEST_OUTPUT}; plain substrings, so an echoed marker counts.
 * Null without both markers.
 */
export function officialSection(content: string): string | null {
  if (!(content.includes(START_TEST_OUTPUT) && content.includes(END_TEST_OUTPUT))) return null;
  return content.split(START_TEST_OUTPUT)[1]!.split(END_TEST_OUTPUT)[0]!;
}

/** The parser's map of the section, else of the whole log (`get_logs_eval`'s fallback). */
function parseSection(parser: LogParserName, content: string, section: string): OfficialStatusMap {
  const sm = parseOfficialLog(parser, section);
  return Object.keys(sm).length ? sm : parseOfficialLog(parser, content);
}

/**
 * `get_logs_eval` on a bottega run log. The log is read as Python reads the file (universal
 * newlines). Not found, in order: a bad-code marker anywhere; no start/end markers; nothing parsed
 * and no `SUITE_RAN` evidence; a first exit-code line that is non-zero while the map has no
 * FAILED/ERROR. A run that timed out is not found either (the official harness raises instead of
 * grading it).
 */
export function officialLogsEval(parser: LogParserName, log: RunLog): OfficialLogEval {
  const content = universalNewlines(log.output);
  const bad = BAD_CODES.find(([code]) => content.includes(code));
  if (bad) return notFound(bad[1]);
  const section = officialSection(content);
  if (section === null) {
    if (log.timedOut) return notFound('tests_timed_out');
    return notFound(content.includes(TEST_PATCH_APPLY_FAIL) ? 'test_patch_apply_failed' : 'no_test_output');
  }
  let sm: OfficialStatusMap;
  try {
    sm = parseSection(parser, content, section);
  } catch (e) {
    if (e instanceof PythonParserError) return notFound('parser_crashed');
    throw e;
  }
  if (log.timedOut) return notFound('tests_timed_out', sm);
  const empty = Object.keys(sm).length === 0;
  if (empty && !SUITE_RAN.test(content)) return notFound('no_tests_ran', sm);
  const code = officialExitCode(content);
  const failing = Object.values(sm).some((s) => s === 'FAILED' || s === 'ERROR');
  if (code !== null && code !== 0 && !empty && !failing) return notFound('exit_code_mismatch', sm);
  return { statuses: sm, found: true, reason: null, parsed: sm };
}

/** The parser's map as `get_logs_eval` computes it before its checks (for reports and tests); {} when it crashes. */
export function officialStatuses(parser: LogParserName, output: string): OfficialStatusMap {
  const content = universalNewlines(output);
  const section = officialSection(content);
  try {
    return section === null ? parseOfficialLog(parser, content) : parseSection(parser, content, section);
  } catch (e) {
    if (e instanceof PythonParserError) return {};
    throw e;
  }
}

/**
 * The tests of a run keyed as the official grading will look them up, for deriving a task's lists
 * (build validation): {@link officialStatuses} restricted to swebench's five statuses.
 */
export function officialTestStatuses(parser: LogParserName, log: RunLog): TestStatusMap {
  return knownStatuses(officialStatuses(parser, log.output));
}

const count = (s: string, c: string) => s.split(c).length - 1;
const PASSING = new Set(['PASSED', 'XFAIL']);

/**
 * `_resolve_case`: the map key for a task id. Exact match; else, for an id with more `[` than `]`
 * (a parametrized id cut inside its brackets), the first key starting with it when every such key
 * agrees on pass (PASSED/XFAIL) versus not. Null when missing.
 */
export function resolveCase(id: string, sm: OfficialStatusMap): string | null {
  if (Object.hasOwn(sm, id)) return id;
  if (count(id, '[') > count(id, ']')) {
    const matches = Object.keys(sm).filter((k) => k.startsWith(id));
    if (matches.length && new Set(matches.map((k) => PASSING.has(sm[k]!))).size === 1) return matches[0]!;
  }
  return null;
}

/** `test_passed`: PASSED or XFAIL. */
export function testPassed(id: string, sm: OfficialStatusMap): boolean {
  const key = resolveCase(id, sm);
  return key !== null && PASSING.has(sm[key]!);
}

/** `test_failed`: missing, FAILED, ERROR or SKIPPED (other strings are neither passed nor failed). */
export function testFailed(id: string, sm: OfficialStatusMap): boolean {
  const key = resolveCase(id, sm);
  return key === null || ['FAILED', 'ERROR', 'SKIPPED'].includes(sm[key]!);
}

/** `test_maintained` (PASS_TO_PASS): passed, or skipped (no regression). */
export function testMaintained(id: string, sm: OfficialStatusMap): boolean {
  const key = resolveCase(id, sm);
  return testPassed(id, sm) || (key !== null && sm[key] === 'SKIPPED');
}

/** The task lists a report is computed for; FAIL_TO_FAIL and PASS_TO_FAIL are optional extras. */
export interface TestLists {
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  FAIL_TO_FAIL?: string[];
  PASS_TO_FAIL?: string[];
}

/** The four lists' outcomes. */
export type TestsReport = Record<'FAIL_TO_PASS' | 'PASS_TO_PASS' | 'FAIL_TO_FAIL' | 'PASS_TO_FAIL', TestOutcomes>;

/**
 * `get_eval_tests_report` (PASS_AND_FAIL): FAIL_TO_PASS (and FAIL_TO_FAIL, PASS_TO_FAIL) success when
 * passed, failure when failed; PASS_TO_PASS success when maintained. A test whose status is none of
 * these (a parser's odd status word) lands in neither list.
 */
export function officialTestsReport(sm: OfficialStatusMap, lists: TestLists): TestsReport {
  const check = (ids: string[], ok: (id: string) => boolean): TestOutcomes => {
    const out: TestOutcomes = { success: [], failure: [] };
    for (const id of ids) {
      if (ok(id)) out.success.push(id);
      else if (testFailed(id, sm)) out.failure.push(id);
    }
    return out;
  };
  const passed = (id: string) => testPassed(id, sm);
  return {
    FAIL_TO_PASS: check(lists.FAIL_TO_PASS, passed),
    PASS_TO_PASS: check(lists.PASS_TO_PASS, (id) => testMaintained(id, sm)),
    FAIL_TO_FAIL: check(lists.FAIL_TO_FAIL ?? [], passed),
    PASS_TO_FAIL: check(lists.PASS_TO_FAIL ?? [], passed),
  };
}

/** swebench's `ResolvedStatus`. */
export type ResolutionStatus = 'RESOLVED_FULL' | 'RESOLVED_PARTIAL' | 'RESOLVED_NO';

const rate = (o: TestOutcomes) => {
  const total = o.success.length + o.failure.length;
  return total === 0 ? 1 : o.success.length / total;
};

/** `get_resolution_status`: FULL when every counted F2P and P2P test succeeded (empty lists count as 1). */
export function resolutionStatus(report: TestsReport): ResolutionStatus {
  const f2p = rate(report.FAIL_TO_PASS);
  const p2p = rate(report.PASS_TO_PASS);
  if (f2p === 1 && p2p === 1) return 'RESOLVED_FULL';
  if (f2p < 1 && f2p > 0 && p2p === 1) return 'RESOLVED_PARTIAL';
  return 'RESOLVED_NO';
}
