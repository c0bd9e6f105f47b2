import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTaskCandidate, isTestPath } from '../../activities/mine/task-candidates';
import { makePr } from '../helpers/pr';

const SRC_BEFORE = 'def add(a, b):\n    return a - b\n';
const SRC_AFTER = 'def add(a, b):\n    return a + b\n';
const TEST_AFTER = 'from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n';

function candidatePr() {
  return makePr({
    linked_issues: [
      {
        number: 3,
        title: 'add() subtracts',
        body: 'add(1, 2) returns -1',
        created_at: '2024-01-01T00:00:00Z',
        comments: [
          { author: 'bob', body: 'confirmed', created_at: '2024-01-01T10:00:00Z' },
          { author: 'alice', body: 'fixed in PR', created_at: '2024-01-05T00:00:00Z' },
        ],
      },
    ],
    commits: [
      {
        sha: 'c1'.repeat(20),
        parents: ['p'.repeat(40)],
        author: 'alice',
        authored_at: '2024-01-02T00:00:00Z',
        message: 'fix add',
        refined_message: null,
        diffs: [
          {
            path: 'pkg/calc.py',
            previous_path: null,
            status: 'modified',
            binary: false,
            patch: '@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n',
          },
          {
            path: 'tests/test_calc.py',
            previous_path: null,
            status: 'added',
            binary: false,
            patch: `@@ -0,0 +1,5 @@\n${TEST_AFTER.split('\n')
              .slice(0, -1)
              .map((l) => `+${l}`)
              .join('\n')}\n`,
          },
        ],
      },
    ],
    changed_files: [
      { path: 'pkg/calc.py', previous_path: null, status: 'modified' },
      { path: 'tests/test_calc.py', previous_path: null, status: 'added' },
    ],
    relevant_files: [{ path: 'pkg/calc.py', content: SRC_BEFORE }],
  });
}

describe('task candidates', () => {
  it('classifies test paths like SWE-bench', () => {
    for (const p of ['tests/test_x.py', 'pkg/testing/util.py', 'test_x.py', 'pkg/x_test.py', 'conftest.py'])
      assert.ok(isTestPath(p), p);
    for (const p of ['pkg/x.py', 'pkg/contest.py', 'docs/latest.md']) assert.ok(!isTestPath(p), p);
  });

  it('builds patch, test_patch, problem statement and hints before the first commit', () => {
    const r = buildTaskCandidate(candidatePr());
    assert.ok(r.candidate, `expected a candidate, got ${r.reason}`);
    const c = r.candidate;
    assert.equal(c.instance_id, 'acme__widgets-7');
    assert.equal(c.base_commit, 'p'.repeat(40));
    assert.match(
      c.patch,
      /^diff --git a\/pkg\/calc.py b\/pkg\/calc.py\n--- a\/pkg\/calc.py\n\+\+\+ b\/pkg\/calc.py\n@@ -1,2 \+1,2 @@/
    );
    assert.match(
      c.test_patch,
      /new file mode 100644\n--- \/dev\/null\n\+\+\+ b\/tests\/test_calc.py\n@@ -0,0 \+1,5 @@/
    );
    assert.equal(c.problem_statement, 'add() subtracts\nadd(1, 2) returns -1\n');
    assert.equal(c.hints_text, 'confirmed');
    assert.deepEqual(c.issue_numbers, [3]);
  });

  it('produces patches that git apply accepts at the base commit', () => {
    const c = buildTaskCandidate(candidatePr()).candidate!;
    const dir = mkdtempSync(join(tmpdir(), 'bottega-tc-'));
    mkdirSync(join(dir, 'pkg'));
    writeFileSync(join(dir, 'pkg/calc.py'), SRC_BEFORE);
    execFileSync('git', ['init', '-q'], { cwd: dir });
    writeFileSync(join(dir, 'p.diff'), c.patch + c.test_patch);
    execFileSync('git', ['apply', '--check', 'p.diff'], { cwd: dir });
    execFileSync('git', ['apply', 'p.diff'], { cwd: dir });
    assert.equal(execFileSync('cat', ['pkg/calc.py'], { cwd: dir, encoding: 'utf8' }), SRC_AFTER);
    assert.equal(execFileSync('cat', ['tests/test_calc.py'], { cwd: dir, encoding: 'utf8' }), TEST_AFTER);
  });

  it('counts why a PR is not a candidate', () => {
    assert.equal(buildTaskCandidate(makePr()).reason, 'no_linked_issue');
    const pr = candidatePr();
    pr.changed_files = pr.changed_files.filter((f) => f.path.startsWith('pkg'));
    assert.equal(buildTaskCandidate(pr).reason, 'no_test_changes');
    const bin = candidatePr();
    bin.commits[0]!.diffs[0]!.binary = true;
    assert.equal(buildTaskCandidate(bin).reason, 'unreadable_file');
  });
});
