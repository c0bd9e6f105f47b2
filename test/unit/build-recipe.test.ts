import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  choosePython,
  detectPythonRecipe,
  parseSpecifier,
  PYTEST_CMD,
  UNITTEST_CMD,
  DJANGO_RUNTESTS_CMD,
  type RepoView,
} from '../../activities/build/heuristics';
import { resolveRecipe } from '../../activities/build/recipe';

/** An in-memory repository. */
function repoOf(files: Record<string, string>): RepoView {
  return {
    listFiles: () => Object.keys(files),
    readFile: (p) => files[p] ?? null,
  };
}

const modernPytest = repoOf({
  'pyproject.toml': `
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "widgets"
requires-python = ">=3.8"
dependencies = ["attrs>=22", "pytest>=7"]
classifiers = [
  "Programming Language :: Python :: 3.8",
  "Programming Language :: Python :: 3.12",
]

[tool.pytest.ini_options]
testpaths = ["tests"]
`,
  'src/widgets/__init__.py': '',
  'tests/test_widgets.py': 'from widgets import x\n\ndef test_x():\n    assert x\n',
});

describe('detectPythonRecipe', () => {
  it('a modern pyproject + pytest package', () => {
    const r = detectPythonRecipe(modernPytest, { createdAt: '2024-03-01T00:00:00Z' });
    assert.ok(r.config, r.config === null ? r.reason : '');
    assert.equal(r.config.test_cmd, PYTEST_CMD);
    assert.equal(r.config.log_parser, 'pytest');
    assert.deepEqual(r.config.install, ['pip install -e .']);
    assert.deepEqual(r.config.pip_packages, [], 'pytest is already a dependency');
    assert.deepEqual(r.config.reqs_path, []);
    assert.equal(r.config.python, '3.11', 'classifiers stop at 3.12, so 3.13 is not chosen');
    assert.ok(
      r.notes.includes('framework pytest: configured in pyproject.toml [tool.pytest.ini_options]'),
      r.notes.join('\n')
    );
    assert.ok(r.notes.some((n) => n.startsWith('python 3.11: pyproject.toml [project] requires-python ">=3.8"')));
  });

  it('a setup.py + requirements package using unittest', () => {
    const repo = repoOf({
      'setup.py': `from setuptools import setup\nsetup(\n    name="gears",\n    python_requires=">=3.6",\n    install_requires=["six", 'requests>=2'],\n)\n`,
      'requirements.txt': 'six\nrequests>=2  # http\n',
      'requirements-dev.txt': '-r requirements.txt\ncoverage\n',
      'requirements-docs.txt': 'sphinx\n',
      'gears/__init__.py': '',
      'tests/__init__.py': '',
      'tests/test_gears.py':
        'import unittest\n\nclass GearTests(unittest.TestCase):\n    def test_a(self):\n        pass\n',
    });
    const r = detectPythonRecipe(repo, { createdAt: '2019-05-01T00:00:00Z' });
    assert.ok(r.config, r.config === null ? r.reason : '');
    assert.equal(r.config.test_cmd, UNITTEST_CMD);
    assert.equal(r.config.log_parser, 'unittest');
    assert.deepEqual(r.config.install, ['pip install -e .']);
    assert.deepEqual(r.config.reqs_path, ['requirements.txt', 'requirements-dev.txt']);
    assert.deepEqual(r.config.pip_packages, []);
    assert.equal(r.config.python, '3.9');
    assert.ok(r.notes.some((n) => n.includes('requirements skipped') && n.includes('requirements-docs.txt')));
    assert.ok(r.notes.some((n) => n.startsWith('python 3.9:') && n.includes('commit date 2019-05-01 caps it at 3.9')));
  });

  it('a Django project', () => {
    const repo = repoOf({
      'manage.py': '#!/usr/bin/env python\nimport os, sys\n',
      'requirements.txt': 'Django>=4.2,<5\npsycopg2-binary\n',
      'shop/settings.py': '',
      'shop/tests.py': 'from django.test import TestCase\n\nclass V(TestCase):\n    pass\n',
    });
    const r = detectPythonRecipe(repo, { createdAt: '2023-01-01T00:00:00Z' });
    assert.ok(r.config, r.config === null ? r.reason : '');
    assert.equal(r.config.log_parser, 'django');
    assert.equal(r.config.test_cmd, 'python manage.py test -v 2');
    assert.deepEqual(r.config.install, []);
    assert.deepEqual(r.config.reqs_path, ['requirements.txt']);
    assert.deepEqual(r.config.pip_packages, []);
  });

  it('Django itself runs tests/runtests.py', () => {
    const repo = repoOf({
      'setup.cfg':
        '[metadata]\nname = Django\nclassifiers =\n    Programming Language :: Python :: 3.6\n    Programming Language :: Python :: 3.7\n\n[options]\npython_requires = >=3.6\ninstall_requires =\n    pytz\n    sqlparse\n',
      'setup.py': 'from setuptools import setup\nsetup()\n',
      'django/__init__.py': '',
      'tests/runtests.py': '#!/usr/bin/env python\n',
      'tests/auth_tests/test_validators.py': 'from django.test import SimpleTestCase\n',
    });
    const r = detectPythonRecipe(repo, { createdAt: '2019-03-20T03:46:18Z' });
    assert.ok(r.config, r.config === null ? r.reason : '');
    assert.equal(r.config.test_cmd, DJANGO_RUNTESTS_CMD);
    assert.equal(r.config.log_parser, 'django');
    assert.equal(r.config.python, '3.9', 'classifiers stop at 3.7: the oldest base');
  });

  it('a package with a test extra installs .[test] and pytest comes from it', () => {
    const repo = repoOf({
      'setup.cfg':
        '[metadata]\nname = cogs\n\n[options]\npython_requires = >=3.7\ninstall_requires =\n    numpy\n\n[options.extras_require]\ntest =\n    pytest\n    hypothesis\ndocs =\n    sphinx\n\n[tool:pytest]\naddopts = -q\n',
      'setup.py': 'from setuptools import setup\nsetup()\n',
      'cogs/__init__.py': '',
      'tests/test_cogs.py': 'def test_a():\n    assert True\n',
    });
    const r = detectPythonRecipe(repo, { createdAt: '2022-01-01T00:00:00Z' });
    assert.ok(r.config, r.config === null ? r.reason : '');
    assert.deepEqual(r.config.install, ['pip install -e ".[test]"']);
    assert.deepEqual(r.config.pip_packages, []);
    assert.equal(r.config.log_parser, 'pytest');
    assert.ok(r.notes.includes('framework pytest: configured in setup.cfg [tool:pytest]'));
    assert.equal(r.config.python, '3.11');
  });

  it('requires-python ">=3.10" rules out 3.9', () => {
    const files = {
      'pyproject.toml': '[project]\nname = "new"\nrequires-python = ">=3.10"\n',
      'new/__init__.py': '',
      'test/test_new.py': 'import pytest\n',
    };
    const early = detectPythonRecipe(repoOf(files), { createdAt: '2020-06-01T00:00:00Z' });
    assert.equal(early.config?.python, '3.11', 'the 3.9 date cap cannot apply: oldest allowed base');
    const late = detectPythonRecipe(repoOf(files), { createdAt: '2024-06-01T00:00:00Z' });
    assert.equal(late.config?.python, '3.11');
    assert.deepEqual(late.config?.pip_packages, ['pytest']);
    assert.ok(late.notes.includes('framework pytest: test/test_new.py imports pytest'));
    assert.ok(late.notes.includes('tests live under test/ (1 test files)'));
  });

  it('pyproject extras and dependency groups', () => {
    const extras = detectPythonRecipe(
      repoOf({
        'pyproject.toml':
          '[build-system]\nrequires = ["setuptools"]\n[project]\nname = "a"\n[project.optional-dependencies]\ndocs = ["sphinx"]\ntesting = ["pytest", "pytest-cov"]\n',
        'a/__init__.py': '',
        'tests/test_a.py': 'import pytest\n',
      })
    );
    assert.deepEqual(extras.config?.install, ['pip install -e ".[testing]"']);
    assert.deepEqual(extras.config?.pip_packages, []);
    const groups = detectPythonRecipe(
      repoOf({
        'pyproject.toml':
          '[build-system]\nrequires = ["flit_core"]\n[project]\nname = "b"\n[dependency-groups]\ntest = ["pytest>=8", "hypothesis"]\n',
        'b.py': '',
        'tests/test_b.py': 'def test_b():\n    pass\n',
      })
    );
    assert.deepEqual(groups.config?.install, ['pip install -e .']);
    assert.deepEqual(groups.config?.pip_packages, ['pytest>=8', 'hypothesis']);
  });

  it('a repo with nothing detectable gives a clear reason', () => {
    const r = detectPythonRecipe(repoOf({ 'README.md': '# hi', 'src/main.rs': 'fn main() {}' }));
    assert.equal(r.config, null);
    assert.ok(r.config === null && /^not a Python project/.test(r.reason));
    const noTests = detectPythonRecipe(repoOf({ 'setup.py': 'setup()', 'pkg/core.py': '' }));
    assert.ok(noTests.config === null && /^no tests found/.test(noTests.reason));
  });

  it('a pyproject with only tool settings is not installable: requirements only', () => {
    const r = detectPythonRecipe(
      repoOf({
        'pyproject.toml': '[tool.black]\nline-length = 100\n',
        'requirements.txt': 'flask\n',
        'app.py': '',
        'tests/test_app.py': 'def test_a():\n    pass\n',
      })
    );
    assert.ok(r.config);
    assert.deepEqual(r.config.install, []);
    assert.deepEqual(r.config.pip_packages, ['pytest']);
    assert.ok(r.notes.some((n) => n.startsWith('install: requirements only')));
  });
});

