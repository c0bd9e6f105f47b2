import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers/cli';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ExperimentSpecInput } from '../../contracts';
import { reportCommand } from '../../cli/report';
import { makeFixtureRepos, type FixtureRepo } from '../../infra/fixtures/make-repos';
import { chart, reportSvgs, walk } from '../../report/inspect';
import { prerequisites } from '../helpers/prereq';
import { fixtureSpec, runWorkers } from '../helpers/stack';
import { listWorkflows, startTemporal } from '../helpers/temporal';

/**
 * The experiment's DAG in the CLI, against a real Temporal dev server and an in-process cpu worker
 * (bin/bottega.mjs in its own process): `run --dry-run` prints the graph and starts nothing;
 * `run --wait` on a failing experiment prints each stage's final status from the workflow's memo;
 * `bottega report` draws the graph of a finished run with each stage's status and duration.
 */
const skip = await prerequisites('temporal');
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> };
let repos: FixtureRepo[];
const spawned: ChildProcess[] = [];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-cli-graph-'));
const artifacts = join(home, 'artifacts');
const docs = join(home, 'docs.jsonl');

/** Writes a spec file (with the test's store) under the test's home. */
function specFile(spec: ExperimentSpecInput): string {
  const file = join(home, `${spec.id}.json`);
  writeFileSync(file, JSON.stringify({ ...spec, store: { uri: `file://${artifacts}` } }));
  return file;
}

/** mine (fixture git repositories) beside a mix of local documents: two roots of the graph. */
const branches = (id: string, seed = 5): ExperimentSpecInput =>
  fixtureSpec(
    id,
    repos,
    {
      mix: {
        seed,
        sources: [{ name: 'docs', path: docs }],
        stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'docs' }] }],
      },
    },
    { formats: ['general'] }
  );

/** The CLI in its own process, talking to this test's server; resolves when it exits. */
function cli(args: string[]) {
  const e = { ...process.env, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', BOTTEGA_HOME: home };
  return spawnCli(args, e, (p) => spawned.push(p));
}

describe('the experiment DAG in the CLI (real CLI process, real Temporal dev server)', { skip }, () => {
  before(async () => {
    env = await startTemporal();
    workers = await runWorkers(env, home, ['cpu']);
    repos = (await makeFixtureRepos(join(home, 'repos'))).repos;
    const doc = (i: number) =>
      JSON.stringify({ id: `d${i}`, text: `def f${i}(x):\n    return x * ${i} + ${i * 7}\n`.repeat(20) });
    writeFileSync(docs, Array.from({ length: 20 }, (_, i) => doc(i)).join('\n') + '\n');
  });
  after(async () => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await workers?.stop();
    await env?.teardown();
  });

  it('run --dry-run prints the graph and starts nothing', async () => {
    const id = 'exp-it-dry-run';
    const r = await cli(['run', specFile(branches(id)), '--dry-run', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        `dry run: experiment ${id} would run with schedule: dag, on_failure: continue (nothing started)`,
        'mine     (no stage inputs: starts at once)',
        'mix      (no stage inputs: starts at once)',
        'run side by side from the start: mine, mix',
        '',
      ].join('\n')
    );
    assert.equal(r.stderr, '');
    for (const w of [id, `${id}/mine`, `${id}/mix`])
      await assert.rejects(env.client.workflow.getHandle(w).describe(), WorkflowNotFoundError, `${w} not started`);
    assert.deepEqual(await listWorkflows(env.client, `WorkflowId STARTS_WITH "${id}"`, 0), []);
    // An invalid graph is refused the same way, before anything starts.
    const bad = specFile({ id: 'exp-it-dry-run-bad', rollout: { policy: 'replay-gold' } });
    const b = await cli(['run', bad, '--dry-run']);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /^rollout: rollout reads tasks from the build stage, but the experiment has none/m);
    await assert.rejects(env.client.workflow.getHandle('exp-it-dry-run-bad').describe(), WorkflowNotFoundError);
  });

  it('run --wait prints every stage final status when the experiment fails', async () => {
    // mine fails (its source's ref does not exist); mix, on its own branch, runs to the end.
    const id = 'exp-it-dag-fail';
    const spec = branches(id);
    spec.mine!.sources = [{ type: 'git', repo: repos[0]!.repo, path: repos[0]!.path, ref: 'no-such-ref' }];
    const r = await cli(['run', specFile(spec), '--wait']);
    // 2: the spec is at fault (its ref), as for any stage failing on its spec
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /experiment exp-it-dag-fail failed: .*no-such-ref/);
    assert.ok(r.stderr.endsWith('stages:\n  mine     failed\n  mix      ran\n'), r.stderr);
  });

  it('run --wait names the stage a stage that never started reads from', async () => {
    const id = 'exp-it-dag-blocked';
    const spec = branches(id);
    spec.mine!.sources = [{ type: 'git', repo: repos[0]!.repo, path: repos[0]!.path, ref: 'no-such-ref' }];
    spec.mix!.sources = [{ name: 'prs', from: 'mine.general' }];
    spec.mix!.stages = [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'prs' }] }];
    const r = await cli(['run', specFile(spec), '--wait']);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.endsWith('stages:\n  mine     failed\n  mix      not started (reads from mine)\n'), r.stderr);
    // the progress lines say so too
    assert.match(r.stderr, /mix {6}\[░+\] {2}not started \(mine /);
    // retry --wait (the ref is still missing) prints the same statuses after the same cause
    const retry = await cli(['retry', id, '--wait']);
    assert.equal(retry.code, 2, retry.stderr);
    assert.ok(
      retry.stderr.endsWith('stages:\n  mine     failed\n  mix      not started (reads from mine)\n'),
      retry.stderr
    );
  });

  it('bottega report draws the graph of a finished run: every stage, its status and duration', async () => {
    const id = 'exp-it-dag-report';
    // a mix seed of its own: nothing in the step cache has its inputs
    const r = await cli(['run', specFile(branches(id, 6)), '--wait']);
    assert.equal(r.code, 0, r.stderr);
    const out = join(home, 'reports');
    const printed: string[] = [];
    const code = await reportCommand(
      env.client,
      id,
      { out, format: 'html' },
      { out: (s) => printed.push(s), err: () => {} }
    );
    assert.equal(code, 0);
    const svg = chart(reportSvgs(readFileSync(printed[0]!, 'utf8')), 'dag');
    assert.ok(svg, 'the report draws the DAG');
    const nodes = walk(svg)
      .filter((n) => n.attrs.class === 'stage')
      .map((n) => ({ stage: n.attrs['data-stage'], status: n.attrs['data-status'], ms: n.attrs['data-duration-ms'] }));
    assert.deepEqual(
      nodes.map((n) => [n.stage, n.status]),
      [
        ['mine', 'ran'],
        ['mix', 'ran'],
      ]
    );
    // Each box's duration is its child workflow's, as Temporal reports it.
    for (const n of nodes) {
      const d = await env.client.workflow.getHandle(`${id}/${n.stage}`).describe();
      assert.equal(Number(n.ms), d.closeTime!.getTime() - d.startTime.getTime(), n.stage);
    }
    assert.equal(walk(svg).filter((n) => n.attrs.class === 'edge').length, 0, 'independent branches: no arrow');
  });
});
