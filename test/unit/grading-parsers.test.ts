import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TestStatusMap } from '../../contracts/grading';
import { extractJunitXml, parseTestLog } from '../../activities/grading/parsers/index';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8');

const PYTEST_EXPECTED = {
  'tests/test_x.py::test_a[1-2]': 'PASSED',
  'tests/test_x.py::test_a[3-4]': 'PASSED',
  'tests/test_x.py::test_b[a b]': 'PASSED',
  'tests/test_x.py::test_b[x[y]]': 'PASSED',
  'tests/test_x.py::test_b[ok]': 'FAILED',
  'tests/test_x.py::test_long[path0]': 'PASSED',
  'tests/test_x.py::test_fail': 'FAILED',
  'tests/test_x.py::test_error': 'ERROR',
  'tests/test_x.py::test_skipped': 'SKIPPED',
  'tests/test_x.py::test_xfail': 'XFAIL',
  'tests/test_x.py::test_xpass': 'PASSED',
  'tests/test_x.py::TestK::test_method': 'PASSED',
};

void test('pytest -rA -v: verbose lines with percent suffixes, parametrized ids with spaces and brackets', () => {
  const map = parseTestLog('pytest', fixture('pytest-ra-verbose.txt'));
  assert.deepEqual(map, PYTEST_EXPECTED);
  assert.ok(TestStatusMap.safeParse(map).success);
});

void test('pytest -rA with colour: ANSI codes stripped, summary lines only (skips without ids dropped)', () => {
  const map = parseTestLog('pytest', fixture('pytest-ra-color.txt'));
  const { 'tests/test_x.py::test_skipped': _skipped, ...expected } = PYTEST_EXPECTED;
  assert.deepEqual(map, expected);
});

void test('pytest summary: " - " inside ids, xdist lines, collection errors, teardown errors are sticky', () => {
  const log = [
    'tests/t.py::test_c[a - b] FAILED                                  [ 50%]',
    '[gw1] [100%] PASSED tests/t.py::test_d',
    'tests/t.py::test_e PASSED',
    'tests/t.py::test_e ERROR',
    '=========================== short test summary info ============================',
    'PASSED tests/t.py::test_e',
    'FAILED tests/t.py::test_c[a - b] - AssertionError: x - y',
    'FAILED tests/t.py::test_f[p - q] - ValueError',
    'ERROR tests/test_broken.py - ModuleNotFoundError: No module named "zzz"',
  ].join('\n');
  assert.deepEqual(parseTestLog('pytest', log), {
    'tests/t.py::test_c[a - b]': 'FAILED',
    'tests/t.py::test_d': 'PASSED',
    'tests/t.py::test_e': 'ERROR',
    'tests/t.py::test_f[p - q]': 'FAILED',
    'tests/test_broken.py': 'ERROR',
  });
  assert.deepEqual(parseTestLog('pytest', fixture('pytest-collect-error.txt')), { 't2/test_broken.py': 'ERROR' });
});

void test('unittest: Python 3.9 and 3.11 id forms, docstrings, output glued to the result', () => {
  const common = {
    test_add: 'PASSED',
    test_boom: 'ERROR',
    test_doc: 'PASSED',
    test_known: 'XFAIL',
    test_net: 'SKIPPED',
    test_print: 'PASSED',
    test_sub: 'FAILED',
    test_surprise: 'FAILED',
  } as const;
  const py39 = parseTestLog('unittest', fixture('unittest-py39.txt'));
  const py311 = parseTestLog('unittest', fixture('unittest-py311.txt'));
  for (const [name, status] of Object.entries(common)) {
    assert.equal(py39[`${name} (pkg.test_mod.MathTests)`], status, name);
    assert.equal(py311[`${name} (pkg.test_mod.MathTests.${name})`], status, name);
  }
  assert.equal(py39['test_ok (pkg.test_mod.OtherTests)'], 'PASSED');
  // test_doc's docstring line is a second key for it, as in SWE-bench's parser.
  assert.equal(Object.keys(py39).length, 10);
  assert.equal(Object.keys(py311).length, 10);
});

