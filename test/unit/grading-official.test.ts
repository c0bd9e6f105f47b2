/** swebench 5.0.2's parsers and get_logs_eval as ported (each case checked against the Python original). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAP_REPO_TO_PARSER,
  officialTestId,
  parseLogDjango,
  parseLogMatplotlib,
  parseLogPytest,
  parseLogPytestOptions,
  parseLogPytestV2,
  parseLogSeaborn,
  parseLogSympy,
  parserFamily,
  parserForRepo,
  parseTestLog,
  PythonParserError,
} from '../../activities/grading/parsers/index';
import { officialExitCode, officialLogsEval, resolveCase } from '../../activities/grading/official';

void test('parse_log_pytest: second token, ` - ` dropped from FAILED lines, SKIPPED [n] ignored', () => {
  const log = [
    'PASSED tests/t.py::a[x y]',
    'FAILED tests/t.py::b - assert 1 == 2',
    'SKIPPED [2] tests/t.py:3: no net',
    'XPASS tests/t.py::c reason',
    'ERROR    root:app.py:12 boom',
    'FAILED:',
    '\u00a0PASSED x',
  ].join('\n');
  assert.deepEqual(parseLogPytest(log), {
    'tests/t.py::a[x': 'PASSED',
    'tests/t.py::b': 'FAILED',
    'root:app.py:12': 'ERROR',
  });
});

void test('parse_log_pytest_options and parse_log_matplotlib rewrite ids', () => {
  assert.deepEqual(
    parseLogPytestOptions(
      'PASSED t.py::a[/tmp/d/f.txt]\nPASSED t.py::b[//srv/x]\nPASSED t.py::c[/a/*.txt]\nPASSED t.py::d[1]x'
    ),
    { 't.py::a[/f.txt]': 'PASSED', 't.py::b[//srv/x]': 'PASSED', 't.py::c[/a/*.txt]': 'PASSED', 't.py::d[1]': 'PASSED' }
  );
  assert.deepEqual(parseLogMatplotlib('PASSED t.py::a[MouseButton.LEFT-MouseButton.RIGHT]'), {
    't.py::a[1-3]': 'PASSED',
  });
});

void test('parse_log_pytest_v2: whole ids, reasons kept except on FAILED, older `id STATUS` lines', () => {
  const log = [
    'PASSED t.py::a[x y]',
    'XFAIL t.py::b - known bug',
    'FAILED t.py::c - assert - x',
    '\x1b[32mERROR\x1b[0m t.py::d - teardown',
    't.py::e PASSED',
    't.py::f PASSED [ 50%]',
  ].join('\n');
  assert.deepEqual(parseLogPytestV2(log), {
    't.py::a[x y]': 'PASSED',
    't.py::b - known bug': 'XFAIL',
    't.py::c': 'FAILED',
    't.py::d - teardown': 'ERROR',
    't.py::e': 'PASSED',
  });
});

void test('parse_log_seaborn and parse_log_sympy', () => {
  assert.deepEqual(parseLogSeaborn('t.py::a PASSED [ 50%]\nFAILED t.py::b - x\nPASSED t.py::c\nSKIPPED t.py::d'), {
    't.py::a': 'PASSED',
    't.py::b': 'FAILED',
    't.py::c': 'PASSED',
  });
  const sympy = [
    'sympy/core/tests/test_basic.py[3] ',
    'test_a ok',
    'test_b F',
    'test_c E                                 [FAIL]',
    '________ sympy/core/tests/test_basic.py:test_b ________',
  ].join('\n');
  assert.deepEqual(parseLogSympy(sympy), {
    'sympy/core/tests/test_basic.py:test_b': 'FAILED',
    test_a: 'PASSED',
    test_b: 'FAILED',
  });
});

void test('parse_log_django: its special cases, and a bare FAIL: raises as in Python', () => {
  const log = [
    'test_a (m.C) ... ok',
    'test_b (m.C) ...  OK',
    'Applying sites.0002_alter_domain_unique...test_no_migrations (m.C) ... ok',
    'test_c (m.C) ... skipped "no db"',
    'test_d (m.C) ... expected failure',
    'test_e (m.C) ... System check identified no issues (0 silenced).',
    'ok',
    'test_f (m.C) ... Internal Server Error: /x/',
    'ok',
    'FAIL: test_g (m.C)',
  ].join('\n');
  assert.deepEqual(parseLogDjango(log), {
    'test_a (m.C)': 'PASSED',
    'test_b (m.C)': 'PASSED',
    'test_no_migrations (m.C)': 'PASSED',
    'test_c (m.C)': 'SKIPPED',
    'test_e (m.C)': 'PASSED',
    'test_f (m.C)': 'PASSED',
    test_g: 'FAILED',
  });
  assert.throws(() => parseLogDjango('FAIL:'), PythonParserError);
  const crash = officialLogsEval('django', {
    exitCode: 0,
    timedOut: false,
    output: '>>>>> Start Test Output\nFAIL:\n>>>>> End Test Output\n',
  });
  assert.deepEqual([crash.found, crash.reason], [false, 'parser_crashed']);
});

void test('registry: repo map, parser families, the official id form', () => {
  assert.equal(Object.keys(MAP_REPO_TO_PARSER).length, 18);
  assert.equal(parserForRepo('sympy/sympy'), 'sympy');
  assert.equal(parserForRepo('scikit-learn/scikit-learn'), 'pytest_v2');
  assert.equal(parserForRepo('acme/widgets'), undefined);
  assert.equal(parserFamily('parse_log_pylint'), 'pytest_options');
  assert.equal(parserFamily('parse_log_nose'), undefined);
  assert.equal(officialTestId('pytest', 't.py::a[x y]'), 't.py::a[x');
  assert.equal(officialTestId('pytest_v2', 't.py::a[x y]'), 't.py::a[x y]');
  assert.equal(officialTestId('pytest_options', 't.py::a[/tmp/f]'), 't.py::a[/f]');
  assert.equal(officialTestId('django', 'test_a (m.C)'), 'test_a (m.C)');
});

void test('get_logs_eval: substring markers, first exit-code line, whole-log fallback, SUITE_RAN', () => {
  const run = (output: string, timedOut = false) => officialLogsEval('pytest', { exitCode: 0, timedOut, output });
  const wrap = (body: string, code: number, pre = '') =>
    `${pre}>>>>> Start Test Output\n${body}\n>>>>> End Test Output\n>>>>> Test Exit Code: ${code}\n`;
  assert.deepEqual(run(wrap('PASSED t.py::a', 0)).statuses, { 't.py::a': 'PASSED' });
  // The first exit-code line counts, forged or not.
  assert.equal(run(wrap('PASSED t.py::a\n>>>>> Test Exit Code: 0', 1)).found, true);
  assert.equal(run(wrap('PASSED t.py::a', 1)).reason, 'exit_code_mismatch');
  assert.equal(officialExitCode('>>>>> Test Exit Code:\n  -2'), -2);
  // Results before the markers: the whole log is parsed.
  assert.deepEqual(run(wrap('collected 1 item', 0, 'PASSED t.py::a\n')).statuses, { 't.py::a': 'PASSED' });
  // A bad-code marker anywhere, missing markers, timeouts, nothing parsed without SUITE_RAN.
  assert.equal(run(wrap('>>>>> Tests Errored\nPASSED t.py::a', 0)).reason, 'tests_errored');
  assert.equal(run('PASSED t.py::a').reason, 'no_test_output');
  assert.equal(run(wrap('PASSED t.py::a', 0), true).reason, 'tests_timed_out');
  assert.equal(run(wrap('1 passed in 0.1s', 0)).reason, 'no_tests_ran');
  assert.equal(run(wrap('Tests:  1 passed', 0)).found, true);
  // CRLF is read as Python's universal newlines read it.
  assert.deepEqual(run(wrap('PASSED t.py::a\r\nPASSED t.py::b\rPASSED t.py::c', 0)).statuses, {
    't.py::a': 'PASSED',
    't.py::b': 'PASSED',
    't.py::c': 'PASSED',
  });
});

void test('_resolve_case: exact, then truncated ids whose candidates agree on pass vs fail', () => {
  const sm = { 't::a[x y]': 'PASSED', 't::a[x z]': 'XFAIL', 't::b[1 2]': 'PASSED', 't::b[1 3]': 'FAILED' };
  assert.equal(resolveCase('t::a[x', sm), 't::a[x y]');
  assert.equal(resolveCase('t::b[1', sm), null);
  assert.equal(resolveCase('t::a', sm), null);
});

void test('strict pytest reading: XPASS with a pytest 7 reason keys the test id', () => {
  assert.deepEqual(parseTestLog('pytest', 'XPASS t.py::a known bug\nXPASS t.py::b[x y] why\nXPASS t.py::c - why'), {
    't.py::a': 'PASSED',
    't.py::b[x y]': 'PASSED',
    't.py::c': 'PASSED',
  });
});
