/**
 * A generated, seeded corpus of SWE-bench eval logs for the grading parity test
 * (test/integration/swebench-parity.test.ts): pytest `-rA` logs (plain, `-v` with and without
 * percentages, xdist, ANSI colour, CRLF, captured-log lines) for every pytest-family parser of
 * swebench's repo map (pytest, pytest_options, pytest_v2, matplotlib, seaborn), with parametrized
 * ids containing brackets, spaces, ` - `, unicode, no-break spaces, paths and `MouseButton.LEFT`,
 * XPASS with a reason in pytest 7 and 8 form, siblings sharing a truncated id, listed in the task in
 * the official parser's id form or whole; unittest and Django runner logs (3.9 and 3.11 ids,
 * docstrings, results pushed onto later lines in each of parse_log_django's special forms, skips,
 * expected failures, unexpected successes, a bare `FAIL:`); sympy `bin/test` logs (failure
 * headers, `[OK]`/`[FAIL]` on the last line, a warning with a file:line); and edge cases: teardown
 * errors, collection errors, a suite that did not run, nothing collected, forged `PASSED` lines, a
 * forged exit-code line, timeouts, patches that are missing or did not apply, empty test lists,
 * bad-code markers and a second start marker in test output, results outside the markers.
 */
import { type CorpusItem, Rng, evalLog } from './log-corpus-common';
import { pytestItem } from './log-corpus-pytest';
import { sympyItem } from './log-corpus-sympy';
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
  switch (rng.int(0, 13)) {
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
    case 10:
      // Test output that prints one of swebench's bad-code markers.
      return base(id, 'bad-code-in-output', evalLog(['collected 2 items', '>>>>> Tests Errored', ...passing], 0));
    case 11:
      // Test output that echoes the start marker: swebench's slice ends at the second one.
      return base(
        id,
        'second-start-marker',
        evalLog(['collected 2 items', SUMMARY, `PASSED ${F2P[0]}`, '>>>>> Start Test Output', `PASSED ${P2P[0]}`], 0)
      );
    case 12:
      // Nothing parsed, but a runner count swebench's SUITE_RAN knows (jest's `Tests:`).
      return base(id, 'suite-ran-empty-map', evalLog(['Tests:       2 passed, 2 total'], 0), {
        ...(rng.chance(0.5) ? { FAIL_TO_PASS: [], PASS_TO_PASS: [] } : {}),
      });
    case 13:
      // Results printed before the start marker (stdout/stderr ordering): swebench's whole-log fallback.
      return base(id, 'results-outside-markers', evalLog(['collected 2 items'], 0, passing));
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

/**
 * `count` corpus items from `seed`: about 45% pytest (every pytest-family parser of swebench's
 * repo map), 15% Django, 12% unittest, 12% sympy, the rest edge cases.
 */
export function generateCorpus(seed = 7, count = 800): CorpusItem[] {
  const rng = new Rng(seed);
  const items: CorpusItem[] = [];
  for (let n = 0; n < count; n++) {
    const r = rng.next();
    if (r < 0.45) items.push(pytestItem(rng, n));
    else if (r < 0.6) items.push(unittestItem(rng, n, 'django'));
    else if (r < 0.72) items.push(unittestItem(rng, n, 'unittest'));
    else if (r < 0.84) items.push(sympyItem(rng, n));
    else items.push(edgeItem(rng, n));
  }
  return items;
}
