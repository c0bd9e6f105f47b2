import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import {
  MineSample,
  MineStageResult,
  TASK_QUEUES,
  TaskCandidate,
  type ExperimentResult,
  type ExperimentSpecInput,
} from '../../contracts';
import { getTokenizer } from '../../activities/mine/tokenizer';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { startTemporal } from '../helpers/temporal';
import { childrenStarted, cpuWorker, fileSha256, fixtureSpec, scheduledActivities } from '../helpers/stack';

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let repos: Awaited<ReturnType<typeof makeFixtureRepos>>['repos'];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-'));

async function runExperiment(spec: ExperimentSpecInput, workflowId = spec.id) {
  const handle = await env.client.workflow.start('experimentWorkflow', {
    workflowId,
    taskQueue: TASK_QUEUES.cpu,
    args: [spec],
  });
  return { handle, result: (await handle.result()) as ExperimentResult };
}

const readJsonl = (uri: string) =>
  readFileSync(fileURLToPath(uri), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as unknown);

describe('mine stage on the real Temporal dev server', () => {
  before(async () => {
    env = await startTemporal();
    repos = (await makeFixtureRepos(join(home, 'fixtures'))).repos;
    worker = await cpuWorker(env, home);
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  let first: { result: ExperimentResult; runId: string };

  it('mines the fixture repositories end to end', async () => {
    const { handle, result } = await runExperiment(fixtureSpec('exp-it-mine', repos));
    first = { result, runId: handle.firstExecutionRunId };
    const outcome = result.stages.mine!;
    assert.equal(outcome.status, 'ran');
    assert.equal(outcome.producer.workflowId, 'exp-it-mine/mine');
    const mine = MineStageResult.parse(outcome.result);
    const s = mine.summary;

    // Every PR seen is either kept or dropped for a counted reason.
    const dropped = Object.values(s.prs_dropped).reduce((a, b) => a + b, 0);
    assert.equal(s.prs_seen, s.prs_kept + dropped);
    assert.ok(s.prs_kept > 0);
    assert.ok((s.prs_dropped.bot_author ?? 0) >= 1, 'the bot PR is dropped');
    assert.ok((s.prs_dropped.decontaminated_repo ?? 0) >= 1, 'pallets/flask is decontaminated');
    assert.ok((s.files_skipped.non_utf8 ?? 0) >= 1, 'the latin-1 file is counted and skipped');
    assert.ok((s.files_skipped.binary ?? 0) >= 1, 'the binary file is counted and skipped');
    assert.ok(s.formats.python!.samples > 0 && s.formats.general!.samples > 0);
    assert.ok((s.formats.python!.filtered.non_python_files ?? 0) >= 1, 'a non-Python PR is general-only');
    assert.ok(s.task_candidates >= 1);

    // Artifacts exist, hash to their references and recount to the summary.
    const tok = await getTokenizer('qwen2.5');
    for (const format of ['python', 'general'] as const) {
      const ref = mine.artifacts[format]!;
      assert.equal(fileSha256(ref), ref.sha256);
      const samples = readJsonl(ref.uri).map((x) => MineSample.parse(x));
      assert.equal(samples.length, s.formats[format]!.samples);
      assert.equal(ref.records, samples.length);
      let tokens = 0;
      for (const sm of samples) {
        assert.equal(sm.format, format);
        assert.equal(tok.count(sm.text), sm.tokens, `exact token count of ${sm.id}`);
        tokens += sm.tokens;
      }
      assert.equal(tokens, s.formats[format]!.tokens);
    }
    const py = readJsonl(mine.artifacts.python!.uri).map((x) => MineSample.parse(x));
    assert.match(py[0]!.text, /^# Repository Context\n/);
    assert.ok(
      py.some((x) => x.text.includes('# Issue\n')),
      'a linked issue is rendered'
    );
    assert.ok(py.every((x) => x.text.includes('# Edits\n')));
    const tasks = readJsonl(mine.artifacts.tasks!.uri).map((x) => TaskCandidate.parse(x));
    assert.equal(tasks.length, s.task_candidates);
    assert.ok(tasks.every((t) => t.patch.startsWith('diff --git') && t.test_patch.startsWith('diff --git')));
    // One decision line per PR, plus one per commit found not to be a PR (the release merge).
    const decisions = readJsonl(mine.artifacts.decisions.uri) as { not_pr?: unknown; shape?: string }[];
    assert.equal(decisions.filter((d) => !d.not_pr).length, s.prs_seen);
    const notPrs = Object.values(s.discovery.not_prs).reduce((a, b) => a + b, 0);
    assert.equal(decisions.filter((d) => d.not_pr).length, notPrs);
    assert.deepEqual(s.discovery.not_prs, { unnumbered_merge: 1 });
    const found = Object.values(s.discovery.prs_found).reduce((a, b) => a + b, 0);
    assert.equal(found, s.prs_seen, 'PRs found by shape add up to PRs seen');

    // The memo carries the artifact references for the UI.
    const desc = await handle.describe();
    const memo = desc.memo as { artifacts?: { mine?: Record<string, string> } };
    assert.equal(memo.artifacts?.mine?.['artifacts.python'], mine.artifacts.python!.uri);
    assert.equal(desc.searchAttributes.ExperimentId?.[0], 'exp-it-mine');
    const progress = await handle.query<{ stages: Record<string, string> }>('progress');
    assert.equal(progress.stages.mine, 'completed');
  });

  it('a rerun hits the step cache and executes no stage activity', async () => {
    const { handle, result } = await runExperiment(fixtureSpec('exp-it-mine', repos));
    const outcome = result.stages.mine!;
    assert.equal(outcome.status, 'cached');
    assert.deepEqual(outcome.producer, first.result.stages.mine!.producer);
    assert.deepEqual(outcome.result, first.result.stages.mine!.result);
    const history = await handle.fetchHistory();
    // experimentIdHolder: the experiment id check every run makes before planning (no stage activity).
    assert.deepEqual(scheduledActivities(history), ['experimentIdHolder', 'planStage']);
    assert.equal(childrenStarted(history), 0);
  });

  it('force reruns the stage and reproduces byte-identical outputs', async () => {
    const { result } = await runExperiment(fixtureSpec('exp-it-mine-forced', repos, { force: ['mine'] }));
    const a = MineStageResult.parse(first.result.stages.mine!.result);
    const b = MineStageResult.parse(result.stages.mine!.result);
    assert.equal(result.stages.mine!.status, 'ran');
    for (const k of ['python', 'general', 'tasks', 'decisions'] as const)
      assert.equal(b.artifacts[k]!.sha256, a.artifacts[k]!.sha256, k);
    assert.deepEqual(b.summary, a.summary);
  });

  it('a changed input misses the cache, and the new limits apply', async () => {
    const { result } = await runExperiment(
      fixtureSpec('exp-it-mine', repos, {}, { max_tokens: 300, max_relevant_files: 1 })
    );
    assert.equal(result.stages.mine!.status, 'ran');
    const s = MineStageResult.parse(result.stages.mine!.result).summary;
    assert.ok((s.files_skipped.too_many_files ?? 0) > 0, 'relevant files past the limit are counted');
    assert.ok((s.formats.general!.dropped.over_max_tokens ?? 0) > 0, 'the length gate drops long samples');
  });

  it('a long repository continues as new and loses no page', async () => {
    const [widgets] = repos;
    const source = { type: 'git', repo: widgets!.repo, path: widgets!.path, ref: 'HEAD', description: '' };
    const config = { sources: [source], page_size: 1 };
    const handle = await env.client.workflow.start('mineRepoWorkflow', {
      workflowId: 'exp-it-can/mine/0-acme__widgets',
      taskQueue: TASK_QUEUES.cpu,
      args: [{ experimentId: 'exp-it-can', source, config, store: {}, prefix: 'it/can', continueAsNewAfterPages: 2 }],
    });
    const r = (await handle.result()) as { pages: number; prsSeen: number };
    assert.equal(r.pages, r.prsSeen + 1, 'one item per page: each PR, and the release merge that is not one');
    assert.ok(r.pages >= 5);
    const statuses: string[] = [];
    for await (const wf of env.client.workflow.list({ query: 'WorkflowId = "exp-it-can/mine/0-acme__widgets"' })) {
      statuses.push(wf.status.name);
    }
    const runs = Math.ceil(r.pages / 2);
    assert.equal(statuses.length, runs, 'a new run every two pages');
    assert.equal(statuses.filter((s) => s === 'CONTINUED_AS_NEW').length, runs - 1);
  });

  it('an invalid spec fails the workflow at entry with a non-retryable InvalidSpec', async () => {
    const bad = { id: 'exp-bad', mine: { sources: [{ type: 'git', repo: 'foo', path: '/nope' }], colour: 1 } };
    await assert.rejects(runExperiment(bad as unknown as ExperimentSpecInput), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const cause = e.cause;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'InvalidSpec');
      assert.equal(cause.nonRetryable, true);
      assert.match(cause.message, /mine\.sources\[0\]\.repo: expected "owner\/name", got "foo"/);
      assert.match(cause.message, /mine\.colour: unknown key/);
      return true;
    });
  });

  it('a missing repository fails fast with a message naming the source', async () => {
    const spec = fixtureSpec('exp-missing', [{ repo: 'acme/ghost', path: join(home, 'nope'), issuesFile: null }]);
    await assert.rejects(runExperiment(spec), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const messages: string[] = [];
      for (let c: unknown = e; c instanceof Error; c = c.cause) messages.push(c.message);
      assert.match(messages.join(' | '), /mine\.sources\[0\]\.path/);
      return true;
    });
  });
});
