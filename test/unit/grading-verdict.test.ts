import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LogVerdict } from '../../contracts/grading';
import { judgeLog, matchTest, testExitCode, testSection } from '../../activities/grading/verdict';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8');

const wrap = (body: string, code: number, pre = '+ git apply -v -\nChecking patch tests/test_x.py...\n'): string =>
  `${pre}>>>>> Start Test Output\n${body}\n>>>>> End Test Output\n>>>>> Test Exit Code: ${code}\n`;

void test('testSection takes the text between the markers, else the whole output; fake markers lose', () => {
  const out = wrap('inside\n>>>>> End Test Output\n>>>>> Test Exit Code: 0\nstill inside', 1);
  assert.equal(testSection(out), 'inside\n>>>>> End Test Output\n>>>>> Test Exit Code: 0\nstill inside');
  assert.equal(testExitCode(out), 1);
  assert.equal(testSection('no markers\nat all'), 'no markers\nat all');
  assert.equal(testExitCode('no markers'), null);
  assert.equal(testSection("+ echo '>>>>> Start Test Output'\nx"), "+ echo '>>>>> Start Test Output'\nx");
});

void test('a real pytest log between markers is valid, and lines outside the markers are ignored', () => {
  const output = wrap(fixture('pytest-ra-verbose.txt'), 1, 'PASSED tests/test_x.py::outside\n');
  const v = judgeLog('pytest', { exitCode: 0, timedOut: false, output });
  assert.ok(LogVerdict.safeParse(v).success);
  assert.equal(v.valid, true);
  assert.equal(v.reason, null);
  assert.equal(v.statuses['tests/test_x.py::test_fail'], 'FAILED');
  assert.equal(v.statuses['tests/test_x.py::outside'], undefined);
});

void test('exit-code cross-check: non-zero exit with only PASSED entries is rejected (forged conftest)', () => {
  const forged = 'tests/test_x.py::test_a PASSED [100%]\n1 passed in 0.01s';
  const v = judgeLog('pytest', { exitCode: 0, timedOut: false, output: wrap(forged, 1) });
  assert.deepEqual([v.valid, v.reason], [false, 'exit_code_mismatch']);
  assert.equal(judgeLog('pytest', { exitCode: 0, timedOut: false, output: wrap(forged, 0) }).valid, true);
  // Without markers the run's own exit code is used.
  assert.equal(judgeLog('pytest', { exitCode: 2, timedOut: false, output: forged }).reason, 'exit_code_mismatch');
});

void test('suite-ran check: empty maps are invalid unless the suite visibly ran', () => {
  const judge = (body: string, code = 1) =>
    judgeLog('pytest', { exitCode: 0, timedOut: false, output: wrap(body, code) });
  assert.equal(judge('bash: pytest: command not found', 127).reason, 'no_tests_ran');
  assert.equal(judge(fixture('pytest-none.txt'), 5).reason, 'no_tests_collected');
  assert.equal(judge('E   ModuleNotFoundError: No module named "foo"').reason, 'missing_module');
  // The suite ran (3 tests) but nothing parsed: valid, every task test will be missing.
  const ran = judge('Ran 3 tests in 0.1s\n\nFAILED (failures=1)');
  assert.equal(ran.reason, 'exit_code_mismatch');
  assert.deepEqual(judge('Ran 3 tests in 0.1s\n\nOK', 0), { valid: true, reason: null, statuses: {} });
});

void test('timeout and patch-apply failure markers invalidate the log', () => {
  const body = fixture('pytest-ra-verbose.txt');
  assert.equal(judgeLog('pytest', { exitCode: null, timedOut: true, output: wrap(body, 1) }).reason, 'tests_timed_out');
  const failed = `error: patch failed: calc.py:1\n>>>>> Patch Apply Failed\n${wrap(body, 1)}`;
  assert.equal(judgeLog('pytest', { exitCode: 1, timedOut: false, output: failed }).reason, 'patch_apply_failed');
  const tp = `>>>>> Test Patch Apply Failed\n`;
  assert.equal(judgeLog('pytest', { exitCode: 1, timedOut: false, output: tp }).reason, 'test_patch_apply_failed');
});

void test('matchTest: exact, unittest 3.11 alias, truncated parametrized ids when candidates agree', () => {
  const statuses = {
    'tests/test_x.py::test_b[a b]': 'PASSED',
    'tests/test_x.py::test_b[a c]': 'PASSED',
    'tests/test_x.py::test_c[x y]': 'PASSED',
    'tests/test_x.py::test_c[x z]': 'FAILED',
    'tests/test_x.py::test_d': 'PASSED',
    'test_add (pkg.mod.C.test_add)': 'FAILED',
    'test_sub (pkg.mod.C)': 'PASSED',
  } as const;
  assert.equal(matchTest('tests/test_x.py::test_d', statuses), 'PASSED');
  assert.equal(matchTest('tests/test_x.py::test_b[a', statuses), 'PASSED');
  assert.equal(matchTest('tests/test_x.py::test_c[x', statuses), undefined);
  assert.equal(matchTest('tests/test_x.py::test_e[q', statuses), undefined);
  assert.equal(matchTest('tests/test_x.py::test_', statuses), undefined, 'only parametrized ids are prefix-matched');
  assert.equal(matchTest('test_add (pkg.mod.C)', statuses), 'FAILED');
  assert.equal(matchTest('test_sub (pkg.mod.C.test_sub)', statuses), 'PASSED');
  // A truncated id from the real pytest log (split at whitespace, as SWE-bench's old parser did).
  const real = judgeLog('pytest', { exitCode: 1, timedOut: false, output: fixture('pytest-ra-verbose.txt') });
  assert.equal(matchTest('tests/test_x.py::test_b[a', real.statuses), 'PASSED');
});

void test('junit logs between markers: XML printed by the test command is judged with its exit code', () => {
  const output = wrap(fixture('junit-in-log.txt'), 1);
  const v = judgeLog('junit', { exitCode: 0, timedOut: false, output });
  assert.equal(v.valid, true);
  assert.equal(v.statuses['t2.test_y::test_y_bad'], 'FAILED');
  const passing = '<testsuite><testcase classname="C" name="t"/></testsuite>';
  assert.equal(
    judgeLog('junit', { exitCode: 0, timedOut: false, output: wrap(passing, 1) }).reason,
    'exit_code_mismatch'
  );
  assert.equal(
    judgeLog('junit', { exitCode: 0, timedOut: false, output: wrap('<testsuite tests="0"/>', 0) }).reason,
    'no_tests_collected'
  );
});
