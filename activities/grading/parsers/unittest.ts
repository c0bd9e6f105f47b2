import type { TestStatus, TestStatusMap } from '../../../contracts/grading';
import { logLines, record } from './common';

/** `test_x (pkg.mod.Class)` or, from Python 3.11, `test_x (pkg.mod.Class.test_x)`. */
const ID = String.raw`\w+ \([\w.]+\)`;
const RESULT = String.raw`ok|OK|FAIL|ERROR|expected failure|unexpected success|skipped(?: .*)?`;
const EXACT_RESULT = new RegExp(`^(?:${RESULT})$`);
const RESULT_AT_END = new RegExp(`(${RESULT.replace('skipped(?: .*)?', `skipped '.*'|skipped ".*"`)})$`);
/** A result block at the end of a run: `FAIL: test_x (pkg.mod.Class)`, possibly with a subtest suffix. */
const BLOCK = new RegExp(`^(FAIL|ERROR): (${ID})`);

function statusOf(result: string): TestStatus | undefined {
  const r = result.trim();
  if (r === 'ok' || r === 'OK') return 'PASSED';
  if (r === 'FAIL' || r === 'unexpected success') return 'FAILED';
  if (r === 'ERROR') return 'ERROR';
  if (r === 'expected failure') return 'XFAIL';
  if (r === 'skipped' || r.startsWith('skipped ')) return 'SKIPPED';
  return undefined;
}

/** The result a line ends with, when the test's own output was printed on the same line (`... noiseok`). */
function resultAtEnd(text: string): TestStatus | undefined {
  const exact = statusOf(text);
  if (exact) return exact;
  const m = RESULT_AT_END.exec(text.trim());
  return m ? statusOf(m[1]!) : undefined;
}

/** Options for {@link parseUnittestStyleLog}. */
export interface UnittestStyleOptions {
  /** Find `name (module.Class) ... result` anywhere in a line, not just at its start (Django's migration noise). */
  anywhere?: boolean;
}

/**
 * Parses unittest-style verbose output (`python -m unittest -v`, Django's runner at `-v 2`). Ids are
 * kept as printed, `test_x (pkg.mod.Class)` (Python ≤3.10) or `test_x (pkg.mod.Class.test_x)` (3.11+).
 * A test whose docstring is shown is keyed by its `name (module.Class)` header line and, as
 * SWE-bench does, by the docstring line that carries its result; a result printed on a later line (after the test's own output) is attributed to the
 * pending test; the `FAIL:`/`ERROR:` blocks after the run are recorded too (failures are sticky).
 */
export function parseUnittestStyleLog(log: string, opts: UnittestStyleOptions = {}): TestStatusMap {
  const map: TestStatusMap = {};
  const header = new RegExp(`${opts.anywhere ? '' : '^'}(${ID})(?: \\.\\.\\. ?(.*))?$`);
  let pending: string | null = null;
  /** The docstring line of the pending test, once seen. */
  let alias: string | null = null;
  for (const raw of logLines(log)) {
    const line = raw.trimEnd();
    const block = BLOCK.exec(line);
    if (block) {
      record(map, block[2]!, block[1] === 'FAIL' ? 'FAILED' : 'ERROR');
      pending = null;
      continue;
    }
    const h = header.exec(line);
    if (h && (h.index === 0 || h[2] !== undefined)) {
      const id = h[1]!;
      const rest = h[2];
      const status = rest === undefined ? undefined : resultAtEnd(rest);
      if (status) {
        record(map, id, status);
        pending = null;
      } else {
        pending = id;
      }
      alias = null;
      continue;
    }
    if (pending === null) continue;
    if (/^(=+|-+)$/.test(line) || /^Ran \d+ tests? in /.test(line)) {
      pending = null;
      continue;
    }
    const dots = line.lastIndexOf(' ... ');
    // A docstring's first line printed before ` ... ` (Django, unittest -v) is also a key:
    // SWE-bench's parser and its Django test lists name such tests by that line.
    if (dots > 0 && line.slice(0, dots).trim()) alias = line.slice(0, dots).trim();
    const status =
      dots >= 0 ? resultAtEnd(line.slice(dots + 5)) : EXACT_RESULT.test(line.trim()) ? statusOf(line) : undefined;
    if (status) {
      record(map, pending, status);
      if (alias && alias !== pending) record(map, alias, status);
      pending = null;
    }
  }
  return map;
}

/** Parses `python -m unittest -v` output (Python 3.9 and 3.11+ id forms, docstring variants). */
export function parseUnittestLog(log: string): TestStatusMap {
  return parseUnittestStyleLog(log);
}
