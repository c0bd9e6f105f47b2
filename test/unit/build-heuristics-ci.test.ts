/**
 * Heuristics on layouts modelled on real Pallets repositories (pallets/flask 2.2–3.0, pallets/click
 * 8.1, flask's main branch): the file lists and the facts that matter (which requirement file
 * includes which, what tox's default test environment installs), not their code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectPythonRecipe, type RepoView } from '../../activities/build/heuristics';
import { readCiTestEnv } from '../../activities/build/ci-env';

function repoOf(files: Record<string, string>): RepoView {
  return { listFiles: () => Object.keys(files), readFile: (p) => files[p] ?? null };
}

/** flask 2.3.0's layout: requirements/*.in|txt, tox.ini with min/dev factors, pyproject (flit). */
const flask23: Record<string, string> = {
  'pyproject.toml': [
    '[project]',
    'name = "Flask"',
    'requires-python = ">=3.8"',
    'dependencies = ["Werkzeug>=2.3.0", "Jinja2>=3.1.2", "itsdangerous>=2.1.2", "click>=8.1.3", "blinker>=1.6.2"]',
    '[project.optional-dependencies]',
    'async = ["asgiref>=3.2"]',
    'dotenv = ["python-dotenv"]',
    '[build-system]',
    'requires = ["flit_core<4"]',
    'build-backend = "flit_core.buildapi"',
    '[tool.pytest.ini_options]',
    'testpaths = ["tests"]',
  ].join('\n'),
  'tox.ini': [
    '[tox]',
    'envlist =',
    '    py3{12,11,10,9,8}',
    '    py311-min',
    '    py38-dev',
    '    style',
    '    typing',
    '    docs',
    '[testenv]',
    'package = wheel',
    'deps =',
    '    -r requirements/tests.txt',
    '    min: -r requirements/tests-pallets-min.txt',
    '    dev: https://github.com/pallets/werkzeug/archive/refs/heads/main.tar.gz',
    'commands = pytest -v --tb=short --basetemp={envtmpdir} {posargs:tests}',
    '[testenv:typing]',
    'deps = -r requirements/typing.txt',
    'commands = mypy',
    '[testenv:docs]',
    'deps = -r requirements/docs.txt',
  ].join('\n'),
  'requirements/build.in': 'build\n',
  'requirements/build.txt': 'build==0.10.0\n',
  'requirements/dev.in': '-r docs.in\n-r tests.in\n-r typing.in\npre-commit\ntox\n',
  'requirements/dev.txt': '-r docs.txt\n-r tests.txt\n-r typing.txt\nclick==8.1.3\ntox==4.5.0\n',
  'requirements/docs.in': 'sphinx\n',
  'requirements/docs.txt': 'sphinx==6.2.1\n',
  'requirements/tests-pallets-min.in': 'werkzeug==2.3.0\n',
  'requirements/tests-pallets-min.txt': 'click==8.1.3\njinja2==3.1.2\nwerkzeug==2.3.0\n',
  'requirements/tests.in': 'pytest\nasgiref\npython-dotenv\n',
  'requirements/tests.txt': 'asgiref==3.6.0\npytest==7.3.1\npython-dotenv==1.0.0\n',
  'requirements/typing.in': 'mypy\n',
  'requirements/typing.txt': 'mypy==1.2.0\n',
  'src/flask/__init__.py': '',
  'src/flask/app.py': '',
  'tests/conftest.py': '',
  'tests/test_basic.py': 'import pytest\n',
  'examples/tutorial/pyproject.toml': '[project]\nname = "flaskr"\n',
  'docs/conf.py': '',
};

/** The same layout without tox.ini: only file names are left to go by. */
const flaskNoTox = Object.fromEntries(Object.entries(flask23).filter(([k]) => k !== 'tox.ini'));

