import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { BuildStageResult, BuildTaskOutcome, TASK_QUEUES, type ExperimentResult } from '../../contracts';
import { makeBuildFixtures, writeTasksFile } from '../../infra/fixtures/make-build-repos';
import { dockerOrSkip, fixtureBuild } from '../helpers/docker';
import { startTemporal } from '../helpers/temporal';
import { completedActivities, spawnWorkerProcess } from '../helpers/worker-process';

/**
 * A worker process killed with SIGKILL in the middle of the build stage: after a restart the stage
 * finishes, and images finished before the kill are reused, not rebuilt.
 */
const probe = await dockerOrSkip('temporal');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-build-crash-'));
let env: TestWorkflowEnvironment;
const workers: ChildProcess[] = [];

const spawnWorker = (): ChildProcess =>
  spawnWorkerProcess(env, { home: BOTTEGA_HOME, capabilities: 'cpu,docker', spawned: workers });

/** Removes the fixtures' env and instance images so this run builds them for real. */
async function removeFixtureImages(docker: Docker): Promise<void> {
  const images = await docker.listImages();
  const tags = images.flatMap((i) => i.RepoTags ?? []);
  for (const prefix of ['bottega/inst.acme__', 'bottega/env.acme__']) {
    for (const t of tags.filter((x) => x.startsWith(prefix)))
      await docker
        .getImage(t)
        .remove({ force: true })
        .catch(() => undefined);
  }
}

async function envImageId(docker: Docker, repoSlug: string): Promise<string | null> {
  const images = await docker.listImages();
  return images.find((i) => (i.RepoTags ?? []).some((t) => t.startsWith(`bottega/env.${repoSlug}:`)))?.Id ?? null;
}

describe('build stage survives a worker killed mid-stage', { skip: 'skip' in probe ? probe.skip : false }, () => {
  before(async () => {
    env = await startTemporal();
  });
  after(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await env?.teardown();
  });

  it('resumes on restart without rebuilding finished images', async () => {
    if ('skip' in probe) return;
    const docker = probe.docker;
    const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
    const tasksFile = join(tmp, 'tasks.jsonl');
    const chosen = ['acme__calc-1', 'acme__calc-3', 'acme__units-1'];
    writeTasksFile(tasksFile, fx.tasks, chosen);
    await removeFixtureImages(docker);

    const w1 = spawnWorker();
    const handle = await env.client.workflow.start('experimentWorkflow', {
      workflowId: 'exp-build-crash',
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          id: 'exp-build-crash',
          store: { uri: `file://${join(tmp, 'artifacts')}` },
          build: fixtureBuild(tasksFile, fx.repos, BOTTEGA_HOME, { validation_runs: 2, concurrency: 1 }),
        },
      ],
    });
    // prepareBuild + the first buildTask (acme__calc-1, which builds the calc env image).
    const deadline = Date.now() + 240_000;
    while ((await completedActivities(env, 'exp-build-crash/build')) < 2) {
      assert.ok(Date.now() < deadline, 'the first task never finished');
      await sleep(200);
    }
    const calcEnvBefore = await envImageId(docker, 'acme__calc');
    assert.ok(calcEnvBefore, 'the calc environment image exists after the first task');
    w1.kill('SIGKILL');
    await new Promise((r) => w1.once('exit', r));
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the kill must land mid-stage');

    spawnWorker();
    const result = (await handle.result()) as ExperimentResult;
    const build = BuildStageResult.parse(result.stages.build!.result);
    assert.equal(build.summary.kept, 3, JSON.stringify(build.summary));
    assert.equal(await envImageId(docker, 'acme__calc'), calcEnvBefore, 'the calc environment was not rebuilt');
    const outcomes = readFileSync(fileURLToPath(build.artifacts.outcomes.uri), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => BuildTaskOutcome.parse(JSON.parse(l)));
    const calc3 = outcomes.find((o) => o.instance_id === 'acme__calc-3')!;
    assert.equal(calc3.built.env, false, 'calc-3 reused the environment calc-1 built');
    assert.ok(build.summary.images_built.env <= 2, 'each environment built at most once');
  });
});
