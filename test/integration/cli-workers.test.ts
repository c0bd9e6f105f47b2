import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { type ExperimentResult, type ExperimentSpecInput, type MixConfigInput } from '../../contracts';
import { makeFixtureRepos, type FixtureRepo } from '../../infra/fixtures/make-repos';
import { watchWorkers } from '../../cli/worker-check';
import { fixtureSpec, runWorkers } from '../helpers/stack';
import { freePort, startTemporal } from '../helpers/temporal';

/**
 * The real CLI (bin/bottega.mjs, its own process) against a private Temporal dev server with its
 * Web UI: `run --wait` with no worker says at once which worker is missing and how to start one,
 * keeps waiting, and finishes once a worker comes; its summary links each stage's run; the
 * experiment's current details render as a table in the Web UI; `run --local-worker` completes an
 * experiment with the workers in its own process and leaves stdout to the result.
 */
let env: TestWorkflowEnvironment;
let ui: string;
let repos: FixtureRepo[];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-cli-workers-'));
const spawned: ChildProcess[] = [];

const MIX: MixConfigInput = {
  seed: 7,
  sources: [{ name: 'general_prs', from: 'mine.general' }],
  stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }] }],
};

/** Writes a spec file under the test's home. */
function specFile(spec: ExperimentSpecInput): string {
  const file = join(home, `${spec.id}.json`);
  // A store of its own: nothing is reused from another test's step cache.
  writeFileSync(file, JSON.stringify({ ...spec, store: { uri: `file://${join(home, spec.id, 'artifacts')}` } }));
  return file;
}

