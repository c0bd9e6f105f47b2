import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  EvaluateStageResult,
  primaryEvalScore,
  SweepSpec,
  TASK_QUEUES,
  type ExperimentResult,
  type MineStageResult,
  type SweepResult,
} from '../../contracts';
import { makeFixtureRepos, type FixtureRepo } from '../../infra/fixtures/make-repos';
import { makeBuildFixtures, writeTasksFile } from '../../infra/fixtures/make-build-repos';
import { startSweep } from '../../cli/sweep';
import { retryExperiment } from '../../cli/retry';
import { formatExperimentResult } from '../../cli/summary';
import { experimentData } from '../../report/experiment-data';
import { artifactReader } from '../../report/read-artifact';
import { renderHtml } from '../../report/render';
import { dockerOrSkip, fixtureBuild } from '../helpers/docker';
import { fixtureSpec, runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * The experiment as a DAG on the real Temporal dev server, Docker and workers: mine runs beside
 * build → rollout (replay-gold), mix waits for both; each stage is keyed on its own inputs, so a
 * mine change reruns mine and mix only (in one experiment and across a sweep's arms); a failed
 * branch leaves the other's results in the step cache, or with `on_failure: cancel` stops it.
 */
const probe = await dockerOrSkip('temporal');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-dag-'));
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
let repos: FixtureRepo[];
let tasksFile: string;
let buildRepos: { repo: string; path: string }[];

const MIX = {
  seed: 3,
  sources: [
    { name: 'general_prs', from: 'mine.general' },
    { name: 'traj_pass', from: 'rollout.pass' },
  ],
  stages: [{ name: 'mt', seq_len: 1024, sources: [{ source: 'general_prs' }, { source: 'traj_pass' }] }],
};

/** mine (fixture git repos) ∥ build (task files) → rollout (replay-gold), then mix of both. */
function spec(id: string, mineOver: Record<string, unknown> = {}, over: Record<string, unknown> = {}) {
  return fixtureSpec(
    id,
    repos,
    {
      store: { uri: `file://${join(tmp, 'artifacts')}` },
      build: fixtureBuild(tasksFile, buildRepos, BOTTEGA_HOME, { validation_runs: 1, concurrency: 2 }),
      rollout: { policy: 'replay-gold', rollouts_per_task: 1, concurrency: 2 },
      mix: MIX,
      ...over,
    } as never,
    { formats: ['general'], ...mineOver }
  );
}

const run = (s: ReturnType<typeof spec>) =>
  env.client.workflow.execute('experimentWorkflow', {
    workflowId: s.id,
    taskQueue: TASK_QUEUES.cpu,
    args: [s],
  }) as Promise<ExperimentResult>;

/** Start and close times of a child workflow, in ms. */
async function span(workflowId: string): Promise<[number, number]> {
  const d = await env.client.workflow.getHandle(workflowId).describe();
  return [d.startTime.getTime(), d.closeTime!.getTime()];
}

const statuses = (r: ExperimentResult) => Object.fromEntries(Object.entries(r.stages).map(([s, o]) => [s, o.status]));

describe('experiment DAG (real Temporal, Docker, workers)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  before(async () => {
    if ('skip' in probe) return;
    env = await startTemporal();
    workers = await runWorkers(env, BOTTEGA_HOME, ['cpu', 'docker']);
    repos = (await makeFixtureRepos(join(tmp, 'repos'))).repos;
    const fx = await makeBuildFixtures(join(tmp, 'build-fixtures'));
    tasksFile = join(tmp, 'tasks.jsonl');
    writeTasksFile(tasksFile, fx.tasks, ['acme__calc-1']);
    buildRepos = fx.repos;
  });
  after(async () => {
    await workers?.stop();
    await env?.teardown();
  });

  it('runs mine beside build → rollout, then mix; a mine change reruns mine and mix only', async () => {
    const r = await run(spec('exp-dag-1'));
    assert.deepEqual(statuses(r), { mine: 'ran', build: 'ran', rollout: 'ran', mix: 'ran' });
    assert.deepEqual(r.dag?.needs, { mine: [], build: [], rollout: ['build'], mix: ['mine', 'rollout'] });
    assert.deepEqual(r.dag?.status, { mine: 'ran', build: 'ran', rollout: 'ran', mix: 'ran' });
    // mine and build overlapped in time; mix started after both branches
    const [mineStart, mineEnd] = await span('exp-dag-1/mine');
    const [buildStart, buildEnd] = await span('exp-dag-1/build');
    const [rolloutStart, rolloutEnd] = await span('exp-dag-1/rollout');
    const [mixStart] = await span('exp-dag-1/mix');
    assert.ok(mineStart < buildEnd && buildStart < mineEnd, 'the mine and build child workflows overlap');
    assert.ok(rolloutStart >= buildEnd && mixStart >= Math.max(mineEnd, rolloutEnd));
    // the Web UI's current details show the graph: what each stage reads from, and its status
    const meta = await env.client.workflow
      .getHandle('exp-dag-1')
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(meta.currentDetails ?? '', /\| stage \| reads from \| status \|/);
    assert.match(meta.currentDetails ?? '', /\| mix \| mine, rollout \| completed \|/);

    // The same experiment with only a mine setting changed (fewer relevant files per PR changes
    // the general samples): mine and mix rerun, build and rollout come from the step cache.
    const r2 = await run(spec('exp-dag-2', { max_relevant_files: 1 }));
    assert.notEqual(
      (r2.stages.mine!.result as MineStageResult).artifacts.general!.sha256,
      (r.stages.mine!.result as MineStageResult).artifacts.general!.sha256,
      'the mine change changes the general samples'
    );
    assert.deepEqual(statuses(r2), { mine: 'ran', build: 'cached', rollout: 'cached', mix: 'ran' });
    assert.equal(r2.stages.build!.producer.workflowId, 'exp-dag-1/build');
  });

  it('a sweep over a mine setting runs build and rollout once', async () => {
    // a store of its own: nothing of this file's other experiments is in its step cache
    const base = spec('unused', {}, { store: { uri: `file://${join(tmp, 'artifacts-sweep')}` } }) as Record<
      string,
      unknown
    >;
    delete base.id;
    const sweep = SweepSpec.parse({
      id: 'sweep-dag',
      base,
      grid: { 'mine.max_relevant_files': [2, 3] },
      max_parallel: 2,
    });
    await startSweep(env.client, sweep);
    const res = (await env.client.workflow.getHandle(sweep.id).result()) as SweepResult;
    assert.equal(res.failed, 0, JSON.stringify(res.arms));
    const stage = (s: string) => res.arms.map((a) => a.stages[s]);
    assert.deepEqual(stage('mine'), ['ran', 'ran']);
    // one arm builds and rolls out; the other waits for it and takes both from the step cache
    assert.deepEqual(stage('build').sort(), ['cached', 'ran']);
    assert.deepEqual(stage('rollout').sort(), ['cached', 'ran']);
    assert.deepEqual(stage('mix'), ['ran', 'ran']);
  });

  it('a failed branch keeps the other branch, which a rerun takes from the cache', async () => {
    // mine fails at planning (its source's ref does not exist); build → rollout goes on
    const badMine = { sources: [{ type: 'git', repo: repos[0]!.repo, path: repos[0]!.path, ref: 'no-such-ref' }] };
    const bad = spec('exp-dag-fail', {}, { force: ['build', 'rollout'] });
    (bad as { mine: unknown }).mine = { ...(bad as { mine: object }).mine, ...badMine };
    await assert.rejects(run(bad), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError, String(e));
      const chain: string[] = [];
      for (let c: unknown = e; c instanceof Error; c = c.cause) chain.push(c.message);
      assert.match(chain.join(' | '), /no-such-ref/);
      return true;
    });
    const memo = (await env.client.workflow.getHandle('exp-dag-fail').describe()).memo as {
      dag?: Record<string, string>;
    };
    assert.deepEqual(memo.dag, { mine: 'failed', build: 'ran', rollout: 'ran', mix: 'not_started' });
    // the rerun with mine fixed takes build and rollout (which ran in the failed run) from the cache
    const fixed = spec('exp-dag-fixed', { max_relevant_files: 4 });
    const r = await run(fixed);
    assert.deepEqual(statuses(r), { mine: 'ran', build: 'cached', rollout: 'cached', mix: 'ran' });
    assert.equal(r.stages.rollout!.producer.workflowId, 'exp-dag-fail/rollout');
  });

  it('bottega retry replays the failed stage; the branch that finished comes from the cache', async () => {
    const ref = 'dag-retry-ref';
    const s = spec(
      'exp-dag-retry',
      { sources: [{ type: 'git', repo: repos[0]!.repo, path: repos[0]!.path, ref }] },
      // a store of its own, so that build and rollout really run in the failing run
      { store: { uri: `file://${join(tmp, 'artifacts-retry')}` } }
    );
    await assert.rejects(run(s), WorkflowFailedError);
    const handle = env.client.workflow.getHandle('exp-dag-retry');
    const memo = (await handle.describe()).memo as { dag?: Record<string, string> };
    assert.deepEqual(memo.dag, { mine: 'failed', build: 'ran', rollout: 'ran', mix: 'not_started' });
    // fix what failed (the ref now exists), then retry with no stage named: the failed one
    execFileSync('git', ['-C', repos[0]!.path, 'branch', ref]);
    const point = await retryExperiment(env.client, 'exp-dag-retry');
    assert.equal(point.stage, 'mine');
    const r = (await env.client.workflow.getHandle('exp-dag-retry', point.runId).result()) as ExperimentResult;
    assert.deepEqual(statuses(r), { mine: 'ran', build: 'cached', rollout: 'cached', mix: 'ran' });
  });

  it('two named evaluations in one experiment: each its own node and child, both reported', async () => {
    const id = 'exp-dag-evals';
    const r = await run({
      id,
      store: { uri: `file://${join(tmp, 'artifacts')}` },
      build: fixtureBuild(tasksFile, buildRepos, BOTTEGA_HOME, { validation_runs: 1, concurrency: 2 }),
      evaluate: [
        { name: 'gold', policy: 'replay-gold', runs: 1, tasks: { from: 'build' } },
        { name: 'gold-twice', policy: 'replay-gold', runs: 2, tasks: { from: 'build' } },
      ],
    } as never);
    assert.deepEqual(Object.keys(r.dag!.needs), ['build', 'evaluate.gold', 'evaluate.gold-twice']);
    assert.deepEqual(r.dag!.needs['evaluate.gold'], ['build']);
    assert.equal(r.stages['evaluate.gold']!.status, 'ran');
    assert.equal(r.stages['evaluate.gold-twice']!.status, 'ran');
    const a = EvaluateStageResult.parse(r.stages['evaluate.gold']!.result);
    const b = EvaluateStageResult.parse(r.stages['evaluate.gold-twice']!.result);
    assert.deepEqual([a.summary.runs, a.summary.mean], [1, 1]);
    assert.deepEqual([b.summary.runs, b.summary.mean], [2, 1]);
    // each ran as its own child workflow
    for (const n of ['gold', 'gold-twice'])
      assert.equal((await env.client.workflow.getHandle(`${id}/evaluate.${n}`).describe()).status.name, 'COMPLETED');
    // the summary compares them
    const text = formatExperimentResult(r);
    assert.match(text, /evaluations compared/);
    assert.match(text, /evaluate\.gold-twice .* 100\.0% .* \+0\.0 points vs evaluate\.gold/);
    // and sweeps score an arm by its first evaluation
    assert.equal(primaryEvalScore(r), 1);
    // the report compares them too: a table and a chart with one entry per evaluation
    const e = await experimentData(r, artifactReader(), []);
    assert.deepEqual(
      e.evaluations?.map((v) => [v.node, v.runs, v.mean]),
      [
        ['evaluate.gold', 1, 1],
        ['evaluate.gold-twice', 2, 1],
      ]
    );
    const html = renderHtml({ kind: 'experiment', id, experiment: e, warnings: [] });
    assert.match(html, /Evaluations compared/);
    assert.match(html, /evaluate\.gold-twice/);
  });

  it('with on_failure: cancel, a failure cancels the other branch', async () => {
    const badMine = { sources: [{ type: 'git', repo: repos[0]!.repo, path: repos[0]!.path, ref: 'no-such-ref' }] };
    const s = spec('exp-dag-cancel', {}, { force: ['build', 'rollout'], on_failure: 'cancel' });
    (s as { mine: unknown }).mine = { ...(s as { mine: object }).mine, ...badMine };
    await assert.rejects(run(s), WorkflowFailedError);
    const memo = (await env.client.workflow.getHandle('exp-dag-cancel').describe()).memo as {
      dag?: Record<string, string>;
    };
    assert.equal(memo.dag?.mine, 'failed');
    assert.equal(memo.dag?.build, 'cancelled', JSON.stringify(memo.dag));
    assert.equal(memo.dag?.rollout, 'not_started');
    assert.equal(memo.dag?.mix, 'not_started');
  });
});
