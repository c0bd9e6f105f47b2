import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { GitSource, MineStageResult, TASK_QUEUES, type ExperimentResult, type LinkedIssue } from '../../contracts';
import { listGitPrs, loadIssuesFile } from '../../activities/mine/git-source';
import { openStore } from '../../activities/store/artifact-store';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { startFakeGithub, gitFileReader, type FakeGithub } from '../helpers/fake-github';
import { startFakeLlm, type FakeLlm } from '../helpers/fake-llm';
import { startTemporal } from '../helpers/temporal';
import { cpuWorker } from '../helpers/stack';
import { prerequisites } from '../helpers/prereq';

/** The S3 case needs the real S3 server; the rest only the Temporal CLI. */
const s3Skip = await prerequisites('temporal', 's3');

/**
 * The mine stage through the real workflow with the two test doubles this machine needs (a
 * GitHub-shaped HTTP server and an OpenAI-compatible LLM server), and with artifacts in the real
 * S3 server. The client code paths are the production ones: only the base URLs differ.
 */
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let github: FakeGithub;
let llm: FakeLlm;
let widgets: Awaited<ReturnType<typeof makeFixtureRepos>>['repos'][number];
const home = mkdtempSync(join(tmpdir(), 'bottega-src-'));
const TOKEN = 'ghp_secretvalue0123456789';
const API_KEY = 'sk-secret-llm-key-42';

