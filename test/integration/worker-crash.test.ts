import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { MineStageResult, TASK_QUEUES, type ExperimentResult } from '../../contracts';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { startTemporal } from '../helpers/temporal';
import { spawnWorkerProcess } from '../helpers/worker-process';
import { fixtureSpec } from '../helpers/stack';

let env: TestWorkflowEnvironment;
const home = mkdtempSync(join(tmpdir(), 'bottega-crash-'));
const workers: ChildProcess[] = [];

const spawnWorker = (): ChildProcess => spawnWorkerProcess(env, { home, spawned: workers });

/** Completed minePage activities of all mine-repo children of an experiment. */
async function completedPages(experimentId: string): Promise<number> {
  let n = 0;
  for await (const wf of env.client.workflow.list({ query: `WorkflowId STARTS_WITH "${experimentId}/mine/"` })) {
    const h = await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    n += (h.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes).length;
  }
  return n;
}

describe('a worker killed with SIGKILL mid-stage', () => {
  before(async () => {
    env = await startTemporal();
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await env?.teardown();
  });

  it('resumes on restart and ends with output of the same sha256', async () => {
    const { repos } = await makeFixtureRepos(join(home, 'fixtures'));
    const mineOver = { page_size: 1, repo_concurrency: 1 };

    // Reference: an uninterrupted run.
    const w1 = spawnWorker();
    const ref = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: 'exp-crash-ref',
      taskQueue: TASK_QUEUES.cpu,
      args: [fixtureSpec('exp-crash-ref', repos, {}, mineOver)],
    })) as ExperimentResult;

    // Same inputs, forced: kill the worker once a few pages are done.
    const handle = await env.client.workflow.start('experimentWorkflow', {
      workflowId: 'exp-crash',
      taskQueue: TASK_QUEUES.cpu,
      args: [fixtureSpec('exp-crash', repos, { force: ['mine'] }, mineOver)],
    });
    const deadline = Date.now() + 120_000;
    while ((await completedPages('exp-crash')) < 2) {
      assert.ok(Date.now() < deadline, 'pages never completed');
      await sleep(100);
    }
    w1.kill('SIGKILL');
    await new Promise((r) => w1.once('exit', r));
    const desc = await handle.describe();
    assert.equal(desc.status.name, 'RUNNING', 'the kill must land mid-stage');

    spawnWorker();
    const resumed = (await handle.result()) as ExperimentResult;
    const a = MineStageResult.parse(ref.stages.mine!.result);
    const b = MineStageResult.parse(resumed.stages.mine!.result);
    for (const k of ['python', 'general', 'tasks', 'decisions'] as const) {
      assert.equal(b.artifacts[k]!.sha256, a.artifacts[k]!.sha256, `${k} identical after the crash`);
      assert.equal(b.artifacts[k]!.records, a.artifacts[k]!.records);
    }
    assert.deepEqual(b.summary, a.summary, 'nothing lost or duplicated');
  });
});
