/**
 * Exact ports of swebench 5.0.2's first-token pytest parsers (`harness/log_parsers/python.py`):
 * `parse_log_pytest` (flask, xarray, pytest, astroid, …), `parse_log_pytest_options` (requests,
 * pylint, pydicom) and `parse_log_matplotlib`. A line starting with a status word records its second
 * whitespace-separated token, so `test_b[a b]` is keyed `test_b[a`; `FAILED` lines first lose every
 * ` - `; pytest's `SKIPPED [n] file:line` summary is not a test.
 */
import { PyDict, pySplit } from './python-text';

/** swebench's `TestStatus` values, in its enum order. */
export const SWEBENCH_STATUSES = ['FAILED', 'PASSED', 'SKIPPED', 'ERROR', 'XFAIL'] as const;

/** True when `line` starts with one of swebench's status words (`PASSED`, `FAILED:`, `ERRORS` all do). */
export function startsWithStatus(line: string): boolean {
  return SWEBENCH_STATUSES.some((s) => line.startsWith(s));
}

const SKIP_COUNT = /^\[\p{Nd}+\]$/u;

/** swebench's `_is_skip_summary`: `SKIPPED [3] tests/x.py:12: reason`, where `[3]` is not a test. */
export function isSkipSummary(status: string, name: string): boolean {
  return status === 'SKIPPED' && SKIP_COUNT.test(name);
}

/** The first-token reading shared by the three parsers; `key` may rewrite the id. */
function firstToken(log: string, key: (id: string) => string, prep: (line: string) => string = (l) => l) {
  const map = new PyDict();
  for (const raw of log.split('\n')) {
    let line = prep(raw);
    if (!startsWithStatus(line)) continue;
    if (line.startsWith('FAILED')) line = line.replaceAll(' - ', ' ');
    const tc = pySplit(line);
    if (tc.length <= 1) continue;
    if (isSkipSummary(tc[0]!, tc[1]!)) continue;
    map.set(key(tc[1]!), tc[0]!);
  }
  return map.toObject();
}

/** `parse_log_pytest`. */
export function parseLogPytest(log: string): Record<string, string> {
  return firstToken(log, (id) => id);
}

const OPTION = /([^\n]*?)\[([^\n]*)\]/;

/**
 * `parse_log_pytest_options`: as `parse_log_pytest`, and a parameter that is an absolute path
 * (`test_x[/tmp/a/b.txt]`) keeps only its last component (`test_x[/b.txt]`); text after the last `]`
 * is dropped.
 */
export function parseLogPytestOptions(log: string): Record<string, string> {
  return firstToken(log, (id) => {
    const m = OPTION.exec(id);
    if (!m) return id;
    const main = m[1]!;
    let option = m[2]!;
    if (option.startsWith('/') && !option.startsWith('//') && !option.includes('*')) {
      option = `/${option.split('/').pop()!}`;
    }
    return `${main}[${option}]`;
  });
}

/** `parse_log_matplotlib`: `parse_log_pytest` after `MouseButton.LEFT` → `1`, `MouseButton.RIGHT` → `3`. */
export function parseLogMatplotlib(log: string): Record<string, string> {
  return firstToken(
    log,
    (id) => id,
    (l) => l.replaceAll('MouseButton.LEFT', '1').replaceAll('MouseButton.RIGHT', '3')
  );
}
