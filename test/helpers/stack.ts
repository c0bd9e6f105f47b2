import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { join } from 'node:path';
import {
  BuildStageResult,
  TASK_QUEUES,
  type ArtifactRef,
  type Capability,
  type ExperimentResult,
  type ExperimentSpecInput,
} from '../../contracts';
import { fixtureWheelhouse } from '../../infra/fixtures/wheelhouse';
import { makeFixtureRepos, type FixtureRepo } from '../../infra/fixtures/make-repos';
import { createWorkers } from '../../workers/worker';
import { startTemporal } from './temporal';

/** In-process cpu worker against a test environment, with its own BOTTEGA_HOME. */
export async function cpuWorker(env: TestWorkflowEnvironment, home: string): Promise<Worker> {
  const [w] = await createWorkers({
    connection: env.nativeConnection,
    capabilities: ['cpu'],
    env: { ...process.env, BOTTEGA_HOME: home },
  });
  return w!;
}

/** sha256 of a local artifact's bytes, recomputed from disk. */
export function fileSha256(ref: ArtifactRef): string {
  return createHash('sha256')
    .update(readFileSync(fileURLToPath(ref.uri)))
    .digest('hex');
}

/** The demo-like spec over fixture repositories. */
export function fixtureSpec(
  id: string,
  repos: { repo: string; path: string; issuesFile: string | null }[],
  over: Partial<ExperimentSpecInput> = {},
  mineOver: Record<string, unknown> = {}
): ExperimentSpecInput {
  return {
    id,
    mine: {
      sources: repos.map((r) => ({
        type: 'git' as const,
        repo: r.repo,
        path: r.path,
        ...(r.issuesFile ? { issues_file: r.issuesFile } : {}),
      })),
      page_size: 3,
      ...mineOver,
    },
    ...over,
  };
}

/** Activity types scheduled in a workflow's history. */
export function scheduledActivities(history: { events?: unknown[] | null }): string[] {
  return (history.events ?? [])
    .map(
      (e) =>
        (e as { activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } })
          .activityTaskScheduledEventAttributes?.activityType?.name
    )
    .filter((n): n is string => !!n);
}

/** Number of child workflows started in a workflow's history. */
export function childrenStarted(history: { events?: unknown[] | null }): number {
  return (history.events ?? []).filter(
    (e) =>
      (e as { startChildWorkflowExecutionInitiatedEventAttributes?: unknown })
        .startChildWorkflowExecutionInitiatedEventAttributes
  ).length;
}

/** In-process workers for the given capabilities, running until `stop()` (which waits for them). */
export async function runWorkers(
  env: TestWorkflowEnvironment,
  home: string,
  capabilities: Capability[]
): Promise<{ stop(): Promise<void> }> {
  const workers = await createWorkers({
    connection: env.nativeConnection,
    capabilities,
    env: { ...process.env, BOTTEGA_HOME: home },
  });
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    async stop() {
      for (const w of workers) w.shutdown();
      await running;
    },
  };
}

/** What {@link startFixtureStack} started. */
export interface FixtureStack {
  env: TestWorkflowEnvironment;
  /** The fixture repositories (under `<home>/fixtures`). */
  repos: FixtureRepo[];
  /** Stops the worker, then the server. */
  stop(): Promise<void>;
}

/**
 * A private Temporal dev server, the fixture repositories and an in-process cpu worker with
 * BOTTEGA_HOME = `home`: the usual setup of an integration test that runs experiments.
 */
export async function startFixtureStack(home: string): Promise<FixtureStack> {
  const env = await startTemporal();
  const { repos } = await makeFixtureRepos(join(home, 'fixtures'));
  const worker = await cpuWorker(env, home);
  const running = worker.run();
  return {
    env,
    repos,
    async stop() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/** What {@link runFixtureBuild} builds. */
export interface FixtureBuildOptions {
  /** Experiment (and workflow) id. */
  id: string;
  /** Artifact store root directory. */
  artifacts: string;
  tasksFile: string;
  repos: { repo: string; path: string }[];
  /** BOTTEGA_HOME of the workers (the fixture wheelhouse lives there). */
  home: string;
  force?: string[];
  /** Build config keys over the defaults (2 validation runs, 2 at once, 15 s per test run). */
  build?: Record<string, unknown>;
}

/** Runs an experiment with only a build stage over fixture tasks; returns that stage's result. */
export async function runFixtureBuild(env: TestWorkflowEnvironment, o: FixtureBuildOptions): Promise<BuildStageResult> {
  const spec = {
    id: o.id,
    force: o.force ?? [],
    store: { uri: `file://${o.artifacts}` },
    build: {
      tasks: { files: [o.tasksFile] },
      repo_paths: Object.fromEntries(o.repos.map((r) => [r.repo, r.path])),
      wheelhouse: fixtureWheelhouse(o.home),
      validation_runs: 2,
      test_timeout_s: 15,
      concurrency: 2,
      ...o.build,
    },
  };
  const r = (await env.client.workflow.execute('experimentWorkflow', {
    workflowId: o.id,
    taskQueue: TASK_QUEUES.cpu,
    args: [spec],
  })) as ExperimentResult;
  return BuildStageResult.parse(r.stages.build!.result);
}
