import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { BuildStageResult, BuildTaskOutcome, TASK_QUEUES, type ExperimentResult } from '../../contracts';
import { dockerOrSkip } from '../helpers/docker';
import { runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * The build stage (real Temporal, a docker-capability worker) fed a task record whose `instance_id`
 * climbs out with `../`: the record is refused as `invalid_record` naming the file, line and field,
 * and no failure log lands outside the artifact store. A record with a SWE-bench-style id next to
 * it keeps its log where it always was: `<prefix>/logs/<instance_id>.no_recipe.log`. Both records
 * fail before any image is built (a spec recipe without a test command, on a non-Python repo).
 */
const probe = await dockerOrSkip('temporal');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-build-names-'));
const artifacts = join(tmp, 'artifacts');
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' });

/** Files under `tmp` outside the artifact store and the inputs, relative to `tmp`. */
function strayFiles(inputs: string[]): string[] {
  const inside = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);
  return (readdirSync(tmp, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => !inside(p, artifacts) && !inputs.some((i) => inside(p, i)))
    .map((p) => relative(tmp, p))
    .sort();
}

describe(
  'build stage refuses instance ids that leave the store',
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
      rmSync(tmp, { recursive: true, force: true });
    });

    it('a hostile instance_id is an invalid record; no log is written outside the store', async () => {
      const repo = join(tmp, 'repo');
      mkdirSync(repo);
      git(repo, 'init', '-q');
      writeFileSync(join(repo, 'README.md'), 'not a Python project\n');
      git(repo, 'add', '.');
      git(repo, 'commit', '-qm', 'init');
      const sha = git(repo, 'rev-parse', 'HEAD').trim();
      const record = (instance_id: string) => ({
        instance_id,
        repo: 'acme/empty',
        base_commit: sha,
        patch: '',
        test_patch: '',
      });
      // The store's prefix is experiments/<id>/build/<hash>: from its logs/ directory, six `..` reach tmp.
      const hostile = '../../../../../../escaped';
      const tasksFile = join(tmp, 'tasks.jsonl');
      writeFileSync(
        tasksFile,
        [record('acme__empty-1'), record(hostile)].map((r) => JSON.stringify(r)).join('\n') + '\n'
      );

      const id = 'exp-it-build-names';
      const r = (await env.client.workflow.execute('experimentWorkflow', {
        workflowId: id,
        taskQueue: TASK_QUEUES.cpu,
        args: [
          {
            id,
            store: { uri: `file://${artifacts}` },
            build: {
              tasks: { files: [tasksFile] },
              repo_paths: { 'acme/empty': repo },
              // Without a test command and with nothing to detect, the recipe fails with notes (a log).
              recipes: { 'acme/empty': { python: '3.11' } },
              official_images: false,
              official_recipes: false,
            },
          },
        ],
      })) as ExperimentResult;
      const build = BuildStageResult.parse(r.stages.build!.result);
      const outcomes = readFileSync(fileURLToPath(build.artifacts.outcomes.uri), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => BuildTaskOutcome.parse(JSON.parse(l)));
      assert.equal(outcomes.length, 2);

      const bad = outcomes.find((o) => o.reason === 'invalid_record');
      assert.ok(bad, JSON.stringify(outcomes));
      assert.match(bad.detail!, /tasks\.jsonl:2: instance_id: "\.\.\/\.\.\/.*escaped" .*"\/"/);
      assert.equal(bad.log_uri, null);

      const good = outcomes.find((o) => o.instance_id === 'acme__empty-1')!;
      assert.equal(good.reason, 'no_recipe', JSON.stringify(good));
      assert.ok(good.log_uri, 'the failure keeps its log');
      const log = fileURLToPath(good.log_uri);
      assert.ok(log.startsWith(`${artifacts}/experiments/${id}/build/`), log);
      assert.match(log, /\/logs\/acme__empty-1\.no_recipe\.log$/, 'the layout of valid ids is unchanged');

      assert.deepEqual(strayFiles([tasksFile, repo]), [], 'nothing written outside the artifact store');
    });
  }
);
