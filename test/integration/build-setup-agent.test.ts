import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type Docker from 'dockerode';
import { BuildConfig, TaskRecord, type BuildTaskOutcome } from '../../contracts';
import { buildAndValidate, gitRepoView, type ValidateDeps } from '../../activities/build/validate-task';
import { detectPythonRecipe } from '../../activities/build/heuristics';
import { MAYA, Repo } from '../../infra/fixtures/git-repo';
import { dockerOrSkip, testWheelhouse } from '../helpers/docker';
import { startFakeLlm, type FakeAction, type FakeLlm, type RecordedRequest } from '../helpers/fake-llm';

/**
 * The LLM setup agent of the build stage on the real Docker engine, driven by the scripted fake
 * LLM: a repository the heuristics cannot read (tests in checks/check_*.py, no packaging files)
 * gets its recipe from the agent, which is accepted only when the task then validates.
 */
const probe = await dockerOrSkip();
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const API_KEY = 'sk-bottega-test-7f3a9c';
const KEY_ENV = 'BOTTEGA_TEST_SETUP_AGENT_KEY';
const tmp = mkdtempSync(join(tmpdir(), 'bottega-setup-agent-'));

const OPS_BUGGY = 'def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n';
const OPS_FIXED = 'def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n';
const CHECKS = 'from gadget.ops import sub\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n';
const CHECKS_WITH_ADD =
  'from gadget.ops import add, sub\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n\n\ndef test_add():\n    assert add(2, 2) == 4\n';

const GOOD_CONFIG = {
  python: '3.11',
  pip_packages: ['pytest'],
  test_cmd: 'python -m pytest -rA -p no:cacheprovider checks/check_ops.py',
  log_parser: 'pytest',
};

/** A tool call in the OpenAI shape. */
const call = (id: string, name: string, args: unknown) => ({
  id,
  type: 'function',
  function: { name, arguments: JSON.stringify(args) },
});

/** The content of the tool message answering `id` in a recorded request. */
function toolResult(req: RecordedRequest, id: string): string {
  const msgs = (req.body?.messages ?? []) as Array<{ role: string; content: string | null; tool_call_id?: string }>;
  const m = msgs.find((x) => x.role === 'tool' && x.tool_call_id === id);
  assert.ok(m, `the request carries the result of ${id}`);
  return m.content ?? '';
}

