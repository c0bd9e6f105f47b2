import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { InstallConfig } from '../../contracts/task';
import { ensureBaseImage } from '../../activities/build/docker/base-image';
import { buildEnvImage, type EnvImageResult } from '../../activities/build/docker/env-image';
import { ImageBuildError } from '../../activities/build/docker/errors';
import { listBottegaImages, pruneImages } from '../../activities/build/docker/gc';
import { buildInstanceImage, type InstanceImageResult } from '../../activities/build/docker/instance-image';
import { execInContainer, runInContainer } from '../../activities/build/docker/run';
import { dockerOrSkip, testWheelhouse } from '../helpers/docker';

/**
 * base → env → instance images on the real Docker engine, from a tiny local repository: a
 * pure-Python package `calc` with a bug, tested with pytest installed offline from a host-built
 * wheelhouse. Builds run without network; the instance image's git history must end at base_commit.
 */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BOTTEGA_HOME = process.env.BOTTEGA_HOME ?? join(REPO_ROOT, '.bottega');
const REPO = 'acme/calc';
const LIMITS = { cpus: 1, memoryMb: 512, pids: 256 };

const probe = await dockerOrSkip();
const docker = probe.docker as Docker;

const CONFIG = InstallConfig.parse({
  python: '3.11',
  pip_packages: ['pytest'],
  install: ['python -m pip install -e .'],
  test_cmd: 'pytest -rA',
  log_parser: 'pytest',
});

let tmp: string;
let repoPath: string;
let wheelhouse: string;
let commits: { env: string; base: string; future: string; feature: string };
let baseTag: string;
let env: EnvImageResult;
let inst: InstanceImageResult;
const timings: Record<string, number> = {};

/** Runs git in the fixture with fixed identity and dates, so commit shas are reproducible. */
function git(args: string[], date = '2024-01-01T00:00:00Z'): string {
  return execFileSync('git', ['-C', repoPath, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Fixture',
      GIT_AUTHOR_EMAIL: 'fixture@example.com',
      GIT_COMMITTER_NAME: 'Fixture',
      GIT_COMMITTER_EMAIL: 'fixture@example.com',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
      GIT_CONFIG_GLOBAL: '/dev/null',
    },
  }).trim();
}

