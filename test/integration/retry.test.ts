import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { TASK_QUEUES, type ExperimentResult, type ExperimentSpecInput } from '../../contracts';
import type { FixtureRepo } from '../../infra/fixtures/make-repos';
import { retryExperiment } from '../../cli/retry';
import { fixtureSpec, startFixtureStack } from '../helpers/stack';
import { listWorkflows } from '../helpers/temporal';

/**
 * Replaying a failed step (real Temporal dev server, real cpu worker): a mix stage fails for want
 * of data; after the data is fixed, `retryExperiment` resets the experiment to just before that
 * stage. The mine stage is not run again (not even looked up), the mix stage runs as a new run of
 * `<id>/mix`, and the experiment completes. Rerunning the spec instead reuses mine from the cache.
 */
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
let repos: FixtureRepo[];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-retry-'));
const data = join(home, 'extra.jsonl');

const doc = (i: number) =>
  JSON.stringify({ id: `d${i}`, text: `def f${i}(x):\n    return x * ${i} + ${i * 7}\n`.repeat(20) });

function spec(id: string): ExperimentSpecInput {
  return fixtureSpec(id, repos, {
    store: { uri: `file://${join(home, 'artifacts')}` },
    mix: {
      sources: [
        { name: 'general_prs', from: 'mine.general' },
        { name: 'extra', path: data },
      ],
      // 6,000 tokens of `extra` needs more than max_repetition (4) copies of one small document.
      stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }, { source: 'extra', tokens: 6000 }] }],
    },
  });
}

/** The statuses of every run of a workflow id (polls until `runs` are visible). */
const runsOf = async (client: Client, workflowId: string, runs: number) =>
  (await listWorkflows(client, `WorkflowId = '${workflowId}'`, runs)).map((w) => w.status).sort();

describe('replaying a failed step (real Temporal dev server)', () => {
  before(async () => {
    ({ env, repos, stop } = await startFixtureStack(home));
  });
  after(async () => stop?.());

  it('bottega retry resets the experiment to the failed stage; earlier stages keep their results', async () => {
    writeFileSync(data, doc(1) + '\n');
    const id = 'exp-it-retry';
    const h = await env.client.workflow.start('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [spec(id)],
    });
    await assert.rejects(h.result(), (e: Error) => {
      assert.ok(e instanceof WorkflowFailedError);
      return true;
    });
    await assert.rejects(retryExperiment(env.client, 'no-such-experiment'));

    // The fix: enough data. Then replay the failed step.
    for (let i = 2; i <= 40; i++) appendFileSync(data, doc(i) + '\n');
    const point = await retryExperiment(env.client, id);
    assert.equal(point.stage, 'mix');
    assert.notEqual(point.runId, h.firstExecutionRunId);
    const r = (await env.client.workflow.getHandle(id, point.runId).result()) as ExperimentResult;
    assert.equal(r.stages.mine!.status, 'ran', 'the mine outcome is the one recorded before the reset');
    assert.equal(r.stages.mix!.status, 'ran');
    assert.deepEqual(await runsOf(env.client, `${id}/mine`, 1), ['COMPLETED'], 'mine did not run again');
    assert.deepEqual(await runsOf(env.client, `${id}/mix`, 2), ['COMPLETED', 'FAILED']);
    await assert.rejects(retryExperiment(env.client, id), /completed: name the STAGE/);

    // The other way: run the same spec again. Both stages come from the step cache.
    const again = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [spec(id)],
    })) as ExperimentResult;
    assert.equal(again.stages.mine!.status, 'cached');
    assert.equal(again.stages.mix!.status, 'cached');
  });
});
