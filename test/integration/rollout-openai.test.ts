import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RolloutStageResult, TASK_QUEUES, Trajectory, type ExperimentResult } from '../../contracts';
import { makeBuildFixtures, writeTasksFile } from '../../infra/fixtures/make-build-repos';
import { dockerOrSkip, fixtureBuild } from '../helpers/docker';
import { startFakeLlm, type FakeAction, type FakeLlm, type RecordedRequest } from '../helpers/fake-llm';
import { runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * build → rollout with the production `openai` policy against a scripted OpenAI-compatible
 * server, through the whole stage (real Temporal, real Docker): tool calls run in the task
 * containers, a malformed call and a 500 are survived, each rollout gets its own seed, an agent
 * that fixes the bug passes and one that submits nothing fails. `batches_per_run: 1` makes the
 * stage continue as new after every batch, and the progress carries over.
 */
const probe = await dockerOrSkip('temporal');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-rollout-openai-'));
const API_KEY_ENV = 'BOTTEGA_TEST_LLM_KEY';
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
let llm: FakeLlm;

function call(name: string, args: unknown, id: string): unknown {
  return {
    id,
    type: 'function',
    function: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args) },
  };
}

const TEST_CMD = 'python3 -m pytest -rA -p no:cacheprovider tests';
let served500 = false;

/**
 * Stateless per conversation: the step is the number of assistant turns so far. The calc task is
 * solved (after a malformed call); the units task is given up on at once.
 */
function script(req: RecordedRequest): FakeAction {
  const msgs = req.body?.messages ?? [];
  const step = msgs.filter((m) => m.role === 'assistant').length;
  const isCalc = msgs.some((m) => m.role === 'user' && (m.content ?? '').includes('add() subtracts'));
  if (!isCalc) return { kind: 'reply', content: 'I give up.', toolCalls: [call('submit', {}, 's0')] };
  const plan: FakeAction[] = [
    // A call whose arguments are not JSON: a format error, answered with an error observation.
    { kind: 'reply', content: 'Let me look.', toolCalls: [call('str_replace_editor', '{"command": "view", ', 'm0')] },
    {
      kind: 'reply',
      content: null,
      toolCalls: [call('str_replace_editor', { command: 'view', path: '/testbed/calc/ops.py' }, 'v1')],
    },
    { kind: 'reply', content: 'Run the tests first.', toolCalls: [call('bash', { command: TEST_CMD }, 'b2')] },
    {
      kind: 'reply',
      content: 'add() subtracts; fix it.',
      toolCalls: [
        call(
          'str_replace_editor',
          {
            command: 'str_replace',
            path: '/testbed/calc/ops.py',
            old_str: 'def add(a, b):\n    return a - b',
            new_str: 'def add(a, b):\n    return a + b',
          },
          'e3'
        ),
      ],
    },
    { kind: 'reply', content: null, toolCalls: [call('bash', { command: TEST_CMD }, 'b4')] },
    { kind: 'reply', content: 'Fixed.', toolCalls: [call('submit', {}, 's5')] },
  ];
  // One server error mid-rollout: the client retries it with backoff.
  if (step === 2 && !served500) {
    served500 = true;
    return { kind: 'status', status: 500, body: '{"error":{"message":"overloaded"}}' };
  }
  return plan[Math.min(step, plan.length - 1)]!;
}

