import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureEvalTasks } from '../../bench/eval';
import { dockerOrSkip } from '../helpers/docker';

/**
 * Ctrl-C on `bottega eval` (issue 15.3): the grading containers are killed and removed, the command
 * exits 130, and instances graded before the interrupt keep their files.
 */
const probe = await dockerOrSkip();
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-evalint-'));
const RUN_ID = `int-${process.pid}`;

const runContainers = async () =>
  probe.docker!.listContainers({ all: true, filters: { label: [`bottega.eval-run=${RUN_ID}`] } });

describe('interrupting bottega eval (real Docker)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('SIGINT removes the grading containers and exits 130; graded instances keep their files', async () => {
    const [calc] = await fixtureEvalTasks(probe.docker!, join(tmp, 'fixtures'), BOTTEGA_HOME, ['acme__calc-1']);
    // The gold fix, and a variant whose fix hangs when the tests call it.
    const hang = calc!.patch.replace(/^\+(\s+)return .*$/m, '+$1import time; time.sleep(3600)');
    assert.notEqual(hang, calc!.patch, 'the gold patch has a return line to replace');
    const tasks = [calc!, { ...calc!, instance_id: 'acme__calc-1.hang' }];
    writeFileSync(join(tmp, 'tasks.jsonl'), tasks.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const pred = (id: string, patch: string) => ({ instance_id: id, model_name_or_path: 'm', model_patch: patch });
    writeFileSync(
      join(tmp, 'preds.jsonl'),
      [pred('acme__calc-1', calc!.patch), pred('acme__calc-1.hang', hang)].map((p) => JSON.stringify(p)).join('\n') +
        '\n'
    );
    const args = ['eval', '--predictions', 'preds.jsonl', '--tasks', 'tasks.jsonl', '--run-id', RUN_ID];
    const child = spawn(process.execPath, [join(REPO, 'bin/bottega.mjs'), ...args, '--concurrency', '1'], {
      cwd: tmp,
      env: { ...process.env, BOTTEGA_HOME: join(tmp, 'home') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      // Wait until the gold instance is graded and the hanging one's container runs.
      const deadline = Date.now() + 120_000;
      while (!(stderr.includes('acme__calc-1: resolved') && (await runContainers()).length > 0)) {
        assert.ok(Date.now() < deadline, `the hanging grading never started:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const t0 = Date.now();
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'slow'>((r) => setTimeout(() => r('slow'), 30_000))]);
      assert.equal(code, 130, `exit code; stderr:\n${stderr}`);
      assert.ok(Date.now() - t0 < 20_000, `exited ${Date.now() - t0} ms after SIGINT`);
      assert.deepEqual(await runContainers(), [], 'no grading container is left');
      assert.match(stderr, /interrupted: no container left running/);
      const dir = join(tmp, 'logs', 'run_evaluation', RUN_ID, 'm');
      assert.ok(existsSync(join(dir, 'acme__calc-1', 'report.json')), 'the graded instance keeps its report');
      assert.ok(!existsSync(join(dir, 'acme__calc-1.hang', 'report.json')), 'the interrupted one has none');
    } finally {
      child.kill('SIGKILL');
      for (const c of await runContainers()) await probe.docker!.getContainer(c.Id).remove({ force: true });
    }
  });
});
