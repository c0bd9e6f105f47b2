import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRecord } from '../helpers/test-record';
import { allowedMissing } from '../helpers/prereq';

/** test/run.ts, run for real on the fixture files in test/fixtures/runner. */
function runner(files: string[], env: Record<string, string> = {}) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'test/run.ts', ...files.map((f) => `test/fixtures/runner/${f}`)],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, BOTTEGA_TEST_ALLOW_MISSING: '', ...env },
    }
  );
  return { code: r.status, out: r.stdout + r.stderr, last: r.stdout.trim().split('\n').pop() };
}

function alive(pid: number): boolean {
  try {
    // A zombie (killed, not yet reaped by PID 1) is not alive.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('test runner (test/run.ts)', () => {
  it('kills a file that never ends, with the processes it started, and counts it failed', () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'bottega-runner-')), 'pid');
    const t0 = Date.now();
    const r = runner(['hangs.test.ts', 'passes.test.ts'], {
      BOTTEGA_TEST_FILE_TIMEOUT_S: '3',
      RUNNER_FIXTURE_PID_FILE: pidFile,
    });
    assert.equal(r.code, 1);
    assert.ok(Date.now() - t0 < 60_000, 'the run ends soon after the hard limit');
    assert.match(r.out, /hangs\.test\.ts: timed out after 3 s/);
    assert.equal(r.last, 'tests: 1 passed, 1 failed, 0 skipped');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0 && !alive(pid), `the file's child ${pid} was killed`);
  });

  it('lists failures and skipped suites; a skip fails the run unless BOTTEGA_TEST_ALLOW_MISSING is set', () => {
    const strict = runner(['mixed.test.ts', 'passes.test.ts']);
    assert.equal(strict.code, 1);
    assert.match(strict.out, /✖ test\/fixtures\/runner\/mixed\.test\.ts: fails/);
    assert.match(strict.out, /skipped suite test\/fixtures\/runner\/mixed\.test\.ts: skipped suite: no engine here/);
    assert.match(strict.out, /skipped test test\/fixtures\/runner\/mixed\.test\.ts: skipped test: not today/);
    assert.match(strict.out, /ℹ skipped 2 \(1 suites, 1 tests\)/);
    assert.equal(strict.last, 'tests: 2 passed, 1 failed, 2 skipped');
    const lenient = runner(['passes.test.ts', 'mixed.test.ts'], { BOTTEGA_TEST_ALLOW_MISSING: 'all' });
    assert.equal(lenient.code, 1, 'the failure still fails the run');
    const skipsOnly = runner(['passes.test.ts'], { BOTTEGA_TEST_ALLOW_MISSING: 'all' });
    assert.equal(skipsOnly.code, 0);
  });

  it('a file that fails while loading is a failure named in the summary', () => {
    const r = runner(['broken.test.ts']);
    assert.equal(r.code, 1);
    assert.match(r.out, /missing prerequisites: docker/);
    assert.equal(r.last, 'tests: 0 passed, 1 failed, 0 skipped');
  });
});

describe('test record and prerequisites', () => {
  it('parses counts, skips and leaf failures; a cut record is incomplete', () => {
    const lines = [
      { kind: 'result', pass: true, name: 's', suite: true, skip: 'no docker', todo: false, parentOnly: false },
      { kind: 'result', pass: false, name: 't', suite: false, todo: false, parentOnly: false },
      { kind: 'result', pass: false, name: 'parent', suite: true, todo: false, parentOnly: true },
      ...['tests 2', 'suites 2', 'pass 0', 'fail 1', 'cancelled 0', 'skipped 1', 'todo 0'].map((m) => ({
        kind: 'count',
        message: m,
      })),
    ];
    const c = parseRecord(lines.map((l) => JSON.stringify(l)).join('\n') + '\n{"kind":"res');
    assert.equal(c.complete, true);
    assert.deepEqual([c.tests, c.fail, c.skipped], [2, 1, 1]);
    assert.deepEqual(c.skips, [{ name: 's', reason: 'no docker', suite: true }]);
    assert.deepEqual(c.failures, ['t']);
    assert.equal(
      parseRecord(
        lines
          .slice(0, 3)
          .map((l) => JSON.stringify(l))
          .join('\n')
      ).complete,
      false
    );
  });

  it('BOTTEGA_TEST_ALLOW_MISSING names what may be skipped', () => {
    const saved = process.env.BOTTEGA_TEST_ALLOW_MISSING;
    try {
      process.env.BOTTEGA_TEST_ALLOW_MISSING = 'docker, s3';
      assert.deepEqual([allowedMissing('docker'), allowedMissing('s3'), allowedMissing('slurm')], [true, true, false]);
      process.env.BOTTEGA_TEST_ALLOW_MISSING = 'all';
      assert.equal(allowedMissing('slurm'), true);
      delete process.env.BOTTEGA_TEST_ALLOW_MISSING;
      assert.equal(allowedMissing('docker'), false);
    } finally {
      if (saved === undefined) delete process.env.BOTTEGA_TEST_ALLOW_MISSING;
      else process.env.BOTTEGA_TEST_ALLOW_MISSING = saved;
    }
  });
});
