import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureEvalTasks } from '../../bench/eval';
import { runTaskTests } from '../../activities/grading';
import { EvalRunReport } from '../../contracts';
import { dockerOrSkip } from '../helpers/docker';

/**
 * Patches of any size are graded (issue 15.2): a 5 MB model patch and a test_patch over the 128 KiB
 * argument limit go into the container as files (archive API), where they once travelled in the
 * command line (`argument list too long` from ~96 KB, HTTP 431 from dockerd at ~1 MB).
 */
const probe = await dockerOrSkip();
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-bigpatch-'));
const LIMITS = { cpus: 1, memoryMb: 1024, pids: 256 };

/** A diff adding `path` with `lines` numbered lines of filler (about 64 bytes each). */
function newFileDiff(path: string, lines: number): string {
  const body = Array.from({ length: lines }, (_, i) => `+line ${String(i).padStart(8, '0')} ${'x'.repeat(48)}`);
  return [
    `diff --git a/${path} b/${path}`,
    'new file mode 100644',
    '--- /dev/null',
    `+++ b/${path}`,
    `@@ -0,0 +1,${lines} @@`,
    ...body,
    '',
  ].join('\n');
}

describe('grading large patches (real Docker)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('`bottega eval` resolves a 5 MB prediction (gold fix plus a large data file) on a task with a 300 KB test_patch', async () => {
    const [calc] = await fixtureEvalTasks(probe.docker!, join(tmp, 'fixtures'), BOTTEGA_HOME, ['acme__calc-1']);
    const bigPatch = calc!.patch + newFileDiff('data/big.txt', 80_000);
    assert.ok(bigPatch.length > 5_000_000, `patch is ${bigPatch.length} bytes`);
    // A .txt file is not a test directive (SWE-bench's NON_TEST_EXTS), so the tests run are unchanged.
    const task = { ...calc!, test_patch: calc!.test_patch + newFileDiff('tests/fixture_data.txt', 5_000) };
    assert.ok(task.test_patch.length > 300_000);
    const tasksFile = join(tmp, 'tasks.jsonl');
    const predsFile = join(tmp, 'preds.jsonl');
    writeFileSync(tasksFile, JSON.stringify(task) + '\n');
    writeFileSync(
      predsFile,
      JSON.stringify({ instance_id: task.instance_id, model_name_or_path: 'big', model_patch: bigPatch }) + '\n'
    );
    const r = spawnSync(
      process.execPath,
      [join(REPO, 'bin/bottega.mjs'), 'eval', '--predictions', predsFile, '--tasks', tasksFile, '--run-id', 'big'],
      { cwd: tmp, env: { ...process.env, BOTTEGA_HOME: join(tmp, 'home') }, encoding: 'utf8', timeout: 300_000 }
    );
    assert.equal(r.status, 0, r.stderr);
    const report = EvalRunReport.parse(JSON.parse(readFileSync(join(tmp, 'big.big.json'), 'utf8')));
    assert.deepEqual(report.resolved_ids, [task.instance_id], JSON.stringify(report));
    assert.equal(report.error_instances, 0);
    assert.equal(report.infra_failure_instances, 0);
  });

  it('runTaskTests applies a 5 MB patch in the container and leaves its bytes intact', async () => {
    const [calc] = await fixtureEvalTasks(probe.docker!, join(tmp, 'fixtures2'), BOTTEGA_HOME, ['acme__calc-1']);
    const lines = 80_000;
    const log = await runTaskTests(probe.docker!, {
      image: typeof calc!.image === 'string' ? calc!.image : calc!.image.tag,
      task: calc!,
      config: { ...calc!.install_config, test_cmd: `wc -l data/big.txt && tail -n 1 data/big.txt` },
      patch: calc!.patch + newFileDiff('data/big.txt', lines),
      timeoutMs: 120_000,
      limits: LIMITS,
    });
    assert.equal(log.timedOut, false);
    assert.match(log.output, new RegExp(`^${lines} data/big.txt$`, 'm'), log.output.slice(-2000));
    assert.match(log.output, new RegExp(`^line ${String(lines - 1).padStart(8, '0')} x{48}$`, 'm'));
  });
});
