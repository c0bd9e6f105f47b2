/**
 * A generated, seeded corpus of SWE-bench eval logs for the grading parity test
 * (test/integration/swebench-parity.test.ts): pytest `-rA` logs (plain, `-v`, xdist, ANSI colour)
 * with parametrized ids containing brackets, spaces, ` - `, unicode and slashes, listed in the task
 * either cut at whitespace (as SWE-bench's datasets list them) or whole; unittest and Django runner
 * logs (3.9 and 3.11 ids, docstrings, output between id and result, skips, expected failures,
 * unexpected successes); and edge cases: teardown errors, collection errors, a suite that did not
 * run, nothing collected, forged `PASSED` lines, a forged exit-code line, timeouts, patches that
 * are missing or did not apply, and empty test lists.
 */
import { type CorpusItem, Rng, evalLog } from './log-corpus-common';
import { pytestItem } from './log-corpus-pytest';
import { unittestItem } from './log-corpus-unittest';

export type { CorpusItem } from './log-corpus-common';

const PATCH = 'diff --git a/src/x.py b/src/x.py\n';
const F2P = ['tests/test_core.py::test_fix'];
const P2P = ['tests/test_core.py::test_keep'];

function base(id: string, scenario: string, output: string, extra: Partial<CorpusItem> = {}): CorpusItem {
  return {
    id,
    scenario,
    repo: 'pallets/flask',
    parser: 'pytest',
    officialParser: 'parse_log_pytest',
    output,
    exitCode: 0,
    timedOut: false,
    patch: PATCH,
    FAIL_TO_PASS: F2P,
    PASS_TO_PASS: P2P,
    traits: [],
    ...extra,
  };
}

const SUMMARY = '=========================== short test summary info ============================';

/** Edge cases, each built from a pytest run of the two task tests. */
function edgeItem(rng: Rng, n: number): CorpusItem {
  const id = `edge-${n}`;
  const passing = [SUMMARY, `PASSED ${F2P[0]}`, `PASSED ${P2P[0]}`, '============ 2 passed in 0.1s ============'];
  switch (rng.int(0, 9)) {
    case 0:
      return base(
        id,
        'did-not-run',
        evalLog(
          [
            "ImportError while loading conftest '/testbed/tests/conftest.py'.",
            "ModuleNotFoundError: No module named 'numpy'",
          ],
          4
        )
      );
    case 1:
      return base(
        id,
        'nothing-collected',
        evalLog(['collected 0 items', '', '============ no tests ran in 0.01s ============'], 5)
      );
    case 2:
      return base(
        id,
        'collection-error',
        evalLog(
          [
            'collected 1 item / 1 error',
            SUMMARY,
            "ERROR tests/test_core.py - ModuleNotFoundError: No module named 'yaml'",
            '!!!!!!!! Interrupted: 1 error during collection !!!!!!!!',
            '======== 1 error in 0.2s ========',
          ],
          2
        )
      );
    case 3:
      // A conftest.py in the patch prints PASSED lines; the real run failed.
      return base(id, 'forged-pass', evalLog(['collected 2 items', ...passing], 1), { traits: ['forged-pass'] });
    case 4:
      // ... and also prints an exit-code line of its own before the real one.
      return base(id, 'forged-exit-code', evalLog(['collected 2 items', ...passing, '>>>>> Test Exit Code: 0'], 1), {
        traits: ['forged-exit-code'],
      });
    case 5: {
      const output = [
        '>>>>> Applied Patch',
        '>>>>> Start Test Output',
        'collected 2 items',
        `${F2P[0]} PASSED [ 50%]`,
        '',
        'Timeout error: 1800 seconds exceeded.',
      ].join('\n');
      return base(id, 'timed-out', output, { timedOut: true, exitCode: null });
    }
    case 6:
      return base(id, 'patch-none', evalLog(passing, 0), { patch: null });
    case 7:
      return base(
        id,
        'patch-apply-failed',
        ['error: patch failed: src/x.py:12', '>>>>> Patch Apply Failed', ''].join('\n'),
        { exitCode: 1 }
      );
    case 8:
      return base(id, 'empty-lists', evalLog(['collected 2 items', ...passing], 0), {
        FAIL_TO_PASS: [],
        PASS_TO_PASS: [],
      });
    default:
      // pytest without -rA: only `-v` progress lines carry ids.
      return base(
        id,
        'pytest-no-ra',
        evalLog(
          [
            'collected 2 items',
            `${F2P[0]} PASSED [ 50%]`,
            `${P2P[0]} PASSED [100%]`,
            '============ 2 passed in 0.1s ============',
          ],
          0
        ),
        { traits: ['no-ra'] }
      );
  }
}

/** `count` corpus items from `seed`: about half pytest, a third unittest/Django, the rest edge cases. */
export function generateCorpus(seed = 7, count = 600): CorpusItem[] {
  const rng = new Rng(seed);
  const items: CorpusItem[] = [];
  for (let n = 0; n < count; n++) {
    const r = rng.next();
    if (r < 0.5) items.push(pytestItem(rng, n));
    else if (r < 0.68) items.push(unittestItem(rng, n, 'django'));
    else if (r < 0.85) items.push(unittestItem(rng, n, 'unittest'));
    else items.push(edgeItem(rng, n));
  }
  return items;
}
