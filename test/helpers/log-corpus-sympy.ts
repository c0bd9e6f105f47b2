/** Generated sympy `bin/test --verbose` logs (swebench's `parse_log_sympy`) for the parity corpus. */
import { type CorpusItem, Rng, WORDS, evalLog } from './log-corpus-common';

type SympyResult = 'ok' | 'F' | 'E' | 'f' | 's' | 'X';

interface SympyTest {
  name: string;
  result: SympyResult;
}

const FILES = ['sympy/core/tests/test_basic.py', 'sympy/printing/tests/test_latex.py', 'sympy/sets/tests/test_sets.py'];

/** One sympy item; `n` numbers it. */
export function sympyItem(rng: Rng, n: number): CorpusItem {
  const file = rng.pick(FILES);
  const tests: SympyTest[] = [];
  const seen = new Set<string>();
  const good = rng.chance(0.5);
  const size = rng.int(3, 9);
  while (tests.length < size) {
    const name = `test_${rng.pick(WORDS)}_${rng.int(0, 9)}`;
    if (seen.has(name)) continue;
    seen.add(name);
    tests.push({ name, result: good ? 'ok' : rng.pick<SympyResult>(['ok', 'ok', 'F', 'E', 'f', 's', 'X']) });
  }
  const f2p = rng.sample(tests, rng.int(1, 2));
  const p2p = rng.sample(
    tests.filter((t) => !f2p.includes(t)),
    rng.int(0, tests.length - f2p.length)
  );
  const failed = tests.filter((t) => t.result === 'F' || t.result === 'E');
  const body = [
    '============================= test process starts ==============================',
    'executable:         /opt/miniconda3/envs/testbed/bin/python  (3.9.19-final-0) [CPython]',
    'architecture:       64-bit',
    'ground types:       python ',
    `random seed:        ${rng.int(1000, 99999)}`,
    '',
    `${file}[${tests.length}] `,
    ...tests.map(
      (t, i) =>
        `${t.name} ${t.result}${i === tests.length - 1 ? `${' '.repeat(40)}[${failed.length ? 'FAIL' : 'OK'}]` : ''}`
    ),
    '',
  ];
  // A deprecation warning names a file and line: parse_log_sympy's failure-header pattern takes it.
  if (rng.chance(0.2)) body.push(`  /testbed/sympy/core/basic.py:${rng.int(10, 900)}: SymPyDeprecationWarning: old`);
  for (const t of failed) {
    body.push(
      '________________________________________________________________________________',
      `${'_'.repeat(12)} ${file}:${t.name} ${'_'.repeat(12)}`,
      'Traceback (most recent call last):',
      `  File "/testbed/${file}", line 40, in ${t.name}`,
      t.result === 'F' ? 'AssertionError' : 'ZeroDivisionError: division by zero',
      ''
    );
  }
  const passed = tests.filter((t) => t.result === 'ok').length;
  body.push(`============ tests finished: ${passed} passed, ${failed.length} failed, in 0.41 seconds ============`);
  if (failed.length) body.push('DO *NOT* COMMIT!');
  return {
    id: `sympy-${n}`,
    scenario: 'sympy',
    repo: 'sympy/sympy',
    parser: 'sympy',
    officialParser: 'parse_log_sympy',
    output: evalLog(body, failed.length ? 1 : 0),
    exitCode: 0,
    timedOut: false,
    patch: 'diff --git a/sympy/core/basic.py b/sympy/core/basic.py\n',
    FAIL_TO_PASS: f2p.map((t) => t.name),
    PASS_TO_PASS: p2p.map((t) => t.name),
    traits: [],
  };
}
