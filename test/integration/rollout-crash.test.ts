import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RolloutStageResult, TASK_QUEUES, type ExperimentResult } from '../../contracts';
import { makeBuildFixtures } from '../../infra/fixtures/make-build-repos';
import { dockerOrSkip, fixtureBuild } from '../helpers/docker';
import { startTemporal } from '../helpers/temporal';
import { completedActivities, spawnWorkerProcess } from '../helpers/worker-process';

/**
 * A worker process killed with SIGKILL in the middle of the rollout stage: after a restart the
 * stage finishes with exactly one trajectory per planned rollout, none duplicated, none lost.
 */
const probe = await dockerOrSkip('temporal');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-rollout-crash-'));
let env: TestWorkflowEnvironment;
const workers: ChildProcess[] = [];

const spawnWorker = (): ChildProcess =>
  spawnWorkerProcess(env, { home: BOTTEGA_HOME, capabilities: 'cpu,docker', spawned: workers });

describe('rollout stage survives a worker killed mid-stage', { skip: 'skip' in probe ? probe.skip : false }, () => {
  before(async () => {
    env = await startTemporal();
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await env?.teardown();
  });

  it('ends with every trajectory exactly once', async () => {
    const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
    const tasksFile = join(tmp, 'tasks.jsonl');
    writeFileSync(
      tasksFile,
      fx.tasks
        .filter((t) => t.instance_id === 'acme__calc-1')
        .map((t) => JSON.stringify(t))
        .join('\n') + '\n'
    );
    const w1 = spawnWorker();
    const handle = await env.client.workflow.start('experimentWorkflow', {
      workflowId: 'exp-rollout-crash',
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          id: 'exp-rollout-crash',
          store: { uri: `file://${join(tmp, 'artifacts')}` },
          build: fixtureBuild(tasksFile, fx.repos, BOTTEGA_HOME),
          rollout: { policy: 'replay-gold', rollouts_per_task: 4, concurrency: 1 },
        },
      ],
    });
    const deadline = Date.now() + 240_000;
    while ((await completedActivities(env, 'exp-rollout-crash/rollout/batch-0')) < 2) {
      assert.ok(Date.now() < deadline, 'rollouts never finished');
      await sleep(200);
    }
    w1.kill('SIGKILL');
    await new Promise((r) => w1.once('exit', r));
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the kill must land mid-stage');

    spawnWorker();
    const result = (await handle.result()) as ExperimentResult;
    const out = RolloutStageResult.parse(result.stages.rollout!.result);
    assert.equal(out.summary.rollouts, 4);
    const ids = readFileSync(fileURLToPath(out.artifacts.pass.uri), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { id: string }).id);
    assert.deepEqual(ids.sort(), ['acme__calc-1#0', 'acme__calc-1#1', 'acme__calc-1#2', 'acme__calc-1#3']);
    assert.equal(out.summary.passed, 4);
  });
});
