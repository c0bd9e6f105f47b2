import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunLog } from '../../contracts/grading';
import { deriveTask } from '../../activities/grading/derive';
import {
  APPLY_PATCH_FAIL,
  APPLY_PATCH_PASS,
  buildApplyPatchScript,
  buildEvalScript,
  testFilesOf,
} from '../../activities/grading/eval-script';
import { gradeInstance } from '../../activities/grading/grade';
import { judgeLog } from '../../activities/grading/verdict';

void test('testFilesOf: modified, new, deleted, renamed, binary and quoted paths', () => {
  const patch = [
    'diff --git a/tests/test_a.py b/tests/test_a.py',
    'index 1..2 100644',
    '--- a/tests/test_a.py',
    '+++ b/tests/test_a.py',
    '@@ -1 +1 @@',
    '--- a/not/a/header.py',
    'diff --git a/tests/test_new.py b/tests/test_new.py',
    'new file mode 100644',
    '--- /dev/null',
    '+++ b/tests/test_new.py',
    '@@ -0,0 +1 @@',
    '+x',
    'diff --git a/tests/old.py b/tests/old.py',
    'deleted file mode 100644',
    '--- a/tests/old.py',
    '+++ /dev/null',
    'diff --git a/tests/r1.py b/tests/r2.py',
    'similarity index 100%',
    'rename from tests/r1.py',
    'rename to tests/r2.py',
    'diff --git a/tests/data dir/img.png b/tests/data dir/img.png',
    'Binary files a/tests/data dir/img.png and b/tests/data dir/img.png differ',
    'diff --git "a/tests/caf\\303\\251.py" "b/tests/caf\\303\\251.py"',
    'new file mode 100644',
    'index 0000000..e69de29',
    '',
  ].join('\n');
  assert.deepEqual(testFilesOf(patch), [
    'tests/test_a.py',
    'tests/test_new.py',
    'tests/old.py',
    'tests/r1.py',
    'tests/r2.py',
    'tests/data dir/img.png',
    'tests/café.py',
  ]);
  assert.deepEqual(testFilesOf(''), []);
});

void test('buildEvalScript quotes env vars and rejects bad names; heredoc tag never collides', () => {
  const s = buildEvalScript({
    repoDir: '/testbed',
    baseCommit: 'abc1234',
    testPatch: 'EOF_114329324912\ndiff --git a/t.py b/t.py\n--- a/t.py\n+++ b/t.py\n@@ -1 +1 @@\n-a\n+x\n',
    testFiles: [],
    testCmd: 'pytest -rA',
    envVars: { LANG: "C.UTF-8 it's" },
  });
  assert.match(s, /^export LANG='C.UTF-8 it'\\''s'$/m);
  assert.match(s, /<<'EOF_114329324912_X'/);
  assert.match(s, /^TEST_FILES=\('t\.py'\)$/m);
  assert.throws(() =>
    buildEvalScript({
      repoDir: '/t',
      baseCommit: 'a',
      testPatch: '',
      testFiles: [],
      testCmd: 'x',
      envVars: { 'A-B': '1' },
    })
  );
});

// End to end on a real git repository with python3 + pytest.
let root = '';
let repo = '';
let base = '';
let testPatch = '';
let goldPatch = '';
const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  HOME: root,
  GIT_CONFIG_GLOBAL: join(root, 'gitconfig'),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
});
const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, env: env(), encoding: 'utf8' });
const runScript = (script: string): RunLog => {
  const r = spawnSync('bash', ['-c', `${script}`], { cwd: root, env: env(), encoding: 'utf8', timeout: 120_000 });
  return { exitCode: r.status, timedOut: r.error !== undefined, output: `${r.stdout}${r.stderr}` };
};
const write = (rel: string, text: string): void => writeFileSync(join(repo, rel), text);
const reset = (): void => {
  git('reset', '-q', '--hard', base);
  git('clean', '-qfdx');
};