/** The CLI in its own process, talking to this test's server; output collected as it comes. */
function cli(args: string[]) {
  const p = spawn(process.execPath, ['bin/bottega.mjs', ...args], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_UI_URL: ui,
      BOTTEGA_HOME: home,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(p);
  const out = { stdout: '', stderr: '' };
  p.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exit = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  return { p, out, exit };
}

/** Resolves once `text()` matches `re`, or rejects after `ms` with what was there. */
async function waitFor(text: () => string, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = text().match(re);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms in:\n${text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The process's exit code, or a rejection after `ms` (the timer does not hold the test process open). */
const exitWithin = (exit: Promise<number | null>, ms: number) =>
  Promise.race([
    exit,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no exit within ${ms} ms`)), ms).unref()),
  ]);

describe('the CLI and its workers (real CLI process, real Temporal dev server)', () => {
  before(async () => {
    const uiPort = await freePort();
    env = await startTemporal({ uiPort });
    ui = `http://127.0.0.1:${uiPort}`;
    ({ repos } = await makeFixtureRepos(join(home, 'fixtures')));
  });
  after(async () => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await env?.teardown();
  });

  // First: before any worker has polled this server.
  it('run without --wait names every missing capability: docker for build, cpu for the rest', async () => {
    const id = 'exp-it-noworker-build';
    const spec = fixtureSpec(id, repos, { build: { tasks: { from_mine: true } } });
    const run = cli(['run', specFile(spec)]);
    assert.equal(await exitWithin(run.exit, 30_000), 0, run.out.stderr);
    assert.match(run.out.stderr, /no worker polls bottega-cpu \(needed by workflows, mine, build\)/);
    assert.match(run.out.stderr, /no worker polls bottega-docker \(needed by build\)/);
    assert.match(
      run.out.stderr,
      /start them on a host with Docker: BOTTEGA_WORKER_CAPABILITIES=cpu,docker npm run worker/
    );
    await env.client.workflow.getHandle(id).terminate('test done');
  });

  it('run --wait with no worker names the missing worker within 10 s, keeps waiting, and finishes when one starts', async () => {
    const id = 'exp-it-noworker';
    const started = Date.now();
    const run = cli(['run', specFile(fixtureSpec(id, repos)), '--wait']);
    const m = await waitFor(() => run.out.stderr, /no worker polls bottega-cpu .*\n.*\n?/, 10_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 10_000, `warned after ${elapsed} ms`);
    assert.match(run.out.stderr, /no worker polls bottega-cpu \(needed by workflows, mine\)/);
    assert.match(run.out.stderr, /BOTTEGA_WORKER_CAPABILITIES=cpu npm run worker/, m[0]);
    // The link names the run it started.
    const runId = (await env.client.workflow.getHandle(id).describe()).runId;
    assert.ok(run.out.stderr.includes(`Web UI: ${ui}/namespaces/default/workflows/${id}/${runId}/history`));
    assert.equal(run.p.exitCode, null, 'it keeps waiting: the experiment is started, a worker may come');

    // A worker comes: the experiment completes and the same CLI prints its summary.
    const workers = await runWorkers(env, home, ['cpu']);
    try {
      assert.equal(await exitWithin(run.exit, 120_000), 0, run.out.stderr);
      const result = (await env.client.workflow.getHandle(id).result()) as ExperimentResult;
      const mine = result.stages.mine!;
      assert.equal(mine.status, 'ran');
      assert.ok(
        run.out.stdout.includes(
          `Web UI: ${ui}/namespaces/default/workflows/${encodeURIComponent(`${id}/mine`)}/${mine.producer.runId}/history`
        ),
        run.out.stdout
      );

      // The experiment's current details, rendered by the Web UI itself: a table linking the stage's run.
      const meta = await env.client.workflow
        .getHandle(id)
        .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      const details = meta.currentDetails ?? '';
      assert.match(details, /\*\*exp-it-noworker\*\*: done/);
      const html = await (await fetch(`${ui}/render?content=${encodeURIComponent(details)}`)).text();
      // (on the DAG a column says what each stage reads from: nothing, for mine)
      assert.match(
        html,
        /<table>[\s\S]*<th>stage<\/th>\s*<th>reads from<\/th>[\s\S]*<td>mine<\/td>\s*<td>[^<]*<\/td>\s*<td>completed<\/td>/
      );
      assert.ok(
        html.includes(
          `href="/namespaces/default/workflows/${encodeURIComponent(`${id}/mine`)}/${mine.producer.runId}/history"`
        ),
        html
      );

      // bottega retry --wait: the mine stage planned again comes from the step cache, and the
      // summary links the run that produced it (the first run's mine stage), not the new run.
      const retry = cli(['retry', id, 'mine', '--wait']);
      assert.equal(await exitWithin(retry.exit, 120_000), 0, retry.out.stderr);
      const newRun = retry.out.stderr.match(/new run (\S+)/)?.[1];
      assert.ok(newRun && newRun !== runId, retry.out.stderr);
      assert.ok(retry.out.stderr.includes(`Web UI: ${ui}/namespaces/default/workflows/${id}/${newRun}/history`));
      assert.doesNotMatch(retry.out.stderr, /no worker polls/);
      assert.match(
        retry.out.stdout,
        new RegExp(`stage mine: reused from cache \\(produced by ${id}/mine run ${mine.producer.runId}\\)`)
      );
      assert.ok(
        retry.out.stdout.includes(
          `Web UI: ${ui}/namespaces/default/workflows/${encodeURIComponent(`${id}/mine`)}/${mine.producer.runId}/history`
        ),
        retry.out.stdout
      );
    } finally {
      await workers.stop();
    }
  });

  it('the watch notices a worker that starts later and says so', async () => {
    const said: string[] = [];
    const watch = watchWorkers(env.client, () => ({ slurm: ['train'] }), {
      err: (l) => said.push(l),
      intervalMs: 300,
      remind: true,
    });
    await watch.ready;
    assert.deepEqual(said, [
      'no worker polls bottega-slurm (needed by train): nothing runs there until one starts.',
      '  start one on a host with Slurm access: BOTTEGA_WORKER_CAPABILITIES=slurm npm run worker (or: bottega worker --capabilities slurm)',
    ]);
    assert.deepEqual(watch.lines(), [], 'no reminder before half a minute');
    const workers = await runWorkers(env, home, ['slurm']);
    try {
      await waitFor(() => said.join('\n'), /a worker now polls bottega-slurm/, 10_000);
    } finally {
      watch.stop();
      await workers.stop();
    }
  });

  it('run --local-worker completes an experiment with its own workers, then exits; stdout holds only the result', async () => {
    const id = 'exp-it-local-worker';
    const run = cli(['run', specFile(fixtureSpec(id, repos, { mix: MIX })), '--local-worker', '--json']);
    const code = await exitWithin(run.exit, 240_000);
    assert.equal(code, 0, run.out.stderr);
    const result = JSON.parse(run.out.stdout) as ExperimentResult;
    assert.equal(result.experimentId, id);
    assert.equal(result.stages.mine?.status, 'ran');
    assert.equal(result.stages.mix?.status, 'ran');
    assert.match(run.out.stderr, /local worker \(cpu\) running in this process; its log: .*local-worker\.log/);
    assert.doesNotMatch(run.out.stderr, /no worker polls/);
    const log = join(home, 'logs', 'local-worker.log');
    assert.ok(
      existsSync(log) && readFileSync(log, 'utf8').includes('local workers running'),
      'worker log lines in the file'
    );
  });
});