async function run(spec: object, id: string): Promise<{ result: ExperimentResult; history: string }> {
  const handle = await env.client.workflow.start('experimentWorkflow', {
    workflowId: id,
    taskQueue: TASK_QUEUES.cpu,
    args: [{ id, ...spec }],
  });
  const result = (await handle.result()) as ExperimentResult;
  // Include the stage and repository children's histories.
  let history = JSON.stringify(await handle.fetchHistory());
  for await (const wf of env.client.workflow.list({ query: `WorkflowId STARTS_WITH "${id}/"` })) {
    history += JSON.stringify(await env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
  }
  return { result, history };
}

const mineOf = (r: ExperimentResult) => MineStageResult.parse(r.stages.mine!.result);

describe('mine sources end to end', () => {
  before(async () => {
    env = await startTemporal();
    widgets = (await makeFixtureRepos(join(home, 'fixtures'))).repos[0]!;
    const gitSrc = GitSource.parse({
      type: 'git',
      repo: widgets.repo,
      path: widgets.path,
      description: widgets.description,
      issues_file: widgets.issuesFile!,
    });
    const prs = (await listGitPrs(gitSrc, { cursor: 0, limit: 100 })).prs;
    const issues: LinkedIssue[] = [...(await loadIssuesFile(widgets.issuesFile!)).values()];
    github = await startFakeGithub({
      repo: widgets.repo,
      description: widgets.description,
      prs,
      issues,
      readFile: gitFileReader(widgets.path),
      rateLimitOnce: /\/pulls\/2\/commits/,
      badGatewayOnce: /\/pulls\/5\/files/,
    });
    llm = await startFakeLlm({
      // The first commit-message rewrite fails for good: the original must be kept and counted.
      script: (req) =>
        JSON.stringify(req.body?.messages ?? '').includes('# Original Commit Message') &&
        JSON.stringify(req.body?.messages ?? '').includes('# Original Commit Message\\ntest area')
          ? { kind: 'status', status: 400, body: '{"error":"bad request"}' }
          : undefined,
    });
    process.env.BOTTEGA_IT_GH_TOKEN = TOKEN;
    process.env.BOTTEGA_IT_LLM_KEY = API_KEY;
    worker = await cpuWorker(env, home);
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await github?.close();
    await llm?.close();
    await env?.teardown();
  });

  it('GitHub API and local git give byte-identical samples; secrets stay out of history', async () => {
    const viaGit = await run(
      {
        mine: {
          sources: [
            {
              type: 'git',
              repo: widgets.repo,
              path: widgets.path,
              description: widgets.description,
              issues_file: widgets.issuesFile,
            },
          ],
        },
      },
      'exp-src-git'
    );
    const viaApi = await run(
      {
        mine: {
          sources: [{ type: 'github', repo: widgets.repo, api_url: github.url, token_env: 'BOTTEGA_IT_GH_TOKEN' }],
          page_size: 4,
        },
      },
      'exp-src-github'
    );
    const a = mineOf(viaGit.result);
    const b = mineOf(viaApi.result);
    for (const k of ['python', 'general', 'tasks'] as const)
      assert.equal(b.artifacts[k]!.sha256, a.artifacts[k]!.sha256, k);
    assert.equal(b.summary.prs_seen, a.summary.prs_seen);
    // The rate-limit window and the 502 were both met and waited out / retried.
    assert.ok(github.requests.some((r) => r.status === 403));
    assert.ok(github.requests.some((r) => r.status === 502));
    assert.ok(github.requests.every((r) => r.headers.authorization === `token ${TOKEN}`));
    assert.ok(!viaApi.history.includes(TOKEN), 'the token never enters workflow history');
  });

  it('a forced rerun against GitHub costs no API quota (conditional requests + disk cache)', async () => {
    const before = github.requests.length;
    await run(
      {
        force: ['mine'],
        mine: {
          sources: [{ type: 'github', repo: widgets.repo, api_url: github.url, token_env: 'BOTTEGA_IT_GH_TOKEN' }],
          page_size: 4,
        },
      },
      'exp-src-github'
    );
    const again = github.requests.slice(before);
    assert.ok(again.length > 0);
    assert.deepEqual([...new Set(again.map((r) => r.status))], [304]);
  });

  it('LLM enhancement fills the summary and commit messages, keeps originals on failure, counts it', async () => {
    const { result, history } = await run(
      {
        mine: {
          sources: [{ type: 'git', repo: widgets.repo, path: widgets.path, issues_file: widgets.issuesFile }],
          formats: ['python'],
          enhance: {
            enabled: true,
            endpoint: llm.url,
            model: 'fake-model',
            api_key_env: 'BOTTEGA_IT_LLM_KEY',
            concurrency: 2,
          },
        },
      },
      'exp-src-llm'
    );
    const m = mineOf(result);
    assert.ok(m.summary.enhance.calls > 0);
    assert.ok(m.summary.enhance.failures >= 1, 'the failed rewrite is counted');
    assert.ok(llm.maxInFlight <= 2, `concurrency bound: ${llm.maxInFlight}`);
    assert.ok(llm.chatRequests.every((r) => r.headers.authorization === `Bearer ${API_KEY}`));
    assert.ok(!history.includes(API_KEY), 'the API key never enters workflow history');
    const text = readFileSync(fileURLToPath(m.artifacts.python!.uri), 'utf8');
    assert.match(text, /Fake reply [0-9a-f]{8}/, 'LLM text is in the samples');
    assert.match(text, /test area/, 'the failed rewrite kept the original message');
  });

  it('writes every artifact to the real S3 server and reuses it from the step cache', { skip: s3Skip }, async () => {
    const prefix = `it-${Date.now().toString(36)}`;
    const spec = {
      store: { uri: `s3://${process.env.BOTTEGA_S3_BUCKET ?? 'bottega'}/${prefix}` },
      mine: { sources: [{ type: 'git', repo: widgets.repo, path: widgets.path, issues_file: widgets.issuesFile }] },
    };
    const first = await run(spec, 'exp-src-s3');
    const m = mineOf(first.result);
    const store = openStore({
      uri: spec.store.uri,
      s3: {
        endpoint_env: 'BOTTEGA_S3_ENDPOINT',
        public_endpoint_env: 'BOTTEGA_S3_PUBLIC_ENDPOINT',
        region: 'us-east-1',
        access_key_env: 'AWS_ACCESS_KEY_ID',
        secret_key_env: 'AWS_SECRET_ACCESS_KEY',
        force_path_style: true,
      },
    });
    for (const ref of Object.values(m.artifacts)) {
      assert.ok(ref!.uri.startsWith(`s3://`), ref!.uri);
      const bytes = await store.get(ref!.uri);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), ref!.sha256);
    }
    const second = await run(spec, 'exp-src-s3');
    assert.equal(second.result.stages.mine!.status, 'cached');
  });
});
