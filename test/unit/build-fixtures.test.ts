import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBuildFixtures, type BuildFixtures, type BuildFixtureTask } from '../../infra/fixtures/make-build-repos';

/**
 * The build-stage fixtures must mean what their table says: checked here on the host with git
 * and the host's Python (no Docker), so a broken fixture is caught before any image is built.
 */
let fx: BuildFixtures;
const dir = mkdtempSync(join(tmpdir(), 'bottega-bfx-'));

/** A clean checkout of the task's repository at its base commit. */
function checkout(t: BuildFixtureTask): string {
  const src = fx.repos.find((r) => r.repo === t.repo)!.path;
  const wt = mkdtempSync(join(dir, `${t.instance_id}-`));
  execFileSync('git', ['clone', '-q', src, wt]);
  execFileSync('git', ['-C', wt, 'checkout', '-q', t.base_commit]);
  return wt;
}

function apply(wt: string, patch: string): boolean {
  const file = join(wt, '..', `${Math.random().toString(36).slice(2)}.diff`);
  writeFileSync(file, patch);
  return spawnSync('git', ['-C', wt, 'apply', file]).status === 0;
}

describe('build fixtures', () => {
  before(async () => {
    fx = await makeBuildFixtures(join(dir, 'out'));
  });

  it('are deterministic', async () => {
    const again = await makeBuildFixtures(join(dir, 'again'));
    assert.deepEqual(
      again.tasks.map((t) => [t.instance_id, t.base_commit, t.patch, t.test_patch]),
      fx.tasks.map((t) => [t.instance_id, t.base_commit, t.patch, t.test_patch])
    );
  });

  it('gold patches apply, except the one built not to', () => {
    for (const t of fx.tasks) {
      const wt = checkout(t);
      assert.equal(apply(wt, t.test_patch), true, `${t.instance_id} test_patch`);
      assert.equal(apply(wt, t.patch), t.expected.outcome !== 'patch_apply_failed', `${t.instance_id} patch`);
    }
  });

  it('the valid pytest task fails before and passes after the gold patch', () => {
    const t = fx.tasks.find((x) => x.instance_id === 'acme__calc-1')!;
    const wt = checkout(t);
    assert.ok(apply(wt, t.test_patch), 'the test patch applies');
    // Isolated from the host: no ini files above the checkout, no PYTEST_ADDOPTS, no plugins
    // auto-loaded from the host's site-packages, no bytecode cache.
    const pytest = () =>
      spawnSync(
        'python3',
        ['-m', 'pytest', '-rA', '-p', 'no:cacheprovider', '--rootdir', wt, '-c', '/dev/null', 'tests'],
        {
          cwd: wt,
          encoding: 'utf8',
          env: {
            ...process.env,
            PYTEST_ADDOPTS: '',
            PYTEST_DISABLE_PLUGIN_AUTOLOAD: '1',
            PYTHONPATH: '',
            // The gold patch turns `a - b` into `a + b`: same size, often the same mtime second, so a
            // .pyc written by the first run would be taken as fresh and the old code would run again.
            PYTHONDONTWRITEBYTECODE: '1',
          },
        }
      );
    // The whole output goes into each message: a failure here must say what pytest printed.
    const shown = (r: ReturnType<typeof pytest>) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;
    const before = pytest();
    assert.match(before.stdout, /^FAILED tests\/test_ops.py::test_add/m, shown(before));
    assert.match(before.stdout, /^PASSED tests\/test_ops.py::test_sub/m, shown(before));
    assert.ok(apply(wt, t.patch), 'the gold patch applies');
    const after = pytest();
    assert.equal(after.status, 0, shown(after));
    assert.match(after.stdout, /^PASSED tests\/test_ops.py::test_add/m, shown(after));
  });

  it('the unittest task names its tests the way unittest prints them', () => {
    const t = fx.tasks.find((x) => x.instance_id === 'acme__units-1')!;
    const wt = checkout(t);
    apply(wt, t.test_patch);
    apply(wt, t.patch);
    const r = spawnSync('python3', ['-m', 'unittest', '-v'], { cwd: wt, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const id of [...t.expected.FAIL_TO_PASS!, ...t.expected.PASS_TO_PASS!])
      assert.ok(r.stderr.includes(`${id} ... ok`), id);
  });
});
