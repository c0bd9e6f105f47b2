import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestStatusMap } from '../../contracts/grading';
import { deriveTask } from '../../activities/grading/derive';

void test('deriveTask: F2P/P2P/F2F/P2F across repeated runs, flaky tests excluded and reported', () => {
  const before: TestStatusMap[] = [
    { 't::new': 'FAILED', 't::old': 'PASSED', 't::flaky': 'PASSED', 't::broken': 'ERROR', 't::regress': 'PASSED' },
    { 't::new': 'ERROR', 't::old': 'PASSED', 't::flaky': 'FAILED', 't::broken': 'FAILED', 't::regress': 'PASSED' },
  ];
  const after: TestStatusMap[] = [
    { 't::new': 'PASSED', 't::old': 'PASSED', 't::flaky': 'PASSED', 't::broken': 'FAILED', 't::regress': 'FAILED' },
    { 't::new': 'PASSED', 't::old': 'XFAIL', 't::flaky': 'PASSED', 't::broken': 'FAILED', 't::regress': 'FAILED' },
  ];
  assert.deepEqual(deriveTask(before, after), {
    FAIL_TO_PASS: ['t::new'],
    PASS_TO_PASS: ['t::old'],
    FAIL_TO_FAIL: ['t::broken'],
    PASS_TO_FAIL: ['t::regress'],
    flaky: ['t::flaky'],
  });
});

void test('deriveTask: missing before counts as failing, skipped goes nowhere, flaky in the after phase too', () => {
  const d = deriveTask(
    [{ 'b::skip': 'SKIPPED', 'b::p': 'PASSED', 'b::z': 'PASSED' }],
    [
      { 'a::added': 'PASSED', 'b::skip': 'PASSED', 'b::p': 'PASSED', 'b::z': 'PASSED' },
      { 'a::added': 'PASSED', 'b::skip': 'PASSED', 'b::p': 'PASSED' },
    ]
  );
  assert.deepEqual(d, {
    FAIL_TO_PASS: ['a::added'],
    PASS_TO_PASS: ['b::p'],
    FAIL_TO_FAIL: [],
    PASS_TO_FAIL: [],
    flaky: ['b::z'],
  });
  assert.throws(() => deriveTask([], [{}]), /at least one run/);
});
