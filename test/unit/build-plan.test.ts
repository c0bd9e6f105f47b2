/** The build plan: recipe and reason per task, packages per install step, pip download groups. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BuildConfig, TaskRecord } from '../../contracts';
import type { RepoView } from '../../activities/build/heuristics';
import { planBuild } from '../../activities/build/plan';
import { formatPlan } from '../../cli/build-plan';

function repoOf(files: Record<string, string>): RepoView {
  return { listFiles: () => Object.keys(files), readFile: (p) => files[p] ?? null };
}

/** A Pallets-style repository (see build-heuristics-ci.test.ts) at a flask 2.0-era env commit. */
const flask = repoOf({
  'setup.py': 'from setuptools import setup\nsetup(name="Flask", install_requires=["Werkzeug>=2.0", "Jinja2>=3.0"])\n',
  'tox.ini': '[testenv]\ndeps =\n    -r requirements/tests.txt\n    min: -r requirements/tests-pallets-min.txt\n',
  'requirements/dev.txt': '-r docs.txt\n-r tests.txt\njinja2==2.11.3  # via sphinx\n',
  'requirements/docs.txt': 'sphinx==4.0.1\n',
  'requirements/tests.txt': 'pytest==6.2.4\n',
  'requirements/tests-pallets-min.txt': 'jinja2==3.0.0\n',
  'tests/test_basic.py': 'import pytest\n',
});

const record = (id: string, extra: Record<string, unknown>) =>
  TaskRecord.parse({
    instance_id: id,
    repo: 'pallets/flask',
    base_commit: 'abc1234',
    patch: '',
    test_patch: '',
    ...extra,
  });

describe('planBuild', () => {
  const config = BuildConfig.parse({ tasks: { files: ['t.jsonl'] } });
  const tasks = [
    record('pallets__flask-4045', {
      version: '2.0',
      test_patch: 'diff --git a/tests/test_basic.py b/tests/test_basic.py\n',
    }),
    record('flask-heuristic', {}),
    record('other-repo', { repo: 'acme/none' }),
  ];
  const plan = planBuild(config, tasks, (t) => (t.repo === 'pallets/flask' ? flask : null));

  it('names the recipe and why, per task', () => {
    const [official, heuristic, none] = plan.tasks;
    assert.equal(official?.source, 'official');
    assert.equal(heuristic?.source, 'heuristic');
    assert.ok(heuristic?.notes.some((n) => n.startsWith('test environment as CI runs it (tox.ini [testenv])')));
    assert.equal(none?.source, null);
    assert.match(none?.error ?? '', /^no local repository for acme\/none/);
  });

  it('lists packages per install step: official requirements, pins, the project', () => {
    const official = plan.tasks[0]!;
    assert.deepEqual(
      official.steps.map((s) => s.from),
      ['the official requirements', 'pip_packages', 'python -m pip install -e .']
    );
    assert.ok(official.steps[0]!.packages.includes('jinja2==2.11.3'), 'comments stripped');
    assert.ok(official.steps[2]!.packages.includes('Werkzeug>=2.0'));
    const heuristic = plan.tasks[1]!;
    assert.deepEqual(heuristic.packages, ['pytest==6.2.4', 'setuptools', 'wheel', 'Werkzeug>=2.0', 'Jinja2>=3.0']);
  });

  it('groups downloads per Python version, splitting only where steps re-pin a package', () => {
    const py39 = plan.downloads.filter((g) => g.python === '3.9');
    assert.equal(py39.length, 2, 'jinja2==2.11.3 (requirements) and Jinja2==3.0.1 (pip_packages)');
    const text = formatPlan(plan, { wheelhouse: '/w', skipped: ['x.jsonl:3: bad'] });
    assert.match(text, /^# Python 3\.9: 1 task\(s\), \d+ requirements; 2 resolver runs/m);
    assert.match(
      text,
      /^python3\.9 -m pip download --dest \/w pip setuptools wheel sphinx==4\.0\.1 pytest==6\.2\.4 jinja2==2\.11\.3 \\$/m
    );
    // The project's Jinja2>=3.0 goes with the pins that meet it (Jinja2==3.0.1), not with jinja2==2.11.3.
    assert.match(text, /^ {2}&& python3\.9 -m pip download --dest \/w pip .*Jinja2==3\.0\.1 .*'Jinja2>=3\.0'$/m);
    assert.match(text, /^python3\.11 -m pip download --dest \/w pip pytest==6\.2\.4 setuptools wheel /m);
    assert.match(text, /^3 tasks: 1 official, 1 heuristic, 1 without a recipe; 0 blocked; 1 skipped$/m);
  });

  it('shows blockers: official apt steps offline', () => {
    const django = planBuild(
      config,
      [
        TaskRecord.parse({
          instance_id: 'd',
          repo: 'django/django',
          version: '2.2',
          base_commit: 'abc1234',
          patch: '',
          test_patch: '',
        }),
      ],
      () => repoOf({ 'tests/requirements/py3.txt': 'sqlparse\n' })
    );
    assert.match(django.tasks[0]?.error ?? '', /system_packages locales need apt-get and a network/);
  });
});
