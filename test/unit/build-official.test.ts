/** Official SWE-bench recipes: the spec table, its mapping onto bottega recipes, and resolution order. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RepoView } from '../../activities/build/heuristics';
import {
  officialImageName,
  officialRecipe,
  officialSpecFor,
  CONDA_ACTIVATE,
} from '../../activities/build/official-recipe';
import { scopedTestCommand, swebenchTestDirectives as testDirectives } from '../../activities/grading/test-directives';
import { OFFICIAL_SPECS } from '../../activities/build/official-specs.data';
import { resolveRecipe } from '../../activities/build/recipe';
import { SWE_BENCH_VERIFIED_REPOS } from '../../contracts/mine';

function repoOf(files: Record<string, string>): RepoView {
  return { listFiles: () => Object.keys(files), readFile: (p) => files[p] ?? null };
}

const testPatch = (...paths: string[]) =>
  paths.map((p) => `diff --git a/${p} b/${p}\n--- a/${p}\n+++ b/${p}\n@@ -1 +1 @@\n-x\n+y\n`).join('');

/** flask at a 2.0-era env commit: requirements/dev.txt includes docs/tests/typing (as swebench reads it). */
const flaskRepo = repoOf({
  'setup.py': 'from setuptools import setup\nsetup(name="Flask")\n',
  'requirements/dev.txt': '-r docs.txt\n-r tests.txt\n-r typing.txt\n# via pip-compile\npre-commit==2.13.0\n-e .\n',
  'requirements/docs.txt': 'sphinx==4.0.2\n',
  'requirements/tests.txt': 'pytest==6.2.4\n',
  'requirements/typing.txt': 'mypy==0.902\ntypes-pkg_resources==0.1.3\n',
  'tests/test_basic.py': 'import pytest\n',
});

describe('the official spec table', () => {
  it('holds the SWE-bench Verified repositories and names its source', () => {
    assert.match(OFFICIAL_SPECS.source, /^swebench 4\.1\.0 \(MIT\): swebench\/harness\/constants\/python\.py$/);
    for (const repo of SWE_BENCH_VERIFIED_REPOS) {
      assert.ok(Object.keys(OFFICIAL_SPECS.specs[repo] ?? {}).length > 0, repo);
    }
    assert.equal(officialSpecFor('django/django', '3.0')?.python, '3.6');
    assert.equal(officialSpecFor('django/django', '1.9')?.test_cmd, './tests/runtests.py --verbosity 2');
    assert.equal(officialSpecFor('django/django', '9.9'), undefined);
    assert.equal(officialSpecFor('pallets/flask', undefined), undefined);
  });

  it("derives swebench's image names and test directives", () => {
    assert.equal(
      officialImageName('django__django-11099'),
      'swebench/sweb.eval.x86_64.django_1776_django-11099:latest'
    );
    assert.equal(officialImageName('Foo__Bar-1'), 'swebench/sweb.eval.x86_64.foo_1776_bar-1:latest');
    const patch = testPatch('tests/auth_tests/test_validators.py', 'tests/data/x.json', 'tests/README.md');
    assert.deepEqual(testDirectives('django/django', patch), ['auth_tests.test_validators']);
    assert.deepEqual(testDirectives('pallets/flask', testPatch('tests/test_a.py', 'tests/b.csv')), ['tests/test_a.py']);
  });
});

