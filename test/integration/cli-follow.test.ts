import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ExperimentSpec } from '../../contracts';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { listExperiments, lsCommand } from '../../cli/ls';
import { logsCommand, readStageLogs, stageTimeline, timelineFromHistory } from '../../cli/logs';
import { runExperiment } from '../../cli/run';
import { startTemporal } from '../helpers/temporal';
import { fixtureSpec, runWorkers, scheduledActivities } from '../helpers/stack';

let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> };
const home = mkdtempSync(join(tmpdir(), 'bottega-it-follow-'));
const savedHome = process.env.BOTTEGA_HOME;
const id = 'exp-it-follow';

/** Visibility is eventually consistent: retries `fn` until `ok` holds (or returns the last value). */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await fn();
  for (let i = 0; i < 50 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}

describe('stage timeline from history events', () => {
  it('shows retries, failures with their causes and how the run ended', () => {
    const at = (s: number) => ({ seconds: 1_800_000_000 + s, nanos: 0 });
    // Plain numbers where the client gives Longs: the renderer takes both.
    const history = {
      events: [
        {
          eventId: 1,
          eventTime: at(0),
          workflowExecutionStartedEventAttributes: { workflowType: { name: 'mineStageWorkflow' } },
        },
        {
          eventId: 5,
          eventTime: at(1),
          activityTaskScheduledEventAttributes: { activityType: { name: 'finalizeMine' }, activityId: '1' },
        },
        {
          eventId: 6,
          eventTime: at(9),
          activityTaskStartedEventAttributes: {
            scheduledEventId: 5,
            attempt: 3,
            lastFailure: { message: 'disk full' },
          },
        },
        {
          eventId: 7,
          eventTime: at(10),
          activityTaskFailedEventAttributes: {
            scheduledEventId: 5,
            startedEventId: 6,
            failure: { message: 'write failed', cause: { message: 'ENOSPC' } },
          },
        },
        {
          eventId: 9,
          eventTime: at(11),
          workflowExecutionFailedEventAttributes: {
            failure: { message: 'Activity task failed', cause: { message: 'write failed' } },
          },
        },
      ],
    } as unknown as Parameters<typeof timelineFromHistory>[0];
    const entries = timelineFromHistory(history, '', 'run-1');
    assert.deepEqual(
      entries.map((e) => [e.kind, e.level, e.text]),
      [
        ['workflow.started', 'info', 'workflow mineStageWorkflow started'],
        ['activity.scheduled', 'info', 'activity finalizeMine scheduled (id 1)'],
        ['activity.retried', 'warn', 'activity finalizeMine retried: attempt 3 (previous attempt failed: disk full)'],
        ['activity.failed', 'error', 'activity finalizeMine failed (attempt 3): write failed: ENOSPC'],
        ['workflow.failed', 'error', 'workflow failed: Activity task failed: write failed'],
      ]
    );
    assert.equal(entries[4]!.time, new Date(1_800_000_011_000).toISOString());
  });
});