describe('heuristics: the environment CI tests with (Pallets layouts)', () => {
  it('flask 2.3: tox [testenv] deps only (tests.txt); min pins, dev URLs, docs, typing and dev.txt left out', () => {
    const r = detectPythonRecipe(repoOf(flask23), { createdAt: '2023-04-25T00:00:00Z' });
    assert.ok(r.config, r.config ? '' : r.reason);
    assert.deepEqual(r.config.reqs_path, ['requirements/tests.txt']);
    assert.deepEqual(r.config.install, ['pip install -e .']);
    assert.deepEqual(r.config.pip_packages, [], 'pytest comes from tests.txt');
    assert.ok(
      r.notes.some((n) => n.startsWith('test environment as CI runs it (tox.ini [testenv]): -r requirements/tests.txt'))
    );
    const left = r.notes.find((n) => n.startsWith('left out of the CI test environment'));
    assert.ok(left?.includes('min: -r requirements/tests-pallets-min.txt'), left);
    assert.ok(left?.includes('dev: https://'), left);
  });

  it('without tox: min pins, dev.txt (it includes docs/typing), build, docs and typing files are skipped', () => {
    const r = detectPythonRecipe(repoOf(flaskNoTox), { createdAt: '2023-04-25T00:00:00Z' });
    assert.ok(r.config, r.config ? '' : r.reason);
    assert.deepEqual(r.config.reqs_path, ['requirements/tests.txt']);
    const skipped = r.notes.find((n) => n.startsWith('requirements skipped:')) ?? '';
    for (const f of ['build.txt', 'docs.txt', 'typing.txt', 'tests-pallets-min.txt', 'dev.txt']) {
      assert.ok(skipped.includes(`requirements/${f}`), `${f} not skipped: ${skipped}`);
    }
    assert.ok(
      skipped.includes('requirements/dev.txt (includes requirements/docs.txt, requirements/typing.txt)'),
      skipped
    );
    assert.ok(skipped.includes('minimum-version pins'), skipped);
  });

  it('click 8.1: deps = -r requirements/tests.txt on one line; dev.txt (pins click 8.0.3) is not installed', () => {
    const click = repoOf({
      'setup.py': 'from setuptools import setup\nsetup(name="click")\n',
      'setup.cfg': '[metadata]\nname = click\n[options]\npython_requires = >= 3.7\n[tool:pytest]\ntestpaths = tests\n',
      'tox.ini':
        '[tox]\nenvlist = py3{11,10,9,8,7}\n[testenv]\ndeps = -r requirements/tests.txt\ncommands = pytest\n[testenv:typing]\ndeps = -r requirements/typing.txt\n',
      'requirements/dev.txt': '-r docs.txt\n-r tests.txt\n-r typing.txt\nclick==8.0.3\n',
      'requirements/docs.txt': 'sphinx==4.4.0\n',
      'requirements/tests.txt': 'pytest==7.0.1\n',
      'requirements/typing.txt': 'mypy==0.931\n',
      'src/click/__init__.py': '',
      'tests/test_basic.py': 'import click\n',
    });
    const r = detectPythonRecipe(click);
    assert.ok(r.config, r.config ? '' : r.reason);
    assert.deepEqual(r.config.reqs_path, ['requirements/tests.txt']);
    assert.deepEqual(r.config.pip_packages, []);
  });

  it('flask main: pyproject [tool.tox.env_run_base] dependency_groups = ["tests"]', () => {
    const main = repoOf({
      'pyproject.toml': [
        '[project]',
        'name = "Flask"',
        'requires-python = ">=3.10"',
        'dependencies = ["werkzeug>=3.1.0"]',
        '[dependency-groups]',
        'dev = ["ruff", "tox"]',
        'docs = ["sphinx<9"]',
        'tests = ["asgiref", "greenlet", "pytest", "python-dotenv"]',
        'typing = ["mypy", "pyright"]',
        '[build-system]',
        'requires = ["flit_core>=3.11,<4"]',
        'build-backend = "flit_core.buildapi"',
        '[tool.tox.env_run_base]',
        'dependency_groups = ["tests"]',
        '[tool.tox.env.tests-min]',
        'commands = [["uv", "pip", "install", "werkzeug==3.1.0"]]',
        '[tool.pytest.ini_options]',
        'testpaths = ["tests"]',
      ].join('\n'),
      'src/flask/__init__.py': '',
      'tests/test_basic.py': 'import pytest\n',
    });
    const r = detectPythonRecipe(main);
    assert.ok(r.config, r.config ? '' : r.reason);
    assert.deepEqual(r.config.pip_packages, ['asgiref', 'greenlet', 'pytest', 'python-dotenv']);
    assert.deepEqual(r.config.reqs_path, []);
    assert.equal(r.config.python, '3.11');
  });
});

describe('readCiTestEnv', () => {
  it('reads extras, plain deps and skips factor lines, substitutions and options', () => {
    const env = readCiTestEnv((p) =>
      p === 'tox.ini'
        ? '[testenv]\nextras = testing\ndeps =\n    pytest>=7\n    {[base]deps}\n    -c constraints.txt\n    py38: numpy<2\n'
        : null
    );
    assert.ok(env);
    assert.deepEqual(env.deps, ['pytest>=7']);
    assert.deepEqual(env.extras, ['testing']);
    assert.equal(env.skipped.length, 3);
  });

  it('setup.cfg [tox:tox] + [testenv], and none at all', () => {
    const cfg = '[tox:tox]\nenvlist = py39\n[testenv]\ndeps = -r{toxinidir}/requirements-test.txt\n';
    assert.deepEqual(readCiTestEnv((p) => (p === 'setup.cfg' ? cfg : null))?.reqFiles, ['requirements-test.txt']);
    assert.equal(
      readCiTestEnv(() => null),
      null
    );
  });
});