const CALC_BUGGY = 'def add(a, b):\n    return a - b\n\n\ndef zero():\n    return 0\n';
const TESTS_OLD = 'from calc import zero\n\n\ndef test_zero():\n    assert zero() == 0\n';
const TESTS_NEW = `from calc import add, zero\n\n\ndef test_zero():\n    assert zero() == 0\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n@pytest.mark.parametrize("a,b", [(1, 1), (3, 0)])\ndef test_add_param(a, b):\n    assert add(a, b) == a + b\n`;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'bottega-grading-'));
  repo = join(root, 'testbed');
  execFileSync('git', ['init', '-q', repo], { env: env() });
  write('calc.py', CALC_BUGGY);
  execFileSync('mkdir', ['-p', join(repo, 'tests')]);
  write('tests/test_calc.py', TESTS_OLD);
  git('add', '-A');
  git('commit', '-qm', 'base');
  base = git('rev-parse', 'HEAD').trim();
  write('tests/test_calc.py', `import pytest\n${TESTS_NEW}`);
  write('tests/test_extra.py', 'def test_extra():\n    assert True\n');
  git('add', '-A');
  testPatch = git('diff', '--cached', base);
  reset();
  write('calc.py', CALC_BUGGY.replace('a - b', 'a + b'));
  goldPatch = git('diff', base);
  reset();
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const evalScript = (): string =>
  buildEvalScript({
    repoDir: repo,
    baseCommit: base,
    testPatch,
    testFiles: [],
    testCmd: 'python3 -m pytest -rA -v -p no:cacheprovider tests',
    envVars: { PYTHONDONTWRITEBYTECODE: '1' },
  });

/** Applies `patch` (if any) with the apply script, then runs the eval script; returns both logs. */
function attempt(patch: string | null, tamper?: () => void): { apply: RunLog | null; evalLog: RunLog } {
  reset();
  let apply: RunLog | null = null;
  if (patch !== null) {
    const path = join(root, 'model.patch');
    writeFileSync(path, patch);
    apply = runScript(buildApplyPatchScript(path, repo));
  }
  tamper?.();
  return { apply, evalLog: runScript(evalScript()) };
}

void test('eval script end to end: derive the task, then grade the gold patch, no patch and a broken patch', () => {
  assert.deepEqual(testFilesOf(testPatch), ['tests/test_calc.py', 'tests/test_extra.py']);
  const beforeRun = attempt(null).evalLog;
  const afterRun = attempt(goldPatch).evalLog;
  const vBefore = judgeLog('pytest', beforeRun);
  const vAfter = judgeLog('pytest', afterRun);
  assert.equal(vBefore.valid, true, beforeRun.output);
  assert.equal(vAfter.valid, true, afterRun.output);
  const derived = deriveTask([vBefore.statuses], [vAfter.statuses]);
  assert.deepEqual(derived, {
    FAIL_TO_PASS: ['tests/test_calc.py::test_add', 'tests/test_calc.py::test_add_param[1-1]'],
    PASS_TO_PASS: [
      'tests/test_calc.py::test_add_param[3-0]',
      'tests/test_calc.py::test_zero',
      'tests/test_extra.py::test_extra',
    ],
    FAIL_TO_FAIL: [],
    PASS_TO_FAIL: [],
    flaky: [],
  });
  // The eval script put the test files back as they were at the base commit.
  assert.equal(readFileSync(join(repo, 'tests/test_calc.py'), 'utf8'), TESTS_OLD);
  assert.equal(git('status', '--porcelain', '--', 'tests'), '');

  const task = { FAIL_TO_PASS: derived.FAIL_TO_PASS, PASS_TO_PASS: derived.PASS_TO_PASS };
  const grade = (patch: string | null, run: { apply: RunLog | null; evalLog: RunLog }) =>
    gradeInstance({ task, patch, applied: run.apply?.exitCode === 0, log: run.evalLog, parser: 'pytest' });

  // The fix resolves, even if the agent also pre-created the new test file and edited the tests.
  const gold = attempt(goldPatch, () => {
    write('tests/test_calc.py', 'def test_zero():\n    pass\n');
    write('tests/test_extra.py', 'raise SystemExit(0)\n');
  });
  assert.ok(gold.apply?.output.includes(APPLY_PATCH_PASS));
  assert.equal(grade(goldPatch, gold).resolved, true, gold.evalLog.output);

  // A patch that changes nothing relevant does not.
  const noop = 'diff --git a/README b/README\nnew file mode 100644\n--- /dev/null\n+++ b/README\n@@ -0,0 +1 @@\n+hi\n';
  const unfixed = grade(noop, attempt(noop));
  assert.equal(unfixed.patch_successfully_applied, true);
  assert.equal(unfixed.resolved, false);
  assert.deepEqual(unfixed.tests_status.FAIL_TO_PASS.failure, derived.FAIL_TO_PASS);
  assert.deepEqual(unfixed.tests_status.PASS_TO_PASS.failure, []);

  // A patch that does not apply falls through every strategy and is reported as such.
  const broken = goldPatch.replace('-    return a - b', '-    return a * b');
  const run = attempt(broken);
  assert.equal(run.apply?.exitCode, 1);
  assert.ok(run.apply?.output.includes(APPLY_PATCH_FAIL));
  assert.equal(judgeLog('pytest', run.apply!).reason, 'patch_apply_failed');
  const report = grade(broken, run);
  assert.deepEqual([report.patch_successfully_applied, report.resolved], [false, false]);
});
