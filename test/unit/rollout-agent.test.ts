import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runAgent, type AgentLimits, type RunAgentOptions } from '../../activities/rollout/agent/loop';
import { openaiPolicy, parseXmlFunctionCalls, type Policy } from '../../activities/rollout/agent/policy';
import { parseUnifiedDiff, planGoldCalls, replayGoldPolicy } from '../../activities/rollout/agent/replay-gold';
import { ROLLOUT_TOOLS } from '../../activities/rollout/tools/definitions';
import type { AgentToolCall, AgentToolResult, ToolRuntime } from '../../activities/rollout/tools/types';
import { TrajectoryMessage } from '../../contracts/trajectory';
import { getTokenizer, type Tokenizer } from '../../activities/mine/tokenizer';
import { startFakeLlm, type FakeAction, type FakeLlm, type RecordedRequest } from '../helpers/fake-llm';

/** A tiny in-memory sandbox: str_replace_editor over a Map, scripted bash (rm / mv handled), submit. */
class FakeRuntime implements ToolRuntime {
  readonly tools = ROLLOUT_TOOLS;
  readonly files = new Map<string, string>();
  readonly history = new Map<string, string[]>();
  readonly calls: AgentToolCall[] = [];
  bash: (cmd: string) => { output: string; exitCode: number } = () => ({ output: 'ok', exitCode: 0 });
  patch = 'diff --git a/x b/x\n';

