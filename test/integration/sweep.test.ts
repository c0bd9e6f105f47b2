import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  ExperimentSpec,
  SA,
  SweepSpec,
  type ExperimentResult,
  type MixConfigInput,
  type SweepProgress,
  type SweepResult,
  type SweepSpecInput,
} from '../../contracts';
import type { FixtureRepo } from '../../infra/fixtures/make-repos';
import { createSchedule, listSchedules, scheduleAction } from '../../cli/schedule';
import { formatSweepResult, runSweep as cliRunSweep, startSweep } from '../../cli/sweep';
import { fixtureSpec, startFixtureStack } from '../helpers/stack';
import { listWorkflows } from '../helpers/temporal';

/**
 * Sweeps and schedules on the real Temporal dev server with a real cpu worker: arms share the
 * mine stage through the step cache (it runs once), a failed arm does not stop the others, a
 * rerun reruns only the failed arm, a large sweep continues as new, and a schedule's runs
 * (triggered and backfilled) each get their own experiment.
 */
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
let repos: FixtureRepo[];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-sweep-'));

const MIX: MixConfigInput = {
  seed: 7,
  sources: [
    { name: 'general_prs', from: 'mine.general' },
    { name: 'python_prs', from: 'mine.python' },
  ],
  stages: [
    { name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }] },
    { name: 'mt2', seq_len: 1024, sources: [{ source: 'python_prs' }] },
  ],
};

function base(): Record<string, unknown> {
  const s = fixtureSpec('unused', repos, { store: { uri: `file://${join(home, 'artifacts')}` }, mix: MIX }) as Record<
    string,
    unknown
  >;
  delete s.id;
  return s;
}

async function runSweep(input: SweepSpecInput): Promise<SweepResult> {
  const sweep = SweepSpec.parse(input);
  await startSweep(env.client, sweep);
  return (await env.client.workflow.getHandle(sweep.id).result()) as SweepResult;
}

/** Ids of the executions matching a visibility query (polls until `atLeast` match). */
const workflowIds = async (client: Client, query: string, atLeast = 1) =>
  (await listWorkflows(client, query, atLeast)).map((w) => w.workflowId).sort();