describe('build setup agent (real Docker, fake LLM)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  let docker: Docker;
  let repoPath: string;
  let task: TaskRecord;
  let fake: FakeLlm | undefined;
  let logs: Map<string, string>;

  before(async () => {
    if ('skip' in probe) return;
    docker = probe.docker;
    repoPath = join(tmp, 'acme-gadget');
    const repo = new Repo(repoPath);
    await repo.init();
    const base = await repo.commit(MAYA, 'Initial gadget', {
      'gadget/__init__.py': '',
      'gadget/ops.py': OPS_BUGGY,
      'checks/check_ops.py': CHECKS,
    });
    await repo.checkout('fix-add', base);
    const fix = await repo.commit(MAYA, 'Fix add', { 'gadget/ops.py': OPS_FIXED });
    const withTests = await repo.commit(MAYA, 'Check add', { 'checks/check_ops.py': CHECKS_WITH_ADD });
    await repo.checkout('main');
    const diff = async (a: string, b: string, p: string) =>
      `${await repo.run(['diff', '--no-color', '--full-index', a, b, '--', p])}\n`;
    task = TaskRecord.parse({
      instance_id: 'acme__gadget-1',
      repo: 'acme/gadget',
      base_commit: base,
      patch: await diff(base, fix, 'gadget/ops.py'),
      test_patch: await diff(fix, withTests, 'checks/check_ops.py'),
      problem_statement: 'add() subtracts',
    });
  });
  after(async () => {
    await fake?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const run = async (
    script: (req: RecordedRequest, i: number) => FakeAction | undefined,
    enabled = true,
    t: TaskRecord = task
  ) => {
    await fake?.close();
    fake = await startFakeLlm({ script });
    logs = new Map();
    const config = BuildConfig.parse({
      tasks: { files: ['unused.jsonl'] },
      wheelhouse: testWheelhouse(BOTTEGA_HOME),
      validation_runs: 1,
      test_timeout_s: 60,
      setup_agent: { enabled, endpoint: fake.url, model: 'fake-model', api_key_env: KEY_ENV, max_steps: 6 },
    });
    const deps: ValidateDeps = {
      docker,
      bottegaHome: BOTTEGA_HOME,
      progress: () => {},
      saveLog: async (name, text) => {
        logs.set(name, text);
        return `mem://${name}`;
      },
      env: { [KEY_ENV]: API_KEY },
    };
    return buildAndValidate({ task: t, repoPath, config }, deps);
  };

  const assertKeyNowhere = (o: BuildTaskOutcome) => {
    for (const [name, text] of logs) assert.ok(!text.includes(API_KEY), `${name} does not hold the API key`);
    assert.ok(!JSON.stringify(o).includes(API_KEY));
  };

  it('the heuristics find no recipe for the fixture', () => {
    const r = detectPythonRecipe(gitRepoView(repoPath, task.base_commit));
    assert.equal(r.config, null);
  });

  it('A: explores with bash, submits a valid config, and the task validates with recipe_source agent', async () => {
    const o = await run((_req, i) => {
      if (i === 0)
        return { kind: 'reply', content: null, toolCalls: [call('c1', 'bash', { command: 'ls -R /testbed' })] };
      if (i === 1) {
        const args = { install_config: GOOD_CONFIG };
        return { kind: 'reply', content: null, toolCalls: [call('c2', 'submit_install_config', args)] };
      }
      return { kind: 'reply', content: 'done' };
    });
    assert.equal(o.status, 'validated', `${o.reason} ${o.detail}`);
    assert.equal(o.recipe_source, 'agent');
    assert.deepEqual(o.install_config?.test_cmd, GOOD_CONFIG.test_cmd);
    assert.deepEqual(o.FAIL_TO_PASS, ['checks/check_ops.py::test_add']);
    assert.deepEqual(o.PASS_TO_PASS, ['checks/check_ops.py::test_sub']);
    const reqs = fake!.chatRequests;
    assert.equal(reqs.length, 2);
    assert.equal(reqs[0]!.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(reqs[0]!.body?.temperature, 0);
    const listing = toolResult(reqs[1]!, 'c1');
    assert.match(listing, /exit code 0/);
    assert.match(listing, /check_ops\.py/);
    assert.match(listing, /\/testbed\/gadget:/);
    assert.match(listing, /ops\.py/);
    const left = await docker.listContainers({ all: true, filters: { label: ['bottega.kind=setup-agent'] } });
    assert.equal(left.length, 0, 'the agent container is removed');
    assertKeyNowhere(o);
  });

  it('B: invalid submission gets the zod problems back; a proposal that runs no test is rejected', async () => {
    const o = await run((_req, i) => {
      if (i === 0) {
        const bad = { install_config: { test_cmd: 42, log_parser: 'nose' } };
        return { kind: 'reply', content: null, toolCalls: [call('b1', 'submit_install_config', bad)] };
      }
      if (i === 1) {
        const args = { install_config: { ...GOOD_CONFIG, test_cmd: 'true' } };
        return { kind: 'reply', content: null, toolCalls: [call('b2', 'submit_install_config', args)] };
      }
      return { kind: 'reply', content: 'done' };
    });
    assert.equal(o.status, 'failed');
    assert.equal(o.reason, 'no_recipe', 'the original failure reason is kept');
    assert.equal(o.recipe_source, null);
    assert.match(o.detail ?? '', /setup agent: its proposal .* did not validate: no_tests_ran/);
    const reqs = fake!.chatRequests;
    assert.equal(reqs.length, 2);
    const problems = toolResult(reqs[1]!, 'b1');
    assert.match(problems, /invalid/);
    assert.match(problems, /test_cmd/);
    assert.match(problems, /log_parser/);
    const transcript = logs.get('acme__gadget-1.setup-agent.json');
    assert.ok(transcript, 'the transcript is stored');
    const msgs = JSON.parse(transcript) as Array<{ role: string }>;
    assert.deepEqual(
      msgs.map((m) => m.role),
      ['system', 'user', 'assistant', 'tool', 'assistant', 'tool']
    );
    assert.match(o.detail ?? '', /mem:\/\/acme__gadget-1\.setup-agent\.json/);
    assertKeyNowhere(o);
  });

  it('a model that stops calling tools, or fails, leaves the original failure with the reason', async () => {
    const idle = await run(() => ({ kind: 'reply', content: 'I think you should use pytest.' }));
    assert.equal(idle.reason, 'no_recipe');
    assert.match(idle.detail ?? '', /setup agent: no proposal after 2 steps \(no_proposal/);
    assert.equal(fake!.chatRequests.length, 2);
    assert.ok(logs.has('acme__gadget-1.setup-agent.json'));

    const broken = await run(() => ({ kind: 'status', status: 400, body: 'bad model' }));
    assert.equal(broken.reason, 'no_recipe');
    assert.match(broken.detail ?? '', /no proposal after 1 steps \(model_error: HTTP 400/);
    assertKeyNowhere(broken);
  });

  it('D: an install that fails brings in the agent, whose working recipe replaces the record one', async () => {
    const broken = TaskRecord.parse({
      ...task,
      instance_id: 'acme__gadget-2',
      install_config: { ...GOOD_CONFIG, install: ['false'] },
    });
    const o = await run(
      (_req, i) =>
        i === 0
          ? {
              kind: 'reply',
              content: null,
              toolCalls: [call('d1', 'submit_install_config', { install_config: GOOD_CONFIG })],
            }
          : { kind: 'reply', content: 'done' },
      true,
      broken
    );
    assert.equal(o.status, 'validated', `${o.reason} ${o.detail}`);
    assert.equal(o.recipe_source, 'agent');
    assert.deepEqual(o.install_config?.install, []);
    assert.deepEqual(o.FAIL_TO_PASS, ['checks/check_ops.py::test_add']);
    const prompt = JSON.stringify(fake!.chatRequests[0]!.body?.messages ?? []);
    assert.match(prompt, /the record recipe .* failed to install/, 'the agent is told why it was called');
    assertKeyNowhere(o);
  });

  it('C: with the agent disabled the task fails with no_recipe and the model is never asked', async () => {
    const o = await run(() => undefined, false);
    assert.equal(o.status, 'failed');
    assert.equal(o.reason, 'no_recipe');
    assert.doesNotMatch(o.detail ?? '', /setup agent/);
    assert.equal(fake!.chatRequests.length, 0);
  });
});
