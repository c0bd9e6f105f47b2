import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { BuildConfig, TaskRecord } from '../../contracts';
import { InstallConfig } from '../../contracts/task';
import { ensureBaseImage } from '../../activities/build/docker/base-image';
import { buildEnvImage } from '../../activities/build/docker/env-image';
import { ImageBuildError } from '../../activities/build/docker/errors';
import { listBottegaImages, pruneImages } from '../../activities/build/docker/gc';
import { CONDA_ACTIVATE, officialImageName } from '../../activities/build/official-recipe';
import { buildAndValidate } from '../../activities/build/validate-task';
import { envsList } from '../../cli/envs';
import { dockerOrSkip, testWheelhouse } from '../helpers/docker';

/**
 * Two build-stage paths on the real engine, with a tiny repository (`acme/mathx`):
 * - SWE-bench's prebuilt instance image is used by name when the engine has it (a locally tagged
 *   stand-in here): no env or instance image is built, and the tests run in it;
 * - a failed env build's untagged images are tracked (label), listed by `envs ls`, and pruned.
 */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BOTTEGA_HOME = process.env.BOTTEGA_HOME ?? join(REPO_ROOT, '.bottega');
const probe = await dockerOrSkip();
const docker = probe.docker as Docker;

let tmp: string;
let repoPath: string;
let wheelhouse: string;
let base = '';
let env = '';
const cleanup: string[] = [];

function git(args: string[]): string {
  return execFileSync('git', ['-C', repoPath, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'F',
      GIT_AUTHOR_EMAIL: 'f@example.com',
      GIT_COMMITTER_NAME: 'F',
      GIT_COMMITTER_EMAIL: 'f@example.com',
      GIT_AUTHOR_DATE: '2024-02-01T00:00:00Z',
      GIT_COMMITTER_DATE: '2024-02-01T00:00:00Z',
      GIT_CONFIG_GLOBAL: '/dev/null',
    },
  }).trim();
}

function write(rel: string, text: string): void {
  mkdirSync(dirname(join(repoPath, rel)), { recursive: true });
  writeFileSync(join(repoPath, rel), text);
}

const INSTALL = InstallConfig.parse({
  python: '3.11',
  pip_packages: ['pytest'],
  install: ['python -m pip install -e .'],
  test_cmd: 'pytest -rA tests',
  log_parser: 'pytest',
});

const record = (extra: Record<string, unknown> = {}) =>
  TaskRecord.parse({
    instance_id: 'acme__mathx-7',
    repo: 'acme/mathx',
    base_commit: base,
    environment_setup_commit: env,
    patch:
      'diff --git a/mathx/__init__.py b/mathx/__init__.py\n--- a/mathx/__init__.py\n+++ b/mathx/__init__.py\n' +
      '@@ -1,2 +1,2 @@\n def double(x):\n-    return x + 1\n+    return x * 2\n',
    test_patch:
      'diff --git a/tests/test_double.py b/tests/test_double.py\nnew file mode 100644\n--- /dev/null\n' +
      '+++ b/tests/test_double.py\n@@ -0,0 +1,5 @@\n+from mathx import double\n+\n+\n+def test_double():\n+    assert double(3) == 6\n',
    ...extra,
  });

const deps = () => ({
  docker,
  bottegaHome: BOTTEGA_HOME,
  progress: () => {},
  saveLog: async (name: string, text: string) => {
    writeFileSync(join(tmp, name), text);
    return `file://${join(tmp, name)}`;
  },
});

const configWith = (over: Record<string, unknown> = {}) =>
  BuildConfig.parse({ tasks: { files: ['x.jsonl'] }, wheelhouse, validation_runs: 1, ...over });