describe('sweeps and schedules (real Temporal dev server)', () => {
  before(async () => {
    ({ env, repos, stop } = await startFixtureStack(home));
  });
  after(async () => stop?.());

  const arms = (brokenTokens: number | null) => [
    { name: 'python x1', set: { 'mix.stages.1.sources.0.repeat': 1 } },
    { name: 'python x2', set: { 'mix.stages.1.sources.0.repeat': 2 } },
    { name: 'python x3', set: { 'mix.stages.1.sources.0.repeat': 3 } },
    // A budget far beyond what the data allows fails when the mix stage plans, not in the schema.
    {
      name: 'general budget',
      set: {
        'mix.stages.0.sources.0': brokenTokens
          ? { source: 'general_prs', tokens: brokenTokens }
          : { source: 'general_prs', repeat: 2 },
      },
    },
  ];

  it('shares the mine stage across arms, survives a failed arm, continues as new, and reruns only the failed arm', async () => {
    const sweep = { id: 'sw-it', base: base(), arms: arms(1_000_000_000), max_parallel: 2, arms_per_run: 2 };
    // Through the CLI's code path: exit code 1 because an arm failed, the result as JSON.
    const printed: string[] = [];
    const code = await cliRunSweep(env.client, SweepSpec.parse(sweep), {
      wait: true,
      json: true,
      out: (s) => printed.push(s),
      err: () => undefined,
    });
    assert.equal(code, 1);
    const r = JSON.parse(printed.join('\n')) as SweepResult;
    assert.equal(r.arms.length, 4);
    assert.match(formatSweepResult(r), /sw-it-03 {2}failed .*\n {6}error: mix config is invalid:\n.*max_repetition/);
    assert.equal(r.completed, 3, JSON.stringify(r.arms, null, 1));
    assert.equal(r.failed, 1);
    assert.ok(r.runs >= 2, `4 arms at 2 per run continue as new at least once (runs ${r.runs})`);
    const broken = r.arms[3]!;
    assert.equal(broken.state, 'failed');
    assert.match(broken.error ?? '', /max_repetition/);
    // The mine stage ran once, in one arm; every other arm took it from the step cache.
    assert.deepEqual(r.arms.map((a) => a.stages.mine).sort(), ['cached', 'cached', 'cached', 'ran']);
    assert.deepEqual(
      r.arms.slice(0, 3).map((a) => a.stages.mix),
      ['ran', 'ran', 'ran']
    );
    const mines = await workflowIds(env.client, `WorkflowType = 'mineStageWorkflow'`, 1);
    assert.equal(mines.length, 1, `one mine stage workflow in the whole sweep: ${mines.join(', ')}`);

    // Each arm is an experiment tagged with the sweep, and gets its dataset version.
    const armIds = await workflowIds(env.client, `SweepId = 'sw-it' AND WorkflowType = 'experimentWorkflow'`, 4);
    assert.deepEqual(armIds, ['sw-it-00', 'sw-it-01', 'sw-it-02', 'sw-it-03']);
    const d = await env.client.workflow.getHandle('sw-it-01').describe();
    assert.match(String(d.typedSearchAttributes.get(SA.DatasetVersion)), /^mix-[0-9a-f]{12}$/);
    assert.notEqual(
      (await env.client.workflow.getHandle('sw-it-00').describe()).typedSearchAttributes.get(SA.DatasetVersion),
      d.typedSearchAttributes.get(SA.DatasetVersion),
      'arms with different mixtures have different dataset versions'
    );
    const x2 = (await env.client.workflow.getHandle('sw-it-01').result()) as ExperimentResult;
    assert.equal(x2.stages.mix!.status, 'ran');

    // The progress query (on the latest run) agrees with the result.
    const p = await env.client.workflow.getHandle('sw-it').query<SweepProgress>('progress');
    assert.equal(p.total, 4);
    assert.equal(p.counts.completed, 3);
    assert.equal(p.counts.failed, 1);

    // Fix the broken arm and run the same sweep again: only that arm runs.
    const again = await runSweep({ ...sweep, arms: arms(null) });
    assert.equal(again.reused, 3, JSON.stringify(again.arms, null, 1));
    assert.equal(again.completed, 1);
    assert.equal(again.failed, 0);
    assert.deepEqual(again.arms[3]!.stages, { mine: 'cached', mix: 'ran' });
    assert.equal((await workflowIds(env.client, `WorkflowType = 'mineStageWorkflow'`)).length, 1);
    const runsOfReused = await workflowIds(env.client, `WorkflowId = 'sw-it-00'`);
    assert.equal(runsOfReused.length, 1, 'a reused arm is not started again');
  });

  it('waits for a shared stage instead of running it twice when arms start together', async () => {
    // Two arms differing only in the mix stage, both able to start at once (max_parallel 2).
    const b = base();
    (b.mine as Record<string, unknown>).page_size = 2; // a mine config no earlier test produced
    const r = await runSweep({
      id: 'sw-it-window',
      base: b,
      grid: { 'mix.seed': [1, 2] },
      max_parallel: 2,
    });
    assert.equal(r.completed, 2);
    assert.deepEqual(r.arms.map((a) => a.stages.mine).sort(), ['cached', 'ran']);
    assert.equal((await workflowIds(env.client, `WorkflowType = 'mineStageWorkflow'`, 2)).length, 2);
  });

  it('runs a schedule: trigger and backfill each start an experiment of their own; pause and delete', async () => {
    const spec = ExperimentSpec.parse(
      fixtureSpec('exp-sched', repos, { store: { uri: `file://${join(home, 'artifacts')}` } })
    );
    await createSchedule(env.client, {
      scheduleId: 'sched-it',
      action: { kind: 'experiment', spec },
      timing: { cron: [], every: ['1d'] },
      overlap: 'allow_all',
      paused: true,
      note: 'nightly',
    });
    const listed = (await listSchedules(env.client)).find((s) => s.id === 'sched-it');
    assert.ok(listed, 'listed');
    assert.equal(listed.workflowType, 'experimentWorkflow');

    const h = env.client.schedule.getHandle('sched-it');
    assert.equal((await h.describe()).state.paused, true);
    await scheduleAction(env.client, 'sched-it', { type: 'unpause' });
    assert.equal((await h.describe()).state.paused, false);
    await scheduleAction(env.client, 'sched-it', { type: 'trigger' });
    // (A backfill sent in the same breath as a trigger can swallow it: let the trigger land first.)
    for (let i = 0; i < 60 && !(await h.describe()).info.recentActions.length; i++)
      await new Promise((r) => setTimeout(r, 250));
    const end = new Date();
    await scheduleAction(env.client, 'sched-it', {
      type: 'backfill',
      start: new Date(end.getTime() - 2 * 86_400_000 - 60_000),
      end,
      overlap: 'allow_all',
    });
    const ids = await workflowIds(env.client, `TemporalScheduledById = 'sched-it'`, 3);
    assert.ok(ids.length >= 3, `trigger + 2 backfilled days: ${ids.join(', ')}`);
    for (const id of ids) {
      assert.match(id, /^exp-sched-/);
      const r = (await env.client.workflow.getHandle(id).result()) as ExperimentResult;
      // Each run names its own children (the workflow id as a slug), so runs never collide.
      assert.ok(r.experimentId.startsWith('exp-sched-'), r.experimentId);
      assert.equal(
        r.stages.mine!.producer.workflowId.startsWith(`${r.experimentId}/`) || r.stages.mine!.status === 'cached',
        true
      );
    }
    await scheduleAction(env.client, 'sched-it', { type: 'pause', note: 'holiday' });
    assert.equal((await h.describe()).state.paused, true);
    assert.equal((await h.describe()).state.note, 'holiday');
    await scheduleAction(env.client, 'sched-it', { type: 'delete' });
    await assert.rejects(h.describe());
  });
});
