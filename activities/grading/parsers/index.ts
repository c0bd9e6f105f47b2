import type { TestStatusMap } from '../../../contracts/grading';
import type { LogParserName } from '../../../contracts/task';
import { parseDjangoLog } from './django';
import { parseJunitLog } from './junit';
import { parsePytestLog } from './pytest';
import { parseLogDjango } from './swebench-django';
import { parseLogMatplotlib, parseLogPytest, parseLogPytestOptions } from './swebench-pytest';
import { parseLogPytestV2 } from './swebench-pytest-v2';
import { parseLogSeaborn } from './swebench-seaborn';
import { parseLogSympy } from './swebench-sympy';
import { parseUnittestLog } from './unittest';

export { parseDjangoLog } from './django';
export { extractJunitXml, parseJunitLog } from './junit';
export { parsePytestLog } from './pytest';
export { parseUnittestLog, parseUnittestStyleLog } from './unittest';
export { parseLogDjango } from './swebench-django';
export { parseLogMatplotlib, parseLogPytest, parseLogPytestOptions } from './swebench-pytest';
export { parseLogPytestV2 } from './swebench-pytest-v2';
export { parseLogSeaborn } from './swebench-seaborn';
export { parseLogSympy } from './swebench-sympy';
export { PythonParserError } from './python-text';
export { MAP_REPO_TO_PARSER, SWEBENCH_PARSER_FAMILIES, parserFamily, parserForRepo } from './registry';
export { isFail, isPass, stripAnsi } from './common';

/** Test id → status as an official parser returns it: any string (`FAILED:` and the like included). */
export type OfficialStatusMap = Record<string, string>;

const STATUSES = new Set(['PASSED', 'FAILED', 'SKIPPED', 'ERROR', 'XFAIL']);

/** The entries of an official map whose status is one of swebench's five `TestStatus` values. */
export function knownStatuses(map: OfficialStatusMap): TestStatusMap {
  return Object.fromEntries(Object.entries(map).filter(([, s]) => STATUSES.has(s))) as TestStatusMap;
}

/**
 * The official reading of each family: swebench 5.0.2's function, ported exactly. swebench has no
 * unittest parser and grades unittest-style output with `parse_log_django`; `junit` has no
 * counterpart and reads the same either way.
 */
const OFFICIAL: Record<LogParserName, (log: string) => OfficialStatusMap> = {
  pytest: parseLogPytest,
  pytest_options: parseLogPytestOptions,
  pytest_v2: parseLogPytestV2,
  matplotlib: parseLogMatplotlib,
  seaborn: parseLogSeaborn,
  sympy: parseLogSympy,
  django: parseLogDjango,
  unittest: parseLogDjango,
  junit: parseJunitLog,
};

/**
 * bottega's strict reading: whole pytest ids from `-rA` summary, `-v` and xdist lines with ANSI
 * stripped and XPASS as PASSED; unittest/Django with both id spellings, docstring keys, expected
 * failures and unexpected successes. sympy has no strict variant (its known statuses are kept).
 */
const STRICT: Record<LogParserName, (log: string) => TestStatusMap> = {
  pytest: parsePytestLog,
  pytest_options: parsePytestLog,
  pytest_v2: parsePytestLog,
  matplotlib: parsePytestLog,
  seaborn: parsePytestLog,
  sympy: (log) => knownStatuses(parseLogSympy(log)),
  django: parseDjangoLog,
  unittest: parseUnittestLog,
  junit: parseJunitLog,
};

/** Parses a test log as swebench 5.0.2 does with the named parser (may throw {@link PythonParserError}). */
export function parseOfficialLog(name: LogParserName, log: string): OfficialStatusMap {
  return OFFICIAL[name](log);
}

/** Parses a test log with bottega's strict reading of the named parser into test id → status. */
export function parseTestLog(name: LogParserName, log: string): TestStatusMap {
  return STRICT[name](log);
}

/**
 * The id swebench's parser gives a test that its runner reports as passed (`PASSED <id>` in pytest's
 * `-rA` summary, `<id> ... ok` for Django/unittest, `<id> ok` for sympy): the form SWE-bench's test
 * lists use (`test_b[a b]` → `test_b[a` with `parse_log_pytest`, `t[/tmp/a/b]` → `t[/b]` with
 * `parse_log_pytest_options`). The id itself when the parser keys it otherwise or not at all.
 */
export function officialTestId(name: LogParserName, id: string): string {
  const line =
    name === 'django' || name === 'unittest' ? `${id} ... ok` : name === 'sympy' ? `${id} ok` : `PASSED ${id}`;
  let keys: string[];
  try {
    keys = Object.keys(parseOfficialLog(name, line));
  } catch {
    return id;
  }
  return keys.length === 1 ? keys[0]! : id;
}