describe('choosePython', () => {
  it('follows the specifier, the classifiers and the date', () => {
    assert.equal(choosePython({}).version, '3.11');
    assert.equal(choosePython({ createdAt: '2018-01-01' }).version, '3.9');
    assert.equal(choosePython({ specifier: '>=3.12' }).version, '3.13');
    assert.equal(choosePython({ specifier: '>=3.8,<3.12' }).version, '3.11');
    assert.equal(choosePython({ specifier: '>=3.8,<4' }).version, '3.11', '<4 is no real upper bound');
    assert.equal(choosePython({ specifier: '>=3.9', classifiers: [[3, 13]] }).version, '3.13');
    assert.equal(choosePython({ specifier: '^3.8', createdAt: '2020-01-01' }).version, '3.9');
    assert.equal(choosePython({ specifier: '~=3.9.0' }).version, '3.9');
    assert.equal(choosePython({ specifier: '!=3.9.*' }).version, '3.11');
    assert.equal(choosePython({ specifier: '>=3.8 <3.10' }).version, '3.9');
    assert.match(choosePython({ specifier: '<3.8' }).note, /closest base/);
    assert.equal(choosePython({ specifier: '<3.8' }).version, '3.9');
    assert.match(choosePython({ specifier: 'py3 please' }).note, /not understood/);
  });

  it('parses specifiers at minor granularity', () => {
    const s = parseSpecifier('>=3.6, !=3.0.*, !=3.1.*, <3.12');
    assert.ok(s);
    assert.equal(s.allows([3, 11]), true);
    assert.equal(s.allows([3, 12]), false);
    assert.equal(s.hasUpperBound, true);
    assert.equal(parseSpecifier('>=3.9.2')?.allows([3, 9]), true);
    assert.equal(parseSpecifier('==3.*')?.allows([3, 13]), true);
  });
});