describe('following an experiment from a terminal', () => {
  before(async () => {
    // The worker's log-file destination reads BOTTEGA_HOME at every line (rootLogger is process-wide).
    process.env.BOTTEGA_HOME = home;
    env = await startTemporal();
    workers = await runWorkers(env, home, ['cpu']);
  });
  after(async () => {
    await workers?.stop();
    await env?.teardown();
    if (savedHome === undefined) delete process.env.BOTTEGA_HOME;
    else process.env.BOTTEGA_HOME = savedHome;
  });

  it('runs with per-stage progress lines, lists it by its attributes and shows its mine logs', async () => {
    const { repos } = await makeFixtureRepos(join(home, 'fixtures'));
    const spec = ExperimentSpec.parse(fixtureSpec(id, repos));
    const err: string[] = [];
    const run = await runExperiment(env.client, spec, {
      wait: true,
      json: false,
      out: () => undefined,
      err: (s) => err.push(s),
      tty: false,
    });
    assert.equal(run.code, 0);
    assert.equal(run.result?.stages.mine?.status, 'ran');
    const mineLines = err.filter((l) => l.trimStart().startsWith('mine '));
    assert.match(
      mineLines.at(-1) ?? '',
      /^ {2}mine +\[█+\] {2}(\d+)\/\1 repositories · \d+ PRs · \d+ samples {2}completed$/
    );

    // ls: found by its id and status, as one experiment row (the mine stage children are not listed).
    const rows = await eventually(
      () => listExperiments(env.client, { id, status: 'completed' }),
      (r) => r.length > 0
    );
    assert.deepEqual(
      rows.map((r) => [r.id, r.type, r.status, r.stage]),
      [[id, 'experiment', 'completed', 'mine']]
    );
    assert.deepEqual(await listExperiments(env.client, { id, status: 'failed' }), []);
    assert.deepEqual(await listExperiments(env.client, { id, type: 'sweep' }), []);
    assert.deepEqual(await listExperiments(env.client, { id, baseModel: "no-such-model' OR 'x'='x" }), []);
    assert.deepEqual(await listExperiments(env.client, { query: `ExperimentId = '${id}/other'` }), []);
    const out: string[] = [];
    assert.equal(
      await lsCommand(env.client, { id, json: false }, { out: (s) => out.push(s), err: () => undefined }),
      0
    );
    assert.match(out.join('\n'), new RegExp(`^${id}\\s+experiment\\s+completed\\s`, 'm'));
    assert.equal(
      await lsCommand(env.client, { status: 'sleeping' }, { out: () => undefined, err: () => undefined }),
      2
    );

    // logs: the stage timeline has the stage's and its children's activities, as history has them.
    const t = await stageTimeline(env.client, id, 'mine');
    assert.ok(t);
    assert.equal(t.open, false);
    const expected = new Set<string>();
    const stageHistory = await env.client.workflow.getHandle(`${id}/mine`).fetchHistory();
    for (const a of scheduledActivities(stageHistory)) expected.add(a);
    const childIds = t.entries.filter((e) => e.kind === 'child.started').map((e) => e.text.split(' ')[1]!);
    assert.equal(childIds.length, repos.length);
    for (const c of childIds)
      for (const a of scheduledActivities(await env.client.workflow.getHandle(c).fetchHistory())) expected.add(a);
    const scheduled = new Set(
      t.entries.filter((e) => e.kind === 'activity.scheduled').map((e) => e.text.split(' ')[1]!)
    );
    assert.deepEqual([...scheduled].sort(), [...expected].sort());
    assert.ok(scheduled.has('minePage'));
    const completed = t.entries.filter((e) => e.kind === 'activity.completed').length;
    assert.equal(completed, t.entries.filter((e) => e.kind === 'activity.scheduled').length);
    assert.equal(t.entries.filter((e) => e.workflow === '').at(-1)?.kind, 'workflow.completed');

    // The worker's log lines for this experiment and stage are in the local file.
    const logs = readStageLogs(home, id, 'mine');
    assert.ok(logs.lines && logs.lines.length > 0, `log lines in ${logs.path}`);
    assert.ok(logs.lines.some((l) => l.fields.activity === 'minePage'));
    assert.deepEqual(readStageLogs(home, id, 'build').lines, null);

    const text: string[] = [];
    const code = await logsCommand(
      env.client,
      { id, stage: 'mine', home },
      { out: (s) => text.push(s), err: (s) => text.push(s) }
    );
    assert.equal(code, 0);
    const all = text.join('\n');
    assert.match(all, new RegExp(`timeline of ${id}/mine`));
    assert.match(all, /activity minePage completed \(attempt 1\)/);
    assert.match(all, /workflow completed/);
    assert.match(all, /activity=minePage/);
    // --follow on a closed stage prints the same and returns.
    const followed: string[] = [];
    assert.equal(
      await logsCommand(
        env.client,
        { id, stage: 'mine', home, follow: true, json: true },
        {
          out: (s) => followed.push(s),
          err: () => undefined,
        }
      ),
      0
    );
    const events = followed.map((l) => JSON.parse(l) as { type: string });
    assert.equal(events.filter((e) => e.type === 'event').length, t.entries.length);
    assert.equal(events.filter((e) => e.type === 'log').length, logs.lines.length);
    assert.equal(
      await logsCommand(env.client, { id, stage: 'train', home }, { out: () => undefined, err: () => undefined }),
      1
    );
  });
});