void test('unittest: result on a later line and subtest FAIL blocks', () => {
  const log = [
    'test_late (m.C) ... some output',
    'more output',
    'ok',
    'test_sub (m.C.test_sub) ... ',
    '======================================================================',
    'FAIL: test_sub (m.C.test_sub) (i=2)',
    '----------------------------------------------------------------------',
  ].join('\n');
  assert.deepEqual(parseTestLog('unittest', log), { 'test_late (m.C)': 'PASSED', 'test_sub (m.C.test_sub)': 'FAILED' });
});

void test('django: migration noise before ids, "ok" on the following line, docstrings, FAIL/ERROR blocks', () => {
  assert.deepEqual(parseTestLog('django', fixture('django-verbose.txt')), {
    'test_no_migrations (migrations.test_commands.MakeMigrationsTests)': 'PASSED',
    'test_changelist_view (admin_views.tests.AdminViewBasicTest)': 'PASSED',
    'test_add_view (admin_views.tests.AdminViewBasicTest)': 'FAILED',
    'test_delete_view (admin_views.tests.AdminViewBasicTest)': 'ERROR',
    'test_history_view (admin_views.tests.AdminViewBasicTest)': 'SKIPPED',
    'test_makemigrations_check (migrations.test_commands.MakeMigrationsTests)': 'PASSED',
    'test_sqlmigrate (migrations.test_commands.MigrateTests)': 'PASSED',
    'test_squash_docstring (migrations.test_commands.SquashMigrationsTests)': 'PASSED',
    // The docstring line that carries the result keys the same test (SWE-bench's Django lists use it).
    'Squashing migrations keeps the original docstring': 'PASSED',
    'test_known_bug (migrations.test_commands.SquashMigrationsTests)': 'XFAIL',
  });
});

void test('junit: pytest --junitxml report, classname::name ids, xfail vs skip', () => {
  const map = parseTestLog('junit', fixture('pytest-junit.xml'));
  const expected = Object.fromEntries(
    Object.entries(PYTEST_EXPECTED).map(([id, s]) => [
      id.replace('tests/test_x.py::TestK::', 'tests.test_x.TestK::').replace('tests/test_x.py::', 'tests.test_x::'),
      s,
    ])
  );
  assert.deepEqual(map, expected);
});

void test('junit: several reports embedded in a log, text around them dropped', () => {
  const log = fixture('junit-in-log.txt');
  const xml = extractJunitXml(log);
  assert.ok(xml && !xml.includes('generated xml file') && !xml.includes('<?xml'));
  const map = parseTestLog('junit', log);
  assert.equal(Object.keys(map).length, 14);
  assert.equal(map['t2.test_y::test_y_ok'], 'PASSED');
  assert.equal(map['t2.test_y::test_y_bad'], 'FAILED');
  assert.equal(map['tests.test_x::test_b[a b]'], 'PASSED');
});

void test('junit: surefire-style nested suites without classname, and garbage', () => {
  const log = `noise <b>\n<testsuite name="a"><testsuite name="b"><testcase name="t1"/><testcase classname="C" name="t2"><error/></testcase></testsuite></testsuite>\ntrailer`;
  assert.deepEqual(parseTestLog('junit', log), { t1: 'PASSED', 'C::t2': 'ERROR' });
  assert.deepEqual(parseTestLog('junit', 'no xml here'), {});
});

void test('django: Python 3.11 ids and the multi-line --version help test', () => {
  const log = [
    'test_get_version (admin_scripts.tests.CommandTypes.test_get_version) ... ok',
    'test_version (admin_scripts.tests.CommandTypes.test_version)',
    '--version is equivalent to version ... ok',
  ].join('\n');
  assert.deepEqual(parseTestLog('django', log), {
    'test_get_version (admin_scripts.tests.CommandTypes.test_get_version)': 'PASSED',
    'test_version (admin_scripts.tests.CommandTypes.test_version)': 'PASSED',
    '--version is equivalent to version': 'PASSED',
  });
});