  constructor(files: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(files)) this.files.set(k, v);
  }

  call(c: AgentToolCall): Promise<AgentToolResult> {
    this.calls.push(c);
    const r = (output: string, exitCode = 0, extra: Partial<AgentToolResult> = {}): Promise<AgentToolResult> =>
      Promise.resolve({ output, exitCode, timedOut: false, durationMs: 1, ...extra });
    const a = c.arguments;
    if (c.name === 'submit') return r('submitted', 0, { submitted: { patch: this.patch } });
    if (c.name === 'bash') {
      const cmd = String(a.command);
      const rm = /^rm (\S+)$/.exec(cmd);
      if (rm) return this.files.delete(rm[1]!) ? r('') : r('rm: no such file', 1);
      const mv = /^mv (\S+) (\S+)$/.exec(cmd);
      if (mv) {
        const text = this.files.get(mv[1]!);
        if (text === undefined) return r('mv: no such file', 1);
        this.files.delete(mv[1]!);
        this.files.set(mv[2]!, text);
        return r('');
      }
      const b = this.bash(cmd);
      return r(b.output, b.exitCode);
    }
    const path = String(a.path);
    const text = this.files.get(path);
    const save = (next: string): void => {
      this.history.set(path, [...(this.history.get(path) ?? []), text ?? '']);
      this.files.set(path, next);
    };
    switch (a.command) {
      case 'view':
        if (text === undefined) return r(`The path ${path} does not exist.`, 1);
        return r(
          `Here's the result of running \`cat -n\` on ${path}:\n` +
            text
              .split('\n')
              .map((l, i) => `${String(i + 1).padStart(6)}\t${l}`)
              .join('\n') +
            '\n'
        );
      case 'create':
        if (text !== undefined) return r(`File already exists at: ${path}`, 1);
        save(String(a.file_text));
        return r(`File created successfully at: ${path}`);
      case 'str_replace': {
        if (text === undefined) return r(`The path ${path} does not exist.`, 1);
        const oldStr = String(a.old_str);
        const n = text.split(oldStr).length - 1;
        if (n !== 1) return r(`old_str found ${n} times in ${path}`, 1);
        save(text.replace(oldStr, () => String(a.new_str ?? '')));
        return r(`The file ${path} has been edited.`);
      }
      case 'insert': {
        if (text === undefined) return r(`The path ${path} does not exist.`, 1);
        const lines = text === '' ? [] : text.split('\n');
        const at = Number(a.insert_line);
        const ins = String(a.new_str);
        save(at === 0 ? ins + text : [...lines.slice(0, at), ins, ...lines.slice(at)].join('\n'));
        return r(`The file ${path} has been edited.`);
      }
      case 'undo_edit': {
        const h = this.history.get(path);
        if (!h?.length) return r(`No edit history found for ${path}.`, 1);
        this.files.set(path, h.pop()!);
        return r(`Last edit to ${path} undone successfully.`);
      }
      default:
        return r(`Unknown command ${String(a.command)}`, 1);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

let tokenizer: Tokenizer;
const TASK = { instance_id: 'acme__calc-1', problem_statement: 'add() subtracts instead of adding.' };
const LIMITS: AgentLimits = { maxSteps: 20, maxTotalTokens: 128_000, wallClockMs: 600_000 };

function call(name: string, args: unknown, id = `call_${name}`): unknown {
  return {
    id,
    type: 'function',
    function: { name, arguments: typeof args === 'string' ? args : JSON.stringify(args) },
  };
}

let llm: FakeLlm;
type Script = (req: RecordedRequest, i: number) => FakeAction | undefined;
let script: Script = () => undefined;
/** Sets the fake LLM's script, with `i` counted from this test's first chat request. */
function setScript(fn: Script): void {
  const base = llm.chatRequests.length;
  script = (req, i) => fn(req, i - base);
}

before(async () => {
  tokenizer = await getTokenizer('qwen2.5');
  llm = await startFakeLlm({ script: (req, i) => script(req, i) });
});
after(async () => {
  await llm.close();
});

function policy(extra: Partial<Parameters<typeof openaiPolicy>[0]> = {}): Policy {
  return openaiPolicy({
    baseUrl: llm.url,
    model: 'fake-model',
    temperature: 0,
    topP: 1,
    maxTokens: 256,
    toolMode: 'native',
    retry: { maxAttempts: 2, baseDelayMs: 1, jitter: false },
    ...extra,
  });
}

function run(p: Policy, runtime: ToolRuntime, extra: Partial<RunAgentOptions> = {}): ReturnType<typeof runAgent> {
  return runAgent({ policy: p, runtime, task: TASK, limits: LIMITS, tokenizer, ...extra });
}

describe('runAgent exit reasons (native tools, fake LLM)', () => {
  test('submitted: tool outputs go back as tool messages, steps are recorded and saved', async () => {
    const steps: number[] = [];
    setScript(
      (_req, i) =>
        [
          {
            kind: 'reply',
            content: 'Look first.',
            toolCalls: [call('str_replace_editor', { command: 'view', path: '/testbed/calc.py' })],
          },
          {
            kind: 'reply',
            content: null,
            toolCalls: [
              call(
                'str_replace_editor',
                { command: 'str_replace', path: '/testbed/calc.py', old_str: 'a - b', new_str: 'a + b' },
                'c1'
              ),
              call('bash', { command: 'pytest' }, 'c2'),
            ],
          },
          { kind: 'reply', content: 'Done.', toolCalls: [call('submit', {})] },
        ][i] as FakeAction
    );
    const rt = new FakeRuntime({ '/testbed/calc.py': 'def add(a, b):\n    return a - b\n' });
    rt.bash = () => ({ output: '1 passed', exitCode: 0 });
    const res = await run(policy({ seed: 7 }), rt, {
      onStep: (_s, i) => {
        steps.push(i);
        return Promise.resolve();
      },
    });
    assert.equal(res.exitReason, 'submitted');
    assert.equal(res.finalPatch, rt.patch);
    assert.equal(res.steps.length, 3);
    assert.deepEqual(steps, [0, 1, 2]);
    assert.equal(rt.files.get('/testbed/calc.py'), 'def add(a, b):\n    return a + b\n');
    assert.deepEqual(
      res.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'tool', 'assistant', 'tool']
    );
    assert.match(res.messages[3]!.content!, /^Here's the result.*\n\s+1\tdef add/);
    assert.equal(res.messages[6]!.content, '1 passed');
    assert.equal(res.messages[6]!.tool_call_id, 'c2');
    assert.ok(res.steps.every((s) => s.usage.prompt_tokens > 0));
    assert.deepEqual(
      res.steps.map((s) => s.message_index),
      [2, 4, 7]
    );
    assert.deepEqual(
      res.steps[1]!.tool_durations_ms.map((d) => d.tool_call_id),
      ['c1', 'c2']
    );
    assert.ok(res.tokensByRole.system > 0 && res.tokensByRole.tool > 0);
    // The messages already fit the trajectory contract.
    TrajectoryMessage.array().parse(res.messages);
    assert.ok(res.tokens > 0);
    assert.equal(res.policy.seed, 7);
    const body = llm.chatRequests.at(-1)!.body!;
    assert.equal(body.seed, 7);
    assert.equal((body.tools as unknown[]).length, 3);
    assert.match(body.messages![1]!.content!, /add\(\) subtracts/);
  });

  test('step_limit', async () => {
    setScript(() => ({ kind: 'reply', content: 'again', toolCalls: [call('bash', { command: 'ls' })] }));
    const res = await run(policy(), new FakeRuntime(), { limits: { ...LIMITS, maxSteps: 3 } });
    assert.equal(res.exitReason, 'step_limit');
    assert.equal(res.steps.length, 3);
    assert.equal(res.finalPatch, null);
  });

  test('context_limit: a very long answer overflows the conversation before the next call', async () => {
    setScript(() => ({ kind: 'reply', content: 'word '.repeat(5000), toolCalls: [call('bash', { command: 'ls' })] }));
    const res = await run(policy(), new FakeRuntime(), { limits: { ...LIMITS, maxTotalTokens: 3000 } });
    assert.equal(res.exitReason, 'context_limit');
    assert.equal(res.steps.length, 1);
    assert.ok(res.tokens > 3000);
    assert.ok(res.steps[0]!.context_tokens < 3000);
  });

  test('time_limit with an injected clock', async () => {
    let clock = 1_000_000;
    setScript(() => ({ kind: 'reply', content: 'x', toolCalls: [call('bash', { command: 'sleep' })] }));
    const rt = new FakeRuntime();
    rt.bash = () => {
      clock += 1000;
      return { output: '', exitCode: 0 };
    };
    const res = await run(policy(), rt, { now: () => clock, limits: { ...LIMITS, wallClockMs: 2500 } });
    assert.equal(res.exitReason, 'time_limit');
    assert.equal(res.steps.length, 3);
    assert.equal(res.steps[0]!.tool_ms, 1000);
    assert.equal(res.steps[0]!.started_at, new Date(1_000_000).toISOString());
  });

  test('cost_limit from the policy pricing', async () => {
    setScript(() => ({ kind: 'reply', content: 'x', toolCalls: [call('bash', { command: 'ls' })] }));
    const res = await run(policy({ pricing: { inputPerMTok: 1000, outputPerMTok: 1000 } }), new FakeRuntime(), {
      limits: { ...LIMITS, maxCostUsd: 0.1 },
    });
    assert.equal(res.exitReason, 'cost_limit');
    assert.equal(res.steps.length, 1);
    assert.ok(res.costUsd >= 0.1 && res.steps[0]!.cost_usd === res.costUsd);
  });

  test('format_errors: unknown tool, bad JSON, missing args each get an error observation', async () => {
    setScript(
      (_r, i) =>
        [
          { kind: 'reply', content: 'a', toolCalls: [call('grep', { pattern: 'x' })] },
          { kind: 'reply', content: 'b', toolCalls: [call('bash', '{"command": ')] },
          { kind: 'reply', content: 'c', toolCalls: [call('str_replace_editor', { command: 'view' })] },
        ][i] as FakeAction
    );
    const rt = new FakeRuntime();
    const res = await run(policy(), rt, {});
    assert.equal(res.exitReason, 'format_errors');
    assert.equal(res.steps.length, 3);
    assert.equal(rt.calls.length, 0);
    const obs = res.messages.filter((m) => m.role === 'tool').map((m) => m.content!);
    assert.match(obs[0]!, /ERROR: unknown tool 'grep'/);
    assert.match(obs[1]!, /not valid JSON/);
    assert.match(obs[2]!, /missing required argument\(s\): path/);
  });

  test('format errors are consecutive: a good step resets; a reply with no tool call counts', async () => {
    setScript(
      (_r, i) =>
        (i === 1
          ? { kind: 'reply', content: 'ok', toolCalls: [call('bash', { command: 'ls' })] }
          : { kind: 'reply', content: 'I think the answer is 42.' }) as FakeAction
    );
    const res = await run(policy(), new FakeRuntime(), { limits: { ...LIMITS, maxFormatErrors: 2 } });
    assert.equal(res.exitReason, 'format_errors');
    assert.equal(res.steps.length, 4);
    assert.equal(res.steps[1]!.format_error, undefined);
    assert.equal(res.steps[3]!.format_error, 'no tool call');
    assert.match(res.messages.at(-1)!.content!, /did not contain any tool call/);
  });

  test('model_error: a 500 that outlasts the retries', async () => {
    const before = llm.chatRequests.length;
    setScript(() => ({ kind: 'status', status: 500 }));
    const res = await run(policy(), new FakeRuntime());
    assert.equal(res.exitReason, 'model_error');
    assert.match(res.exitDetail, /HTTP 500/);
    assert.equal(llm.chatRequests.length - before, 2);
    assert.equal(res.steps.length, 0);
  });

  test('env_error: the runtime throws', async () => {
    setScript(() => ({
      kind: 'reply',
      content: 'x',
      toolCalls: [call('bash', { command: 'ls' }, 'a'), call('submit', {}, 'b')],
    }));
    const rt = new FakeRuntime();
    rt.bash = () => {
      throw new Error('container exited (137)');
    };
    const res = await run(policy(), rt);
    assert.equal(res.exitReason, 'env_error');
    assert.match(res.exitDetail, /container exited/);
    const tools = res.messages.filter((m) => m.role === 'tool');
    assert.equal(tools.length, 2);
    assert.match(tools[1]!.content!, /Not executed/);
    assert.equal(res.finalPatch, null);
  });
});

describe('xml tool mode', () => {
  test('parseXmlFunctionCalls: multi-line values, several calls, surrounding text', () => {
    const text = [
      'Let me edit.',
      '<function=str_replace_editor>',
      '<parameter=command>',
      'str_replace',
      '</parameter>',
      '<parameter=old_str>',
      'def f():',
      '    return 1',
      '</parameter>',
      '<parameter=new_str>def f():\n    return 2\n</parameter>',
      '</function>',
      'and then',
      '<function=submit>\n</function>',
    ].join('\n');
    const r = parseXmlFunctionCalls(text);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.calls, [
      {
        name: 'str_replace_editor',
        arguments: { command: 'str_replace', old_str: 'def f():\n    return 1', new_str: 'def f():\n    return 2' },
      },
      { name: 'submit', arguments: {} },
    ]);
    assert.deepEqual(parseXmlFunctionCalls('no calls here'), { calls: [] });
  });

  test('parseXmlFunctionCalls: garbage is a format error', () => {
    for (const bad of [
      '<function=bash><parameter=command>ls</function>',
      '<function=bash><parameter=command>ls</parameter>',
      '<function=bash>ls</function>',
      '<function=><parameter=command>ls</parameter></function>',
      '<function=bash><parameter=command>a</parameter><parameter=command>b</parameter></function>',
      'text </parameter> more',
    ])
      assert.ok(parseXmlFunctionCalls(bad).error, bad);
  });

  test('a full loop in xml mode: tools in the prompt, observations as user messages, typed args', async () => {
    const start = llm.chatRequests.length;
    setScript(
      (_r, i) =>
        (
          [
            {
              kind: 'reply',
              content:
                'Viewing.\n<function=str_replace_editor>\n<parameter=command>\nview\n</parameter>\n<parameter=path>\n/testbed/a.py\n</parameter>\n<parameter=view_range>\n[1, 2]\n</parameter>\n</function>',
            },
            { kind: 'reply', content: '<function=bash><parameter=command>ls</parameter>' },
            { kind: 'reply', content: 'Done.\n<function=submit>\n</function>' },
          ] as FakeAction[]
        )[i]
    );
    const rt = new FakeRuntime({ '/testbed/a.py': 'x = 1\n' });
    const res = await run(policy({ toolMode: 'xml' }), rt);
    assert.equal(res.exitReason, 'submitted');
    assert.equal(res.steps.length, 3);
    assert.deepEqual(rt.calls[0]!.arguments, { command: 'view', path: '/testbed/a.py', view_range: [1, 2] });
    assert.match(res.steps[1]!.format_error!, /malformed|unclosed/);
    const reqs = llm.chatRequests.slice(start);
    assert.equal(reqs.length, 3);
    const body = reqs[2]!.body!;
    assert.equal(body.tools, undefined);
    assert.match(body.messages![0]!.content!, /<function=FUNCTION_NAME>/);
    assert.match(body.messages![0]!.content!, /str_replace_editor/);
    assert.deepEqual(
      body.messages!.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant', 'user']
    );
    assert.match(body.messages![3]!.content!, /^OBSERVATION:\nHere's the result.*\n\s+1\tx = 1/);
  });
});

const DUP_BLOCK = 'def f():\n    x = 1\n    y = 2\n    z = 3\n    w = 4\n    v = 5\n    return x\n\n';

describe('replay-gold policy', () => {
  let dir: string;
  const git = (...args: string[]): string =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, encoding: 'utf8' });
  const BASE: Record<string, string> = {
    'pkg/ops.py': [
      '"""Ops."""',
      '',
      'def add(a, b):',
      '    return a - b',
      '',
      ...Array.from({ length: 20 }, (_, i) => `# filler ${i}`),
      '',
      'def mul(a, b):',
      '    return a / b',
      '',
    ].join('\n'),
    'pkg/old.py': 'OLD = 1\n',
    'pkg/tail.txt': 'no newline at end',
    'pkg/empty.txt': '',
    'README.md': 'readme\n',
    // Two identical blocks: a hunk in the second one is ambiguous with git's 3 context lines.
    'pkg/dup.py': `# head\n${DUP_BLOCK}# middle\n${DUP_BLOCK}# tail\n`,
  };
  const FIX: Record<string, string | null> = {
    'pkg/dup.py': `# head\n${DUP_BLOCK}# middle\n${DUP_BLOCK.replace('    z = 3', '    z = 30')}# tail\n`,
    'pkg/ops.py': BASE['pkg/ops.py']!.replace('a - b', 'a + b').replace('a / b', 'a * b'),
    'pkg/old.py': null,
    'pkg/tail.txt': 'no newline at end\nnow there is one\n',
    'pkg/empty.txt': 'filled\n',
    'pkg/new_mod.py': 'def new():\n    return "new"\n',
  };
  let patch = '';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bottega-gold-'));
    git('init', '-q');
    for (const [p, t] of Object.entries(BASE)) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), t);
    }
    git('add', '-A');
    git('commit', '-qm', 'base');
    for (const [p, t] of Object.entries(FIX)) {
      if (t === null) unlinkSync(join(dir, p));
      else writeFileSync(join(dir, p), t);
    }
    git('add', '-A');
    patch = git('diff', '--cached', '--no-color', '--full-index');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const goldTask = (): Parameters<typeof replayGoldPolicy>[0]['task'] => ({
    patch,
    FAIL_TO_PASS: ['tests/test_ops.py::test_add', 'test_one (tests.test_x.T.test_one)'],
    test_cmd: 'python3 -m pytest -rA',
  });
  const baseRuntime = (): FakeRuntime =>
    new FakeRuntime(Object.fromEntries(Object.entries(BASE).map(([p, t]) => [`/testbed/${p}`, t])));
  const expected = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const p of [...Object.keys(BASE), ...Object.keys(FIX)]) {
      const t = p in FIX ? FIX[p] : BASE[p];
      if (t !== null && t !== undefined) out[`/testbed/${p}`] = t;
    }
    return out;
  };

  test('parses the git diff (modified, deleted, new, no-newline, empty files)', () => {
    const files = parseUnifiedDiff(patch);
    const by = Object.fromEntries(files.map((f) => [f.newPath, f]));
    assert.equal(files.length, 6);
    assert.ok(by['pkg/old.py']!.isDeleted);
    assert.ok(by['pkg/new_mod.py']!.isNew);
    assert.equal(by['pkg/ops.py']!.hunks.length, 2);
    assert.ok(by['pkg/tail.txt']!.hunks[0]!.lines.some((l) => l.noNewline));
  });

  test('reproduces the gold file contents exactly through the tools', async () => {
    const rt = baseRuntime();
    const res = await runAgent({
      policy: replayGoldPolicy({ task: goldTask() }),
      runtime: rt,
      task: TASK,
      limits: LIMITS,
      tokenizer,
    });
    assert.equal(res.exitReason, 'submitted');
    assert.deepEqual(Object.fromEntries(rt.files), expected());
    const seq = rt.calls.map((c) => `${c.name}:${String(c.arguments.command).split(' ')[0]}`);
    assert.deepEqual(seq, [
      'str_replace_editor:view', // dup.py, old.py, ops.py, tail.txt, empty.txt (diff order)
      'str_replace_editor:view',
      'str_replace_editor:view',
      'str_replace_editor:view',
      'str_replace_editor:view',
      'bash:cd',
      ...seq.slice(6, -2),
      'bash:cd',
      'submit:undefined',
    ]);
    const testCmd = String(rt.calls[5]!.arguments.command);
    assert.equal(testCmd, 'cd /testbed && python3 -m pytest -rA tests/test_ops.py::test_add tests.test_x.T.test_one');
    assert.ok(
      res.messages.filter((m) => m.role === 'tool').every((m) => !/found \d+ times|does not exist/.test(m.content!))
    );
  });

  test('widens an ambiguous hunk with lines from the viewed file until it is unique', () => {
    const dup = parseUnifiedDiff(patch).find((f) => f.newPath === 'pkg/dup.py')!;
    const base = BASE['pkg/dup.py']!;
    const plain = planGoldCalls(goldTask(), '/testbed').find(
      (c) => c.arguments.command === 'str_replace' && c.arguments.path === '/testbed/pkg/dup.py'
    )!;
    assert.equal(base.split(String(plain.arguments.old_str)).length - 1, 2);
    const widened = planGoldCalls(goldTask(), '/testbed', new Map([['/testbed/pkg/dup.py', base]])).find(
      (c) => c.arguments.command === 'str_replace' && c.arguments.path === '/testbed/pkg/dup.py'
    )!;
    assert.equal(base.split(String(widened.arguments.old_str)).length - 1, 1);
    assert.equal(base.replace(String(widened.arguments.old_str), String(widened.arguments.new_str)), FIX['pkg/dup.py']);
    assert.equal(dup.hunks.length, 1);
  });

  test('is stateless over the conversation: a resumed rollout ends the same', async () => {
    const rt = baseRuntime();
    const p = replayGoldPolicy({ task: goldTask() });
    const first = await runAgent({ policy: p, runtime: rt, task: TASK, limits: { ...LIMITS, maxSteps: 6 }, tokenizer });
    assert.equal(first.exitReason, 'step_limit');
    const second = await runAgent({
      policy: replayGoldPolicy({ task: goldTask() }),
      runtime: rt,
      task: TASK,
      limits: LIMITS,
      tokenizer,
      resume: { messages: first.messages, steps: first.steps },
    });
    assert.equal(second.exitReason, 'submitted');
    assert.equal(second.steps.length, planGoldCalls(goldTask(), '/testbed').length);
    assert.deepEqual(Object.fromEntries(rt.files), expected());
  });

  test('a build fixture task (acme__calc-1) replays onto its base file', async () => {
    const { makeBuildFixtures } = await import('../../infra/fixtures/make-build-repos');
    const out = mkdtempSync(join(tmpdir(), 'bottega-gold-fx-'));
    try {
      const fx = await makeBuildFixtures(out);
      const t = fx.tasks.find((x) => x.instance_id === 'acme__calc-1')!;
      const repoPath = fx.repos.find((r) => r.repo === t.repo)?.path ?? join(out, 'acme-calc');
      const show = (rev: string, p: string): string =>
        execFileSync('git', ['show', `${rev}:${p}`], { cwd: repoPath, encoding: 'utf8' });
      const rt = new FakeRuntime();
      for (const f of parseUnifiedDiff(t.patch)) rt.files.set(`/testbed/${f.oldPath}`, show(t.base_commit, f.oldPath));
      const res = await runAgent({
        policy: replayGoldPolicy({
          task: {
            patch: t.patch,
            FAIL_TO_PASS: t.expected.FAIL_TO_PASS ?? [],
            test_cmd: String(t.install_config.test_cmd),
          },
        }),
        runtime: rt,
        task: { instance_id: t.instance_id, problem_statement: t.problem_statement },
        limits: LIMITS,
        tokenizer,
      });
      assert.equal(res.exitReason, 'submitted');
      assert.match(readFileSync(join(repoPath, '.git', 'HEAD'), 'utf8'), /ref:/);
      for (const f of parseUnifiedDiff(t.patch)) assert.match(rt.files.get(`/testbed/${f.newPath}`)!, /return a \+ b/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
