/** Test scope: SWE-bench's test directives (get_test_directives), bottega's runner filters, the scoped command. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OFFICIAL_SPECS } from '../../activities/build/official-specs.data';
import { buildEvalScript } from '../../activities/grading/eval-script';
import {
  NON_TEST_EXTS,
  recordedTestScope,
  scopedTestCommand,
  swebenchTestDirectives,
  testDirectives,
} from '../../activities/grading/test-directives';

const section = (p: string, opts: { deleted?: boolean } = {}) =>
  opts.deleted
    ? `diff --git a/${p} b/${p}\ndeleted file mode 100644\n--- a/${p}\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n`
    : `diff --git a/${p} b/${p}\n--- a/${p}\n+++ b/${p}\n@@ -1 +1 @@\n-x\n+y\n`;
const patchOf = (...paths: string[]) => paths.map((p) => section(p)).join('');
const PYTEST = { test_cmd: 'pytest -rA', log_parser: 'pytest' } as const;

describe("swebenchTestDirectives (swebench's get_test_directives)", () => {
  it('pytest repositories: the paths, non-test extensions dropped, in patch order, duplicates kept', () => {
    const patch = patchOf('tests/test_b.py', 'tests/data/x.json', 'tests/a.csv', 'docs/x.md', 'tests/test_a.py');
    assert.deepEqual(swebenchTestDirectives('pallets/flask', patch), ['tests/test_b.py', 'tests/test_a.py']);
    assert.deepEqual(NON_TEST_EXTS, OFFICIAL_SPECS.non_test_exts, 'the same list as the exported spec table');
  });

  it('Django: module labels relative to tests/', () => {
    const patch = patchOf('tests/auth_tests/test_validators.py', 'tests/queries/tests.py', 'django/test/x.py');
    assert.deepEqual(swebenchTestDirectives('django/django', patch), [
      'auth_tests.test_validators',
      'queries.tests',
      'django.test.x',
    ]);
  });

  it('sympy: the files, passed to bin/test as they are', () => {
    const patch = patchOf('sympy/core/tests/test_basic.py', 'sympy/core/basic.py');
    assert.deepEqual(swebenchTestDirectives('sympy/sympy', patch), [
      'sympy/core/tests/test_basic.py',
      'sympy/core/basic.py',
    ]);
  });

  it("the regex is swebench's: greedy, and it matches inside a patch's content lines", () => {
    assert.deepEqual(swebenchTestDirectives('x/y', 'diff --git a/t b/x b/tests/test_z.py\n'), ['tests/test_z.py']);
    const inner = `${section('tests/test_a.py')}+# diff --git a/q b/tests/test_q.py\n`;
    assert.deepEqual(swebenchTestDirectives('x/y', inner), ['tests/test_a.py', 'tests/test_q.py']);
  });
});

describe('testDirectives: what runs', () => {
  it('pytest: files pytest cannot collect when named, and deleted files, are dropped with the reason', () => {
    const patch = [
      section('tests/test_a.py'),
      section('tests/data/page.html'),
      section('tests/old_test.py', { deleted: true }),
      section('docs/usage.rst'),
    ].join('');
    const r = testDirectives({ repo: 'acme/x', test_patch: patch }, PYTEST);
    assert.deepEqual(r.directives, ['tests/test_a.py', 'docs/usage.rst']);
    assert.deepEqual(r.dropped, [
      { directive: 'tests/data/page.html', why: 'pytest collects no such file when it is named' },
      { directive: 'tests/old_test.py', why: 'the test patch deletes it' },
    ]);
  });

  it('django/django is exactly swebench (a deleted module is kept: the runner reports it and goes on)', () => {
    const patch = section('tests/a/tests.py') + section('tests/b/tests.py', { deleted: true });
    const cfg = { test_cmd: './tests/runtests.py --verbosity 2', log_parser: 'django' } as const;
    assert.deepEqual(testDirectives({ repo: 'django/django', test_patch: patch }, cfg).directives, [
      'a.tests',
      'b.tests',
    ]);
  });

  it("Django's runner in another repository gets labels; manage.py test gets dotted modules", () => {
    const patch = patchOf('tests/forms/test_x.py', 'shop/tests/test_cart.py', 'shop/templates/cart.html');
    const runtests = { test_cmd: './tests/runtests.py --verbosity 2', log_parser: 'django' } as const;
    assert.deepEqual(testDirectives({ repo: 'me/django-fork', test_patch: patch }, runtests).directives, [
      'forms.test_x',
      'shop.tests.test_cart',
      'shop.templates.cart.html',
    ]);
    const manage = { test_cmd: 'python manage.py test -v 2', log_parser: 'django' } as const;
    const r = testDirectives({ repo: 'me/shop', test_patch: patch }, manage);
    assert.deepEqual(r.directives, ['tests.forms.test_x', 'shop.tests.test_cart']);
    assert.equal(r.dropped[0]?.directive, 'shop/templates/cart.html');
  });

  it('unittest: Python files only', () => {
    const cfg = { test_cmd: 'python -m unittest -v', log_parser: 'unittest' } as const;
    const r = testDirectives({ test_patch: patchOf('tests/test_a.py', 'tests/fixture.cfg') }, cfg);
    assert.deepEqual(r.directives, ['tests/test_a.py']);
  });
});

describe('scopedTestCommand', () => {
  const task = { repo: 'acme/x', test_patch: patchOf('tests/test_a.py', 'tests/test b.py') };

  it('files: directives appended to the last line, quoted where needed; suite: the command as is', () => {
    const multi = { ...PYTEST, test_cmd: 'source env\n{ pip install -e . ; } > /dev/null\npytest -rA  \n' };
    assert.equal(
      scopedTestCommand(task, multi, 'files'),
      "source env\n{ pip install -e . ; } > /dev/null\npytest -rA tests/test_a.py 'tests/test b.py'"
    );
    assert.equal(scopedTestCommand(task, multi, 'suite'), multi.test_cmd);
  });

  it('no directives (only data files touched): the whole command, as swebench runs it', () => {
    assert.equal(scopedTestCommand({ test_patch: patchOf('tests/data.json') }, PYTEST, 'files'), 'pytest -rA');
  });

  it('the eval script runs the scoped command', () => {
    const script = buildEvalScript({
      baseCommit: 'abc1234',
      testPatch: task.test_patch,
      testCmd: scopedTestCommand(task, PYTEST, 'files'),
    });
    assert.match(script, /^\( pytest -rA tests\/test_a\.py 'tests\/test b\.py'$/m);
  });

  it('a validated task without test_scope (built before scopes) runs its command as recorded', () => {
    assert.equal(recordedTestScope({}), 'suite');
    assert.equal(recordedTestScope({ test_scope: 'files' }), 'files');
    assert.equal(recordedTestScope({ test_scope: 'suite' }), 'suite');
  });
});
