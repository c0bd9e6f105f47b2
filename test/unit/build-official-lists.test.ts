/** A record's own FAIL_TO_PASS / PASS_TO_PASS: kept verbatim, checked test by test with swebench's functions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkOfficialLists, describeMismatches, recordLists } from '../../activities/build/official-lists';
import { BuildConfig } from '../../contracts/build';
import { TaskRecord } from '../../contracts/task';

const F = 'tests/t.py::test_fix';
const P = 'tests/t.py::test_old';

describe('recordLists', () => {
  it('keeps the strings and their order (JSON-encoded strings decoded, nothing sorted or deduplicated)', () => {
    const rec = TaskRecord.parse({
      instance_id: 'a__b-1',
      repo: 'a/b',
      base_commit: 'abc1234',
      patch: '',
      test_patch: '',
      FAIL_TO_PASS: JSON.stringify(['z[a b]', 'a']),
      PASS_TO_PASS: ['y', 'x', 'y'],
    });
    assert.deepEqual(recordLists(rec), { FAIL_TO_PASS: ['z[a b]', 'a'], PASS_TO_PASS: ['y', 'x', 'y'] });
    assert.equal(recordLists({}), null, 'a mined task has none: derived');
    assert.deepEqual(recordLists({ FAIL_TO_PASS: [F] }), { FAIL_TO_PASS: [F], PASS_TO_PASS: [] });
  });
});

describe('checkOfficialLists', () => {
  const lists = { FAIL_TO_PASS: [F], PASS_TO_PASS: [P] };

  it('lists that hold: no mismatch (a new FAIL_TO_PASS test may be missing before; skips maintain)', () => {
    const before = [{ [P]: 'PASSED' }, { [P]: 'SKIPPED' }];
    const after = [
      { [F]: 'PASSED', [P]: 'PASSED' },
      { [F]: 'XFAIL', [P]: 'PASSED' },
    ];
    assert.deepEqual(checkOfficialLists(lists, before, after), []);
  });

  it('names each test and what was seen in each run', () => {
    const wrong = { FAIL_TO_PASS: [F], PASS_TO_PASS: [P, 'tests/t.py::test_gone'] };
    const before = [{ [F]: 'PASSED', [P]: 'FAILED' }];
    const after = [{ [F]: 'FAILED', [P]: 'PASSED' }];
    const ms = checkOfficialLists(wrong, before, after);
    assert.deepEqual(
      ms.map((m) => [m.list, m.test, m.problem]),
      [
        ['FAIL_TO_PASS', F, 'passes_before'],
        ['FAIL_TO_PASS', F, 'fails_after'],
        ['PASS_TO_PASS', P, 'fails_before'],
        ['PASS_TO_PASS', 'tests/t.py::test_gone', 'missing_before'],
        ['PASS_TO_PASS', 'tests/t.py::test_gone', 'missing_after'],
      ]
    );
    assert.deepEqual(ms[1]!.seen, { before: ['PASSED'], after: ['FAILED'] });
    assert.match(
      describeMismatches(ms, 2),
      /^FAIL_TO_PASS "tests\/t.py::test_fix" passes_before \(before: PASSED\); .* and 3 more$/
    );
  });

  it("a flaky test fails in one run; truncated ids resolve as swebench's _resolve_case does", () => {
    const after = [
      { [F]: 'PASSED', [P]: 'PASSED' },
      { [F]: 'FAILED', [P]: 'PASSED' },
    ];
    const ms = checkOfficialLists(lists, [{ [P]: 'PASSED' }], after);
    assert.deepEqual(
      ms.map((m) => [m.problem, m.seen.after]),
      [['fails_after', ['PASSED', 'FAILED']]]
    );
    const cut = { FAIL_TO_PASS: ['tests/t.py::test_p[a'], PASS_TO_PASS: [] };
    assert.deepEqual(checkOfficialLists(cut, [{}], [{ 'tests/t.py::test_p[a b]': 'PASSED' }]), []);
  });

  it('defaults: mismatches drop the task, file-scoped tests', () => {
    const c = BuildConfig.parse({ tasks: { files: ['t.jsonl'] } });
    assert.equal(c.official_lists_mismatch, 'drop');
    assert.equal(c.test_scope, 'files');
  });
});
