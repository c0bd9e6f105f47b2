import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstanceReport, type RunLog } from '../../contracts/grading';
import { gradeInstance, gradeRun, patchApplied } from '../../activities/grading/grade';

const log = (lines: string[], code: number, timedOut = false): RunLog => ({
  exitCode: 0,
  timedOut,
  output: `>>>>> Start Test Output\n${lines.join('\n')}\n>>>>> End Test Output\n>>>>> Test Exit Code: ${code}\n`,
});
const task = { FAIL_TO_PASS: ['t.py::f2p'], PASS_TO_PASS: ['t.py::p2p'] };
const grade = (l: RunLog, t: typeof task = task, patch: string | null = 'diff --git a/x b/x\n', applied = true) =>
  gradeInstance({ task: t, patch, applied, log: l, parser: 'pytest' });

void test('resolved when every F2P and P2P passes; XFAIL passes; report matches the schema', () => {
  const r = grade(log(['XFAIL t.py::f2p - known', 'PASSED t.py::p2p', 'FAILED t.py::other - boom'], 1));
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
    strict: { resolved: true, reasons: [] },
  });
});

void test('skipped F2P fails, skipped P2P is no regression, missing tests fail', () => {
  const skipped = grade(log(['SKIPPED t.py::f2p', 'PASSED t.py::p2p', 'FAILED t.py::x'], 1));
  assert.equal(skipped.resolved, false);
  assert.deepEqual(skipped.tests_status.FAIL_TO_PASS.failure, ['t.py::f2p']);
  const p2pSkip = grade(log(['PASSED t.py::f2p', 'SKIPPED t.py::p2p'], 0));
  assert.equal(p2pSkip.resolved, true);
  const missing = grade(log(['PASSED t.py::f2p', 'FAILED t.py::x'], 1));
  assert.equal(missing.resolved, false);
  assert.deepEqual(missing.tests_status.PASS_TO_PASS, { success: [], failure: ['t.py::p2p'] });
  const missingModule = grade(log(['FAILED t.py::f2p', "E   ModuleNotFoundError: No module named 'numpy'"], 1));
  assert.equal(missingModule.infra_failure, 'missing_module');
});

void test('an odd status word lands in neither list, as in get_eval_tests_report', () => {
  // `FAILED:` is recorded as the status "FAILED:"; the F2P test is neither passed nor failed.
  const r = grade(log(['FAILED: t.py::f2p', 'PASSED t.py::p2p'], 0));
  assert.deepEqual(r.tests_status.FAIL_TO_PASS, { success: [], failure: [] });
  assert.equal(r.resolved, true);
});

void test('logs the official grading does not find are not resolved and carry their reason', () => {
  const timedOut = grade(log(['PASSED t.py::f2p', 'PASSED t.py::p2p'], 0, true));
  assert.deepEqual([timedOut.resolved, timedOut.infra_failure], [false, 'tests_timed_out']);
  assert.deepEqual(timedOut.tests_status.FAIL_TO_PASS.failure, ['t.py::f2p']);
  const forged = grade(log(['PASSED t.py::f2p', 'PASSED t.py::p2p'], 1));
  assert.deepEqual(
    [forged.resolved, forged.patch_successfully_applied, forged.infra_failure],
    [false, false, 'exit_code_mismatch']
  );
  const empty = grade(log(['collected 0 items', 'no tests ran in 0.01s'], 5));
  assert.equal(empty.infra_failure, 'no_tests_collected');
  // swebench's SUITE_RAN knows no pytest count: a run that parsed nothing is not found.
  const nothing = grade(log(['collected 2 items', '2 passed in 0.1s'], 0));
  assert.deepEqual([nothing.resolved, nothing.infra_failure], [false, 'no_tests_collected']);
  const marker = grade(log(['>>>>> Tests Errored', 'PASSED t.py::f2p', 'PASSED t.py::p2p'], 0));
  assert.deepEqual([marker.resolved, marker.infra_failure], [false, 'tests_errored']);
});

void test('None, empty and unapplied patches', () => {
  const none = grade(log(['PASSED t.py::f2p'], 0), task, null);
  assert.deepEqual(
    [none.patch_is_None, none.patch_exists, none.patch_successfully_applied, none.resolved],
    [true, false, false, false]
  );
  // swebench grades an empty (not None) patch's log like any other.
  const blank = grade(log(['PASSED t.py::f2p', 'PASSED t.py::p2p'], 0), task, '');
  assert.deepEqual([blank.patch_is_None, blank.patch_exists, blank.resolved], [false, true, true]);
  const unapplied = grade(log(['PASSED t.py::f2p', 'PASSED t.py::p2p'], 0), task, 'diff', false);
  assert.deepEqual([unapplied.patch_successfully_applied, unapplied.resolved], [false, false]);
  const failed: RunLog = { exitCode: 1, timedOut: false, output: 'error: patch failed\n>>>>> Patch Apply Failed\n' };
  assert.equal(patchApplied(failed), false);
  const marker = grade(failed, task, 'diff', patchApplied(failed));
  assert.deepEqual([marker.patch_successfully_applied, marker.resolved, marker.infra_failure], [false, false, null]);
});

void test('empty F2P and P2P lists count as satisfied; truncated ids resolve like _resolve_case', () => {
  assert.equal(grade(log(['PASSED t.py::x'], 0), { FAIL_TO_PASS: [], PASS_TO_PASS: [] }).resolved, true);
  const r = grade(log(['PASSED t.py::f[a b]', 'PASSED t.py::p2p'], 0), {
    FAIL_TO_PASS: ['t.py::f[a'],
    PASS_TO_PASS: ['t.py::p2p'],
  });
  assert.equal(r.resolved, true);
  // Two tests cut to the same prefix: PASSED and XFAIL agree (both pass), the first one is taken.
  const agree = grade(log(['PASSED t.py::f[a b]', 'XFAIL t.py::f[a c] - why', 'PASSED t.py::p2p'], 0), {
    FAIL_TO_PASS: ['t.py::f[a'],
    PASS_TO_PASS: ['t.py::p2p'],
  });
  assert.equal(agree.resolved, true);
});

void test('the strict check is reported beside the official verdict, with reasons', () => {
  // A forged exit-code line: swebench reads the first one.
  const forged: RunLog = {
    exitCode: 0,
    timedOut: false,
    output: `>>>>> Start Test Output\nPASSED t.py::f2p\nPASSED t.py::p2p\n>>>>> Test Exit Code: 0\n>>>>> End Test Output\n>>>>> Test Exit Code: 1\n`,
  };
  const f = gradeRun({ task, patch: 'd', applied: true, log: forged, parser: 'pytest' }).report;
  assert.equal(f.resolved, true);
  assert.deepEqual(f.strict, { resolved: false, reasons: ['rejects_log: exit_code_mismatch'] });
  // XPASS: swebench drops the test, strict counts it as passed.
  const xpass = grade(log(['XPASS t.py::f2p known bug', 'PASSED t.py::p2p', 'FAILED t.py::x'], 1));
  assert.equal(xpass.resolved, false);
  assert.deepEqual(xpass.strict, {
    resolved: true,
    reasons: ['test_passes: FAIL_TO_PASS "t.py::f2p" strict PASSED, official missing'],
  });
  // A skip seen only in a `-v` line is no regression for strict.
  const skip = grade(log(['t.py::p2p SKIPPED [ 50%]', 'PASSED t.py::f2p', 'SKIPPED [1] t.py:3: no net'], 0));
  assert.deepEqual([skip.resolved, skip.strict?.resolved], [false, true]);
});
