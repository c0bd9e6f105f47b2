import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceReport, type RunLog } from '../../contracts/grading';
import { gradeInstance } from '../../activities/grading/grade';

const log = (lines: string[], code: number, timedOut = false): RunLog => ({
  exitCode: 0,
  timedOut,
  output: `>>>>> Start Test Output\n${lines.join('\n')}\n>>>>> End Test Output\n>>>>> Test Exit Code: ${code}\n`,
});
const task = { FAIL_TO_PASS: ['t.py::f2p'], PASS_TO_PASS: ['t.py::p2p'] };
const grade = (l: RunLog, t: typeof task = task, patch: string | null = 'diff --git a/x b/x\n', applied = true) =>
  gradeInstance({ task: t, patch, applied, log: l, parser: 'pytest' });

void test('resolved when every F2P and P2P passes; XFAIL passes; report matches the schema', () => {
  const r = grade(log(['t.py::f2p XFAIL', 't.py::p2p PASSED', 't.py::other FAILED'], 1));
  assert.ok(InstanceReport.safeParse(r).success);
  assert.deepEqual(r, {
    patch_is_None: false,
    patch_exists: true,
    patch_successfully_applied: true,
    resolved: true,
    infra_failure: null,
    tests_status: {
      FAIL_TO_PASS: { success: ['t.py::f2p'], failure: [] },
      PASS_TO_PASS: { success: ['t.py::p2p'], failure: [] },
      FAIL_TO_FAIL: { success: [], failure: [] },
      PASS_TO_FAIL: { success: [], failure: [] },
    },
  });
});

void test('skipped F2P fails, skipped P2P is no regression, missing tests fail', () => {
  const skipped = grade(log(['t.py::f2p SKIPPED', 't.py::p2p PASSED', 't.py::x FAILED'], 1));
  assert.equal(skipped.resolved, false);
  assert.deepEqual(skipped.tests_status.FAIL_TO_PASS.failure, ['t.py::f2p']);
  const p2pSkip = grade(log(['t.py::f2p PASSED', 't.py::p2p SKIPPED'], 0));
  assert.equal(p2pSkip.resolved, true);
  const missing = grade(log(['t.py::f2p PASSED', 't.py::x FAILED'], 1));
  assert.equal(missing.resolved, false);
  assert.deepEqual(missing.tests_status.PASS_TO_PASS, { success: [], failure: ['t.py::p2p'] });
  const missingModule = grade(log(['t.py::f2p FAILED', "E   ModuleNotFoundError: No module named 'numpy'"], 1));
  assert.equal(missingModule.infra_failure, 'missing_module');
});

void test('invalid logs are not resolved and carry their label; None/empty/unapplied patches', () => {
  const timedOut = grade(log(['t.py::f2p PASSED', 't.py::p2p PASSED'], 0, true));
  assert.deepEqual([timedOut.resolved, timedOut.infra_failure], [false, 'tests_timed_out']);
  assert.deepEqual(timedOut.tests_status.FAIL_TO_PASS.failure, ['t.py::f2p']);
  const forged = grade(log(['t.py::f2p PASSED', 't.py::p2p PASSED'], 1));
  assert.deepEqual([forged.resolved, forged.infra_failure], [false, 'exit_code_mismatch']);
  const empty = grade(log(['collected 0 items', 'no tests ran in 0.01s'], 5));
  assert.equal(empty.infra_failure, 'no_tests_collected');
  const nothing = grade(log([''], 0));
  assert.equal(nothing.infra_failure, 'no_tests_collected');

  const none = grade(log(['t.py::f2p PASSED'], 0), task, null);
  assert.deepEqual(
    [none.patch_is_None, none.patch_exists, none.patch_successfully_applied, none.resolved],
    [true, false, false, false]
  );
  const blank = grade(log(['t.py::f2p PASSED'], 0), task, '  \n');
  assert.deepEqual([blank.patch_is_None, blank.patch_exists, blank.resolved], [false, false, false]);
  const unapplied = grade(log(['t.py::f2p PASSED', 't.py::p2p PASSED'], 0), task, 'diff', false);
  assert.deepEqual([unapplied.patch_successfully_applied, unapplied.resolved], [false, false]);
  const marker = grade({ exitCode: 1, timedOut: false, output: '>>>>> Patch Apply Failed\n' });
  assert.deepEqual([marker.patch_successfully_applied, marker.resolved, marker.infra_failure], [false, false, null]);
});

void test('empty F2P and P2P lists count as satisfied (SWE-bench); truncated ids are matched', () => {
  assert.equal(grade(log(['t.py::x PASSED'], 0), { FAIL_TO_PASS: [], PASS_TO_PASS: [] }).resolved, true);
  const r = grade(log(['t.py::f[a b] PASSED', 't.py::p2p PASSED'], 0), {
    FAIL_TO_PASS: ['t.py::f[a'],
    PASS_TO_PASS: ['t.py::p2p'],
  });
  assert.equal(r.resolved, true);
});