describe('build stage: official images by name, failed-build leftovers', { skip: probe.skip ?? false }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bottega-official-'));
    repoPath = join(tmp, 'mathx');
    mkdirSync(repoPath);
    git(['init', '-q', '-b', 'main']);
    write(
      'pyproject.toml',
      '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n' +
        '[project]\nname = "mathx"\nversion = "0.1.0"\n[tool.setuptools]\npackages = ["mathx"]\n'
    );
    write('mathx/__init__.py', 'def double(x):\n    return x + 1\n');
    write('tests/test_other.py', 'def test_ok():\n    assert True\n');
    git(['add', '-A']);
    git(['commit', '-q', '-m', 'mathx']);
    env = base = git(['rev-parse', 'HEAD']);
    wheelhouse = testWheelhouse(BOTTEGA_HOME);
    await ensureBaseImage(docker, '3.11', { bottegaHome: BOTTEGA_HOME });
  });

  after(async () => {
    for (const ref of cleanup)
      await docker
        .getImage(ref)
        .remove({ force: true })
        .catch(() => {});
    for (const img of await listBottegaImages(docker)) {
      if (img.tag.includes('acme__mathx') || img.building?.includes('acme__mathx')) {
        await docker
          .getImage(img.tag)
          .remove({ force: true })
          .catch(() => {});
      }
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('uses the prebuilt image named swebench/sweb.eval.x86_64.<id> when the engine has it', async () => {
    // Build it the normal way once, then tag the result as the official image would be named.
    const first = await buildAndValidate(
      { task: record({ install_config: INSTALL }), repoPath, config: configWith() },
      deps()
    );
    assert.equal(first.status, 'validated', `${first.reason}: ${first.detail}`);
    const name = officialImageName('acme__mathx-7');
    assert.equal(name, 'swebench/sweb.eval.x86_64.acme_1776_mathx-7:latest');
    const [repo, tag] = [name.slice(0, name.lastIndexOf(':')), 'latest'];
    await docker.getImage(first.image!.tag).tag({ repo, tag });
    cleanup.push(name);

    // Another recipe (a new env hash) would have to build; with the official image nothing is built.
    const other = { ...INSTALL, pip_packages: ['pytest', 'setuptools'] };
    const before = (await listBottegaImages(docker)).length;
    const o = await buildAndValidate(
      { task: record({ install_config: other }), repoPath: null, config: configWith() },
      deps()
    );
    assert.equal(o.status, 'validated', `${o.reason}: ${o.detail}`);
    assert.deepEqual(o.built, { env: false, instance: false });
    assert.equal(o.image?.tag, name);
    assert.ok(o.install_config?.test_cmd.startsWith(`${CONDA_ACTIVATE}\n`));
    assert.deepEqual(o.FAIL_TO_PASS, ['tests/test_double.py::test_double']);
    assert.equal((await listBottegaImages(docker)).length, before, 'no image was built');

    // A record naming its image (swebench 5 datasets) is looked up by that name; off, it builds.
    const custom = 'example/prebuilt-mathx:v1';
    await docker.getImage(first.image!.tag).tag({ repo: 'example/prebuilt-mathx', tag: 'v1' });
    cleanup.push(custom);
    const named = await buildAndValidate(
      { task: record({ install_config: other, image: custom }), repoPath: null, config: configWith() },
      deps()
    );
    assert.equal(named.image?.tag, custom);
    const off = await buildAndValidate(
      { task: record({ install_config: other }), repoPath: null, config: configWith({ official_images: false }) },
      deps()
    );
    assert.equal(off.reason, 'repo_unavailable');
  });

  it('a failed env build leaves tracked images: listed, counted and pruned', async () => {
    const baseTag = await ensureBaseImage(docker, '3.11', { bottegaHome: BOTTEGA_HOME });
    const failing = InstallConfig.parse({ ...INSTALL, install: ['echo about to fail', 'exit 3'] });
    let tag = '';
    await assert.rejects(
      buildEnvImage(docker, {
        baseTag,
        repo: 'acme/mathx',
        repoPath,
        envCommit: env,
        config: failing,
        wheelhouse,
        network: false,
      }),
      (err: unknown) => {
        assert.ok(err instanceof ImageBuildError && err.reason === 'install_failed', String(err));
        tag = /bottega\/env\.acme__mathx:[0-9a-f]{16}/.exec(err.log)?.[0] ?? '';
        return true;
      }
    );
    const leftovers = (await listBottegaImages(docker)).filter(
      (i) => i.kind === 'failed' && i.building?.startsWith('bottega/env.acme__mathx:')
    );
    assert.equal(leftovers.length, 1, JSON.stringify(leftovers));
    const left = leftovers[0]!;
    assert.equal(left.parent, baseTag);
    assert.ok(left.ownBytes > 0, 'counted in the disk budget');
    if (tag) assert.equal(left.building, tag);

    const lines: string[] = [];
    await envsList((s) => lines.push(s), docker);
    const text = lines.join('\n');
    assert.match(text, new RegExp(`failed .*<none> ${left.id.slice(7, 19)} \\(failed build of ${left.building}\\)`));
    assert.match(text, /left by failed builds/);

    // The stage's budget enforcement keeps young leftovers (a build may be using them)...
    const young = await pruneImages(docker, { budgetBytes: 0, dryRun: true });
    assert.ok(!young.removed.some((i) => i.id === left.id));
    // ...`envs prune` removes them first, whatever the budget.
    const r = await pruneImages(docker, { budgetBytes: 1e15, removeFailed: true, failedMinAgeMs: 0 });
    assert.deepEqual(
      r.removed.map((i) => i.kind),
      r.removed.map(() => 'failed')
    );
    assert.ok(r.removed.some((i) => i.id === left.id));
    await assert.rejects(docker.getImage(left.id).inspect());
  });
});