describe('resolveRecipe', () => {
  it('uses heuristics when nothing else is given', () => {
    const r = resolveRecipe({ task: { repo: 'acme/widgets', created_at: '2024-01-01' }, repo: modernPytest });
    assert.equal(r.config?.log_parser, 'pytest');
    assert.ok(r.config && r.source === 'heuristic');
  });

  it("merges the spec's recipe over the heuristics", () => {
    const r = resolveRecipe({
      task: { repo: 'acme/widgets', created_at: '2024-01-01' },
      recipes: {
        'acme/widgets': { python: '3.9', pip_packages: ['pytest<8'], env_vars: { TZ: 'UTC' } },
        'other/repo': { python: '3.13' },
      },
      repo: modernPytest,
    });
    assert.ok(r.config && r.source === 'spec');
    assert.equal(r.config.python, '3.9');
    assert.deepEqual(r.config.pip_packages, ['pytest<8']);
    assert.deepEqual(r.config.install, ['pip install -e .'], 'not overridden: from the heuristics');
    assert.equal(r.config.test_cmd, PYTEST_CMD);
    assert.deepEqual(r.config.env_vars, { TZ: 'UTC' });
    assert.equal(r.notes[0], "the spec's recipe for acme/widgets sets python, pip_packages, env_vars");
  });

  it("a complete spec recipe stands alone; an incomplete one explains what's missing", () => {
    const empty = repoOf({ 'README.md': '' });
    const ok = resolveRecipe({
      task: { repo: 'a/b' },
      recipes: { 'a/b': { test_cmd: 'make test', log_parser: 'junit' } },
      repo: empty,
    });
    assert.ok(ok.config && ok.source === 'spec');
    assert.equal(ok.config.python, '3.11');
    const bad = resolveRecipe({ task: { repo: 'a/b' }, recipes: { 'a/b': { python: '3.9' } }, repo: empty });
    assert.equal(bad.config, null);
    assert.ok(bad.config === null && bad.reason.includes('lacks test_cmd and log_parser'));
    assert.ok(bad.config === null && bad.reason.includes('not a Python project'));
  });

  it("the record's install_config wins over both", () => {
    const r = resolveRecipe({
      task: {
        repo: 'acme/widgets',
        install_config: {
          python: '3.13',
          install: 'pip install .',
          test_cmd: 'tox -e py',
          log_parser: 'parse_log_pytest',
        },
      },
      recipes: { 'acme/widgets': { python: '3.9' } },
      repo: modernPytest,
    });
    assert.ok(r.config && r.source === 'record');
    assert.equal(r.config.python, '3.13');
    assert.deepEqual(r.config.install, ['pip install .']);
    assert.equal(r.config.test_cmd, 'tox -e py');
  });

  it('an invalid record install_config fails instead of falling back', () => {
    const r = resolveRecipe({
      task: { repo: 'acme/widgets', install_config: { test_cmd: 'bin/test', log_parser: 'parse_log_nose' } },
      repo: modernPytest,
    });
    assert.equal(r.config, null);
    assert.ok(r.config === null && r.reason.includes('install_config.log_parser: unknown log parser'));
  });

  it('says so when there is no repository to look at', () => {
    const r = resolveRecipe({ task: { repo: 'a/b' } });
    assert.ok(r.config === null && r.reason === 'no repository view to detect a recipe from');
  });
});