describe(
  'rollout stage with the openai policy (scripted server, real Docker, real Temporal)',
  { skip: 'skip' in probe ? probe.skip : false },
  () => {
    before(async () => {
      if ('skip' in probe) return;
      llm = await startFakeLlm({ script });
      process.env[API_KEY_ENV] = 'sk-test-secret';
      env = await startTemporal();
      workers = await runWorkers(env, BOTTEGA_HOME, ['cpu', 'docker']);
    });
    after(async () => {
      await workers?.stop();
      await env?.teardown();
      await llm?.close();
    });

    it('solves, fails, labels and counts through the whole stage, continuing as new per batch', async () => {
      const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
      const tasksFile = join(tmp, 'tasks.jsonl');
      const chosen = ['acme__calc-1', 'acme__units-1'];
      writeTasksFile(tasksFile, fx.tasks, chosen);
      const id = 'exp-it-rollout-openai';
      const spec = {
        id,
        store: { uri: `file://${join(tmp, 'artifacts')}` },
        build: fixtureBuild(tasksFile, fx.repos, BOTTEGA_HOME),
        rollout: {
          policy: 'openai',
          endpoint: llm.url,
          model: 'fake-model',
          api_key_env: API_KEY_ENV,
          rollouts_per_task: 2,
          sampling: { temperature: 0.7, seed: 11 },
          concurrency: 2,
          batch_size: 1,
          batches_per_run: 1,
        },
      };
      const r = (await env.client.workflow.execute('experimentWorkflow', {
        workflowId: id,
        taskQueue: TASK_QUEUES.cpu,
        args: [spec],
      })) as ExperimentResult;
      const out = RolloutStageResult.parse(r.stages.rollout!.result);
      assert.equal(out.summary.tasks, 2);
      assert.equal(out.summary.rollouts, 4);
      assert.equal(out.summary.passed, 2, JSON.stringify(out.summary));
      assert.equal(out.summary.failed, 2);
      assert.deepEqual(out.summary.exits, { submitted: 4 });

      const read = (uri: string): Trajectory[] =>
        readFileSync(fileURLToPath(uri), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => Trajectory.parse(JSON.parse(l)));
      const pass = read(out.artifacts.pass.uri);
      const fail = read(out.artifacts.fail.uri);
      assert.deepEqual(pass.map((t) => t.id).sort(), ['acme__calc-1#0', 'acme__calc-1#1']);
      assert.deepEqual(fail.map((t) => t.id).sort(), ['acme__units-1#0', 'acme__units-1#1']);
      for (const t of [...pass, ...fail]) {
        assert.equal(t.policy, 'openai');
        assert.equal(t.model, 'fake-model');
        assert.equal(t.sampling?.seed, 11 + t.rollout_index, 'rollout k samples with seed + k');
      }
      const calc = pass[0]!;
      const tools = calc.messages.filter((m) => m.role === 'tool').map((m) => m.content);
      assert.match(tools[0]!, /not valid JSON|invalid|could not parse/i, 'the malformed call got an error observation');
      assert.match(tools[1]!, /def add\(a, b\):/, 'the view shows the real file');
      // Real pytest output from the container; the hidden FAIL_TO_PASS test is not there to peek at.
      assert.match(tools[2]!, /^PASSED tests\/test_ops\.py::test_sub/m, 'the agent ran the real test suite');
      assert.doesNotMatch(tools[2]!, /test_add/, 'the test_patch is applied only at grading');
      assert.match(tools[3]!, /has been edited/, 'the edit went through the editor tool');
      assert.match(calc.final_patch, /^\+\s+return a \+ b$/m);
      assert.equal(calc.report?.resolved, true);
      assert.deepEqual(calc.report?.tests_status.FAIL_TO_PASS.success, ['tests/test_ops.py::test_add']);
      assert.equal(fail[0]!.final_patch, '');
      assert.equal(fail[0]!.label, 'fail');

      // The key went out in the Authorization header and nowhere into workflow history.
      assert.ok(llm.chatRequests.every((q) => q.headers.authorization === 'Bearer sk-test-secret'));
      assert.ok(served500, 'the scripted 500 was served (and retried)');
      const history = await env.client.workflow.getHandle(id).fetchHistory();
      assert.ok(!JSON.stringify(history).includes('sk-test-secret'));

      // Four batches, one per run: the stage continued as new three times.
      const runs: string[] = [];
      for await (const w of env.client.workflow.list({ query: `WorkflowId = "${id}/rollout"` }))
        runs.push(w.status.name);
      assert.equal(runs.length, 4, `runs of the stage: ${runs.join(', ')}`);
      assert.equal(runs.filter((s) => s === 'CONTINUED_AS_NEW').length, 3);
    });
  }
);