function write(rel: string, text: string): void {
  const file = join(repoPath, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function commit(message: string, date: string): string {
  git(['add', '-A']);
  git(['commit', '-q', '-m', message], date);
  return git(['rev-parse', 'HEAD']);
}

/** env commit (buggy add) ← base commit (adds mul, deletes old.txt) ← future fix (+ tag, branch). */
function makeFixture(): void {
  repoPath = join(tmp, 'calc');
  mkdirSync(repoPath);
  git(['init', '-q', '-b', 'main']);
  write(
    'pyproject.toml',
    '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n' +
      '[project]\nname = "calc"\nversion = "0.1.0"\n\n[tool.setuptools]\npackages = ["calc"]\n'
  );
  write('.gitignore', '*.egg-info/\nbuild/\n__pycache__/\n.pytest_cache/\n');
  write('calc/__init__.py', 'def add(a, b):\n    return a - b\n');
  write('tests/test_calc.py', 'from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n');
  write('old.txt', 'removed before the base commit\n');
  const envCommit = commit('calc: add', '2024-01-01T00:00:00Z');
  git(['tag', 'v0.1']);
  write('calc/__init__.py', 'def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n');
  write('tests/test_mul.py', 'from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n');
  write('docs/notes/mul.md', 'mul multiplies\n');
  rmSync(join(repoPath, 'old.txt'));
  const base = commit('calc: mul', '2024-01-02T00:00:00Z');
  write('calc/__init__.py', 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n');
  const future = commit('calc: fix add (the gold patch)', '2024-01-03T00:00:00Z');
  git(['tag', '-a', 'v0.2', '-m', 'release with the fix'], '2024-01-03T00:00:00Z');
  git(['checkout', '-q', '-b', 'feature']);
  write('FEATURE', 'later work\n');
  const feature = commit('feature work', '2024-01-04T00:00:00Z');
  git(['checkout', '-q', 'main']);
  git(['notes', 'add', '-m', 'a note on the fix', future], '2024-01-05T00:00:00Z');
  commits = { env: envCommit, base, future, feature };
}

async function removeImage(tag: string | undefined): Promise<void> {
  if (tag)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
}

describe('docker images: base → env → instance', { skip: probe.skip ?? false }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bottega-images-'));
    makeFixture();
    wheelhouse = testWheelhouse(BOTTEGA_HOME);
    let t = Date.now();
    baseTag = await ensureBaseImage(docker, '3.11');
    timings.base = Date.now() - t;
    // Start env/instance from scratch so every run exercises the build path (the base stays cached).
    for (const img of await listBottegaImages(docker)) {
      if (img.tag.startsWith('bottega/inst.acme__calc:')) await removeImage(img.tag);
    }
    for (const img of await listBottegaImages(docker)) {
      if (img.tag.startsWith('bottega/env.acme__calc:')) await removeImage(img.tag);
    }
    t = Date.now();
    env = await buildEnvImage(docker, {
      baseTag,
      repo: REPO,
      repoPath,
      envCommit: commits.env,
      config: CONFIG,
      wheelhouse,
      network: false,
    });
    timings.env = Date.now() - t;
    t = Date.now();
    inst = await buildInstanceImage(docker, {
      envTag: env.tag,
      repo: REPO,
      repoPath,
      baseCommit: commits.base,
      instanceId: 'acme__calc-1',
    });
    timings.instance = Date.now() - t;
  });

  after(async () => {
    await removeImage(inst?.tag);
    await removeImage(env?.tag);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('builds base, env and instance images with content-hash tags', async (t) => {
    assert.match(baseTag, /^bottega\/base-python:3\.11-[0-9a-f]{8}$/);
    assert.match(env.tag, /^bottega\/env\.acme__calc:[0-9a-f]{16}$/);
    assert.match(inst.tag, /^bottega\/inst\.acme__calc:[0-9a-f]{16}$/);
    assert.equal(env.cached, false);
    assert.equal(inst.cached, false);
    assert.match(
      env.logs,
      />>> \[bottega\] pip_packages: python -m pip install --no-index --find-links \/wheels 'pytest'/
    );
    assert.match(env.logs, />>> \[bottega\] install 1\/1: python -m pip install -e \./);
    const sizes = await Promise.all(
      [baseTag, env.tag, inst.tag].map(async (tag) => (await docker.getImage(tag).inspect()).Size)
    );
    assert.ok(
      inst.sizeAddedBytes > 0 && inst.sizeAddedBytes < 1024 * 1024,
      `instance adds ${inst.sizeAddedBytes} bytes`
    );
    t.diagnostic(
      `build ms: base ${timings.base}, env ${timings.env}, instance ${timings.instance}; ` +
        `sizes: base ${sizes[0]}, env ${sizes[1]}, instance ${sizes[2]}; instance adds ${inst.sizeAddedBytes} bytes`
    );
  });

  it('a second build of the same recipe is a cache hit', async () => {
    const created = async (tag: string): Promise<string> => (await docker.getImage(tag).inspect()).Created;
    const [envCreated, instCreated] = [await created(env.tag), await created(inst.tag)];
    const env2 = await buildEnvImage(docker, {
      baseTag,
      repo: REPO,
      repoPath,
      envCommit: commits.env,
      config: CONFIG,
      wheelhouse,
      network: false,
    });
    const inst2 = await buildInstanceImage(docker, {
      envTag: env.tag,
      repo: REPO,
      repoPath,
      baseCommit: commits.base,
      instanceId: 'acme__calc-1',
    });
    assert.deepEqual([env2.cached, env2.tag, env2.id], [true, env.tag, env.id]);
    assert.deepEqual(
      [inst2.cached, inst2.tag, inst2.id, inst2.sizeAddedBytes],
      [true, inst.tag, inst.id, inst.sizeAddedBytes]
    );
    assert.equal(await created(env.tag), envCreated);
    assert.equal(await created(inst.tag), instCreated);
  });

  it('the instance repository ends at base_commit: no later commits, remotes, tags or reflog', async () => {
    const container = await docker.createContainer({
      Image: inst.tag,
      Cmd: ['sleep', 'infinity'],
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      await container.start();
      const sh = async (cmd: string): Promise<string> => {
        const r = await execInContainer(container, cmd, { timeoutMs: 10_000 });
        assert.equal(r.exitCode, 0, `${cmd}: ${r.output}`);
        return r.output.trim();
      };
      const all = (await sh('git rev-list --all')).split('\n');
      assert.deepEqual(all.sort(), [commits.base, commits.env].sort());
      const everyCommit = await sh(
        "git cat-file --batch-all-objects --batch-check='%(objecttype) %(objectname)' | awk '$1==\"commit\"{print $2}'"
      );
      assert.deepEqual(everyCommit.split('\n').sort(), [commits.base, commits.env].sort());
      assert.equal((await sh('git log --all --oneline')).split('\n').length, 2);
      assert.equal(await sh('git remote'), '');
      assert.equal(await sh('git tag'), '');
      assert.equal(await sh('git reflog'), '');
      assert.equal(await sh('git branch -a --format="%(refname)"'), 'refs/heads/main');
      assert.equal(await sh('git rev-parse HEAD'), commits.base);
      assert.equal(await sh('git status --porcelain --untracked-files=no'), '');
      assert.equal(await sh('test ! -e old.txt && cat docs/notes/mul.md'), 'mul multiplies');
      const slow = await execInContainer(container, 'sleep 10', { timeoutMs: 1000 });
      assert.equal(slow.timedOut, true);
    } finally {
      await container.remove({ force: true });
    }
  });

  it('runs the tests offline with limits and gets pytest output', async () => {
    const r = await runInContainer(docker, {
      image: inst.tag,
      script: [
        'python -c "import calc; print(calc.__file__)"',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
        'pytest -rA -p no:cacheprovider',
      ].join('\n'),
      timeoutMs: 60_000,
      limits: LIMITS,
    });
    assert.equal(r.timedOut, false);
    assert.equal(r.exitCode, 1, r.output);
    assert.match(r.output, /^\/testbed\/calc\/__init__\.py$/m);
    assert.match(r.output, new RegExp(`^${LIMITS.memoryMb * 1024 * 1024}$`, 'm'));
    assert.match(r.output, /^FAILED tests\/test_calc\.py::test_add/m);
    assert.match(r.output, /^PASSED tests\/test_mul\.py::test_mul/m);

    const net = await runInContainer(docker, {
      image: inst.tag,
      script: `python3 -c "import socket; socket.create_connection(('1.1.1.1', 53), 2)"`,
      timeoutMs: 30_000,
      limits: LIMITS,
    });
    assert.notEqual(net.exitCode, 0, net.output);
    assert.match(net.output, /OSError|unreachable|timed out/i);

    const order = await runInContainer(docker, {
      image: inst.tag,
      script: 'echo one; echo two >&2; echo three; exit 3',
      timeoutMs: 30_000,
      limits: LIMITS,
    });
    assert.deepEqual([order.exitCode, order.output], [3, 'one\ntwo\nthree\n']);
  });

  it('an instance layer can re-run the editable install offline', async () => {
    const again = await buildInstanceImage(docker, {
      envTag: env.tag,
      repo: REPO,
      repoPath,
      baseCommit: commits.base,
      instanceId: 'acme__calc-1',
      reinstallEditable: true,
    });
    try {
      assert.equal(again.cached, false);
      assert.notEqual(again.tag, inst.tag);
      assert.match(again.logs, />>> \[bottega\] reinstall editable/);
      const r = await runInContainer(docker, {
        image: again.tag,
        script: 'python -c "from calc import mul; print(mul(6, 7))"',
        timeoutMs: 30_000,
        limits: LIMITS,
      });
      assert.equal(r.output.trim(), '42');
    } finally {
      await removeImage(again.tag);
    }
  });

  it('kills and removes a container that runs past its timeout', async () => {
    const r = await runInContainer(docker, { image: inst.tag, script: 'sleep 30', timeoutMs: 2000, limits: LIMITS });
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, null);
    assert.ok(r.durationMs < 15_000, `took ${r.durationMs} ms`);
    await assert.rejects(
      docker.getContainer(r.containerId).inspect(),
      (err: { statusCode?: number }) => err.statusCode === 404
    );
  });

  it('a failing install step is an ImageBuildError with the log', async () => {
    // A token unique to this run keeps Docker's layer cache (from earlier runs on this engine) from
    // skipping the first step, whose output the log must show.
    const token = `run-${process.pid}-${Date.now()}`;
    const failing = InstallConfig.parse({
      ...CONFIG,
      pip_packages: [],
      install: [`echo about to fail ${token}`, 'false'],
    });
    await assert.rejects(
      buildEnvImage(docker, { baseTag, repo: REPO, repoPath, envCommit: commits.env, config: failing, network: false }),
      (err: unknown) => {
        assert.ok(err instanceof ImageBuildError);
        assert.equal(err.stage, 'env');
        assert.equal(err.reason, 'install_failed');
        assert.match(err.message, /step "install 2\/2: false" failed/);
        assert.ok(
          err.log.split('\n').includes(`about to fail ${token}`),
          'the earlier step ran and its output is in the log'
        );
        assert.match(err.log, />>> \[bottega\] install 2\/2: false/);
        return true;
      }
    );
    const apt = InstallConfig.parse({ ...CONFIG, system_packages: ['libxml2-dev'] });
    await assert.rejects(
      buildEnvImage(docker, { baseTag, repo: REPO, repoPath, envCommit: commits.env, config: apt, network: false }),
      (err: unknown) =>
        err instanceof ImageBuildError && err.reason === 'install_failed' && /need network/.test(err.message)
    );
  });

  it('lists bottega images and never prunes images in use', async () => {
    const images = await listBottegaImages(docker);
    const mine = images.find((i) => i.tag === inst.tag);
    assert.equal(mine?.kind, 'instance');
    assert.equal(mine?.parent, env.tag);
    assert.equal(mine?.ownBytes, inst.sizeAddedBytes);
    const plan = await pruneImages(docker, { budgetBytes: 0, inUse: [inst.tag], dryRun: true });
    const removed = plan.removed.map((i) => i.tag);
    assert.ok(
      !removed.includes(inst.tag) && !removed.includes(env.tag) && !removed.includes(baseTag),
      removed.join(', ')
    );
    assert.ok(plan.afterBytes <= plan.beforeBytes);
  });
});
