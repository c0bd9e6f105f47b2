import type { TestStatusMap } from '../../../contracts/grading';
import { logLines } from './common';
import { parseUnittestStyleLog } from './unittest';

/**
 * Parses Django's test runner (`./tests/runtests.py --verbosity 2`): unittest-style lines, found
 * anywhere in a line (migration output such as `Applying sites.0002...test_x (m.C) ... ok` runs into
 * them), with a result that the test's own output pushed onto a following line (`... System check
 * identified no issues (0 silenced).` then `ok`). Like SWE-bench, the multi-line `--version` help
 * test is recorded as `--version is equivalent to version`.
 */
export function parseDjangoLog(log: string): TestStatusMap {
  const map = parseUnittestStyleLog(log, { anywhere: true });
  if (logLines(log).some((l) => l.includes('--version is equivalent to version'))) {
    map['--version is equivalent to version'] ??= 'PASSED';
  }
  return map;
}
