import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { BuildStageResult, BuildTaskOutcome, TASK_QUEUES, type ExperimentResult } from '../../contracts';
import { runInContainer } from '../../activities/build/docker';
import { makeBuildFixtures, type BuildFixtures } from '../../infra/fixtures/make-build-repos';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { dockerOrSkip, testWheelhouse } from '../helpers/docker';
import { runFixtureBuild, runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * The build stage end to end on the real Temporal dev server and the real Docker engine: images
 * built from the fixture repositories, every task validated by running its tests before and after
 * the gold patch, each failure fixture ending with its own reason.
 */
const probe = await dockerOrSkip('temporal');
// The base image and its rootfs cache are shared with the other Docker tests.
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-build-'));
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
let fx: BuildFixtures;
let docker: Docker;

const readLines = (uri: string) =>
  readFileSync(fileURLToPath(uri), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function runBuild(id: string, force: string[] = []): Promise<BuildStageResult> {
  const artifacts = join(tmp, 'artifacts');
  return runFixtureBuild(env, { id, force, artifacts, tasksFile: fx.tasksFile, repos: fx.repos, home: BOTTEGA_HOME });
}

describe('build stage (real Docker, real Temporal)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  let first: BuildStageResult;

  before(async () => {
    if ('skip' in probe) return;
    docker = probe.docker;
    env = await startTemporal();
    fx = await makeBuildFixtures(join(tmp, 'fixtures'));
    workers = await runWorkers(env, BOTTEGA_HOME, ['cpu', 'docker']);
  });
  after(async () => {
    await workers?.stop();
    await env?.teardown();
  });

  it('builds and validates every task, and each failure fixture ends with its reason', async () => {
    first = await runBuild('exp-it-build');
    const outcomes = readLines(first.artifacts.outcomes.uri).map((o) => BuildTaskOutcome.parse(o));
    assert.equal(outcomes.length, fx.tasks.length);
    for (const t of fx.tasks) {
      const o = outcomes.find((x) => x.instance_id === t.instance_id)!;
      const detail = `${t.instance_id}: ${o.reason} ${o.detail}`;
      if (t.expected.outcome === 'valid') {
        assert.equal(o.status, 'validated', detail);
        assert.deepEqual(o.FAIL_TO_PASS, t.expected.FAIL_TO_PASS, detail);
        assert.deepEqual(o.PASS_TO_PASS, t.expected.PASS_TO_PASS, detail);
        assert.match(o.image!.tag, /^bottega\/inst\./);
      } else {
        assert.equal(o.status, 'failed', detail);
        assert.equal(o.reason, t.expected.outcome, detail);
        assert.ok(o.log_uri, `${t.instance_id}: a failure keeps its log`);
      }
    }
    const calc3 = outcomes.find((o) => o.instance_id === 'acme__calc-3')!;
    assert.deepEqual(calc3.flaky, ['tests/test_ops.py::test_flaky'], 'the flaky test is excluded and reported');

    const s = first.summary;
    assert.equal(s.candidates, 7);
    assert.equal(s.kept, 3);
    assert.deepEqual(s.failed, { install_failed: 1, no_tests_ran: 1, patch_apply_failed: 1, tests_timed_out: 1 });
    assert.equal(s.built, 6, 'all but the broken install got images');
    assert.equal(s.validated, 3);
    const validated = readLines(first.artifacts.tasks.uri);
    assert.deepEqual(validated.map((t) => t.instance_id).sort(), ['acme__calc-1', 'acme__calc-3', 'acme__units-1']);
    for (const t of validated) {
      assert.ok(Array.isArray(t.FAIL_TO_PASS) && (t.FAIL_TO_PASS as string[]).length > 0);
      assert.equal(t.expected !== undefined, true, 'unknown fields of the record are kept');
      const ic = t.install_config as { test_cmd?: string; log_parser?: string };
      assert.ok(ic.test_cmd && ic.log_parser, 'the record carries the recipe it was validated with');
      const image = t.image as { tag: string; id: string };
      assert.match(image.id, /^sha256:[0-9a-f]{64}$/);
    }
  });

  it('an instance image holds no commit after base_commit', async () => {
    const outcomes = readLines(first.artifacts.outcomes.uri).map((o) => BuildTaskOutcome.parse(o));
    const o = outcomes.find((x) => x.instance_id === 'acme__calc-1')!;
    const task = fx.tasks.find((t) => t.instance_id === 'acme__calc-1')!;
    const r = await runInContainer(docker, {
      image: o.image!.tag,
      script:
        'cd /testbed && git log --all --format=%H && echo REFS && git for-each-ref --format="%(refname)" && git remote',
      timeoutMs: 30_000,
      limits: { cpus: 1, memoryMb: 512, pids: 128 },
    });
    assert.equal(r.exitCode, 0, r.output);
    const [log = '', refs = ''] = r.output.split('REFS\n');
    const visible = log.split('\n').filter((l) => /^[0-9a-f]{40}$/.test(l));
    const repo = fx.repos.find((x) => x.repo === 'acme/calc')!.path;
    const ancestors = execFileSync('git', ['-C', repo, 'rev-list', task.base_commit], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    assert.deepEqual(visible.sort(), ancestors.sort(), 'only base_commit and its ancestors are reachable');
    assert.doesNotMatch(refs, /fix-add|refs\/tags|refs\/remotes/);
  });

  it('a forced rerun reuses every image (no layer rebuilt) and reaches the same verdicts', async () => {
    const again = await runBuild('exp-it-build', ['build']);
    assert.deepEqual(again.summary.images_built, { env: 0, instance: 0 });
    assert.equal(again.summary.kept, first.summary.kept);
    assert.deepEqual(again.summary.failed, first.summary.failed);
    assert.equal(again.artifacts.tasks.sha256, first.artifacts.tasks.sha256);
  });
  it('validates the task candidates the mine stage found, in one experiment', async () => {
    const { repos } = await makeFixtureRepos(join(tmp, 'mine-fixtures'));
    const widgets = repos.find((r) => r.repo === 'acme/widgets')!;
    const id = 'exp-it-mine-build';
    const r = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          id,
          store: { uri: `file://${join(tmp, 'artifacts')}` },
          mine: { sources: [{ type: 'git', repo: widgets.repo, path: widgets.path, issues_file: widgets.issuesFile }] },
          build: {
            tasks: { from_mine: true },
            wheelhouse: testWheelhouse(BOTTEGA_HOME),
            // The fixture pins an old pytest and is not an installable package (flat layout), so the
            // spec's per-repo recipe overrides what the heuristics detect.
            recipes: {
              'acme/widgets': {
                reqs_path: [],
                pip_packages: ['pytest'],
                install: [],
                test_cmd: 'python -m pytest -rA -p no:cacheprovider tests',
              },
            },
          },
        },
      ],
    })) as ExperimentResult;
    const build = BuildStageResult.parse(r.stages.build!.result);
    assert.equal(build.summary.candidates, 1);
    assert.equal(build.summary.kept, 1, JSON.stringify(build.summary));
    const [task] = readLines(build.artifacts.tasks.uri);
    assert.equal(task!.instance_id, 'acme__widgets-5');
    assert.deepEqual(task!.FAIL_TO_PASS, ['tests/test_core.py::test_normalize_zero_sum']);
    assert.equal((task!.bottega as { recipe_source: string }).recipe_source, 'spec');
  });
});
