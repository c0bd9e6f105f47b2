import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { EvaluateStageResult, RolloutStageResult, TASK_QUEUES, type ExperimentResult } from '../../contracts';
import { makeBuildFixtures, writeTasksFile } from '../../infra/fixtures/make-build-repos';
import { dockerOrSkip, fixtureBuild } from '../helpers/docker';
import { runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * build → rollout with the `replay-gold` policy on the real Temporal dev server and Docker: every
 * trajectory is produced through the agent tools in a real container, graded in a fresh one, and
 * passes; its observations hold the real failing-then-passing test output.
 */
const probe = await dockerOrSkip('temporal');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-rollout-'));
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;

describe(
  'rollout stage with replay-gold (real Docker, real Temporal)',
  { skip: 'skip' in probe ? probe.skip : false },
  () => {
    before(async () => {
      if ('skip' in probe) return;
      env = await startTemporal();
      workers = await runWorkers(env, BOTTEGA_HOME, ['cpu', 'docker']);
    });
    after(async () => {
      await workers?.stop();
      await env?.teardown();
    });

    it('every replay-gold trajectory passes, with real observations', async () => {
      const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
      const tasksFile = join(tmp, 'tasks.jsonl');
      const chosen = ['acme__calc-1', 'acme__units-1'];
      writeTasksFile(tasksFile, fx.tasks, chosen);
      const id = 'exp-it-rollout';
      const r = (await env.client.workflow.execute('experimentWorkflow', {
        workflowId: id,
        taskQueue: TASK_QUEUES.cpu,
        args: [
          {
            id,
            store: { uri: `file://${join(tmp, 'artifacts')}` },
            build: fixtureBuild(tasksFile, fx.repos, BOTTEGA_HOME),
            rollout: { policy: 'replay-gold', rollouts_per_task: 2, concurrency: 2, batch_size: 3 },
            // Evaluate the same tasks in the same experiment: two runs of the agent, every instance resolved.
            evaluate: { policy: 'replay-gold', runs: 2, tasks: { from: 'build' } },
          },
        ],
      })) as ExperimentResult;
      const out = RolloutStageResult.parse(r.stages.rollout!.result);
      assert.equal(out.summary.tasks, 2);
      assert.equal(out.summary.rollouts, 4);
      assert.equal(out.summary.passed, 4, JSON.stringify(out.summary));
      assert.deepEqual(out.summary.exits, { submitted: 4 });
      const trajs = readFileSync(fileURLToPath(out.artifacts.pass.uri), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(
          (l) =>
            JSON.parse(l) as {
              instance_id: string;
              label: string;
              messages: { role: string; content: string | null }[];
            }
        );
      assert.equal(trajs.length, 4, 'no duplicates, none lost');
      const calc = trajs.find((t) => t.instance_id === 'acme__calc-1')!;
      const observations = calc.messages.filter((m) => m.role === 'tool').map((m) => m.content ?? '');
      const testRuns = observations.filter((o) => /passed|failed/.test(o));
      assert.ok(testRuns.length >= 2, 'the tests ran before and after the edit');
      assert.match(testRuns[0]!, /^FAILED tests\/test_ops\.py::test_add/m, 'the failing test really fails first');
      assert.match(testRuns.at(-1)!, /^PASSED tests\/test_ops\.py::test_add/m, 'and passes after the edit');
      assert.ok(
        observations.some((o) => o.includes('calc/ops.py')),
        'the agent viewed the file it edits'
      );

      const ev = EvaluateStageResult.parse(r.stages.evaluate!.result);
      assert.deepEqual(ev.summary.resolved_rates, [1, 1]);
      assert.equal(ev.summary.mean, 1);
      assert.equal(ev.summary.tasks, 2);
      assert.equal(ev.runs[0]!.resolved, 2);
    });
  }
);