describe('officialRecipe', () => {
  it('flask 2.0: requirements inlined as swebench does, pins after them, install, directives', () => {
    const task = { repo: 'pallets/flask', version: '2.0', test_patch: testPatch('tests/test_basic.py') };
    const r = officialRecipe(task, flaskRepo);
    assert.ok(r);
    assert.equal(r.config.python, '3.9');
    assert.deepEqual(r.unsupported, []);
    const [write, install] = r.config.pre_install;
    // -r files first, the file's own lines after; "-e ." and comments dropped; yanked package replaced.
    const body = (write ?? '').split('\n').filter((l) => l !== '');
    assert.deepEqual(body.slice(1, -1), [
      'sphinx==4.0.2',
      'pytest==6.2.4',
      'mypy==0.902',
      'types-setuptools',
      'pre-commit==2.13.0',
    ]);
    assert.doesNotMatch(write ?? '', /-e \.|# via/);
    assert.match(install ?? '', /^python -m pip install -r \/tmp\/bottega-swebench-requirements\.txt/);
    assert.ok(r.config.pip_packages.includes('Werkzeug==2.3.7'));
    assert.deepEqual(r.config.install, ['python -m pip install -e .']);
    assert.equal(r.config.log_parser, 'pytest');
    const lines = r.config.test_cmd.split('\n');
    assert.match(lines[0]!, /^\{ python -m pip install -e \. ; \} > \/tmp\/bottega-reinstall\.log/);
    assert.equal(lines[1], 'pytest -rA', 'the recipe holds no task-specific directives');
    assert.equal(scopedTestCommand(task, r.config, 'files').split('\n')[1], 'pytest -rA tests/test_basic.py');
    assert.equal(scopedTestCommand(task, r.config, 'suite'), r.config.test_cmd);
    assert.ok(r.requirements.includes('pytest==6.2.4') && !r.requirements.includes('click==8.0.1'));
  });

  it('django 3.0: python 3.6 runs on the 3.9 base (a deviation), eval_commands before the tests', () => {
    const django = repoOf({ 'setup.py': '', 'tests/requirements/py3.txt': 'asgiref\nsqlparse\n' });
    const task = { repo: 'django/django', version: '3.0', test_patch: testPatch('tests/queries/tests.py') };
    const r = officialRecipe(task, django);
    assert.ok(r);
    assert.equal(r.config.python, '3.9');
    assert.ok(r.deviations.some((d) => d.startsWith('python 3.9 instead of 3.6')));
    const lines = r.config.test_cmd.split('\n');
    assert.equal(lines[1], 'export LANG=en_US.UTF-8');
    assert.equal(lines.at(-1), './tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1');
    assert.equal(
      scopedTestCommand(task, r.config, 'files').split('\n').at(-1),
      './tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 queries.tests'
    );
    assert.equal(r.config.log_parser, 'django');
  });

  it('apt-get lines become system_packages; conda package lists install with pip', () => {
    const django = repoOf({ 'tests/requirements/py3.txt': 'sqlparse\n' });
    const d22 = officialRecipe({ repo: 'django/django', version: '2.2' }, django);
    assert.deepEqual(d22?.config.system_packages, ['locales']);
    assert.ok(d22?.config.install.includes('locale-gen en_US.UTF-8'));
    const sympy = officialRecipe({ repo: 'sympy/sympy', version: '1.10' }, repoOf({}));
    assert.deepEqual(sympy?.config.pre_install, ['python -m pip install mpmath flake8']);
    assert.ok(sympy?.deviations.some((d) => d.startsWith('conda packages (mpmath flake8) installed with pip')));
    const sk = officialRecipe({ repo: 'scikit-learn/scikit-learn', version: '1.3' }, repoOf({}));
    assert.match(sk?.config.pre_install[0] ?? '', /^python -m pip install numpy==1\.19\.2 scipy==1\.5\.2 /);
  });
});

describe('resolveRecipe with the official table', () => {
  const flaskTask = {
    repo: 'pallets/flask',
    version: '2.0',
    instance_id: 'pallets__flask-4045',
    test_patch: testPatch('tests/test_blueprints.py'),
  };

  it('official wins over the heuristics; off, the heuristics decide', () => {
    const r = resolveRecipe({ task: flaskTask, repo: flaskRepo });
    assert.ok(r.config && r.source === 'official', r.config ? '' : r.reason);
    assert.ok(r.notes[0]?.startsWith('official SWE-bench spec for pallets/flask 2.0 (swebench 4.1.0'));
    const off = resolveRecipe({ task: flaskTask, repo: flaskRepo, official: false });
    assert.ok(off.config && off.source === 'heuristic');
  });

  it("a record's install_config wins; a spec recipe is merged over the official one", () => {
    const rec = resolveRecipe({
      task: { ...flaskTask, install_config: { test_cmd: 'pytest', log_parser: 'pytest' } },
      repo: flaskRepo,
    });
    assert.equal(rec.config && rec.source, 'record');
    const spec = resolveRecipe({ task: flaskTask, repo: flaskRepo, recipes: { 'pallets/flask': { python: '3.11' } } });
    assert.ok(spec.config && spec.source === 'spec');
    assert.equal(spec.config.python, '3.11');
    assert.deepEqual(spec.config.install, ['python -m pip install -e .'], 'the rest is official');
  });

  it('an unknown version goes to the heuristics, saying which versions are known', () => {
    const r = resolveRecipe({ task: { ...flaskTask, version: '0.1' }, repo: flaskRepo });
    assert.equal(r.config && r.source, 'heuristic');
    assert.ok(r.notes[0]?.startsWith('no official SWE-bench spec for pallets/flask version "0.1" (known: 2.0, 2.1'));
  });

  it('offline, apt and conda steps are refused with the steps named; a network or a spec recipe fixes them', () => {
    const django = repoOf({ 'tests/requirements/py3.txt': 'sqlparse\n' });
    const d22 = { repo: 'django/django', version: '2.2', instance_id: 'django__django-11099' };
    const off = resolveRecipe({ task: d22, repo: django });
    assert.equal(off.config, null);
    assert.match(off.config === null ? off.reason : '', /system_packages locales need apt-get and a network/);
    assert.ok(off.official, 'the official recipe is still returned (e.g. for a prebuilt image)');
    const net = resolveRecipe({ task: d22, repo: django, network: true });
    assert.equal(net.config && net.source, 'official');

    const xarray = { repo: 'pydata/xarray', version: '2022.06', instance_id: 'pydata__xarray-6599' };
    const conda = resolveRecipe({ task: xarray, repo: repoOf({}) });
    assert.match(conda.config === null ? conda.reason : '', /environment\.yml .* needs conda/);
    const fixed = resolveRecipe({
      task: xarray,
      repo: repoOf({}),
      recipes: { 'pydata/xarray': { pre_install: ['python -m pip install numpy pandas'] } },
    });
    assert.equal(fixed.config && fixed.source, 'spec');

    const mpl = resolveRecipe({ task: { repo: 'matplotlib/matplotlib', version: '3.3', instance_id: 'm' } });
    assert.match(mpl.config === null ? mpl.reason : '', /downloads from the network/);
  });

  it('the prebuilt-image test command activates the conda env only where there is one', () => {
    assert.match(CONDA_ACTIVATE, /^if \[ -f \/opt\/miniconda3\/bin\/activate \]; then .*conda activate testbed; fi$/);
  });
});
