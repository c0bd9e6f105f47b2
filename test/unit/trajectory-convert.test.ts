import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Trajectory, type TrajectoryMessage } from '../../contracts/trajectory';
import { getTokenizer, type Tokenizer } from '../../activities/mine/tokenizer';
import {
  XML_TOOLS_SYSTEM_PROMPT,
  renderToolCall,
  spansToTokenMask,
  trajectoryToTrainingText,
  type OpenAiToolDef,
} from '../../activities/rollout/convert/to-text';
import { mapExitStatus, readTrajectoryFile } from '../../activities/rollout/convert/readers';
import { gateTrajectories } from '../../activities/rollout/convert/length-gate';

const DIR = fileURLToPath(new URL('../fixtures/trajectories/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Byte-for-byte comparison with a golden file; `UPDATE_GOLDEN=1` rewrites it. */
function golden(file: string, actual: string): void {
  if (UPDATE) writeFileSync(`${DIR}${file}`, actual);
  assert.equal(actual, readFileSync(`${DIR}${file}`, 'utf8'), `golden ${file} differs (UPDATE_GOLDEN=1 regenerates)`);
}

const traj = Trajectory.parse(JSON.parse(readFileSync(`${DIR}handwritten.trajectory.json`, 'utf8')));
const tools = JSON.parse(readFileSync(`${DIR}sweagent-tools.json`, 'utf8')) as OpenAiToolDef[];
let tok: Tokenizer;

describe('trajectory → training text', () => {
  before(async () => {
    tok = await getTokenizer('qwen2.5');
  });

  it('renders the hand-written trajectory (golden)', () => {
    const r = trajectoryToTrainingText(traj.messages);
    golden('handwritten.txt', r.text);
    assert.equal(r.toolCalls, 3);
    assert.equal(r.invalidArguments, 0);
    assert.ok(r.text.includes('<function=bash>\n<parameter=command>\npytest -x tests/\n</parameter>\n</function>'));
    assert.ok(r.text.includes('<|im_start|>assistant\n<think>\nThe slug code'));
    assert.ok(!r.text.includes('<|im_start|>tool'));
    assert.equal(r.text.split('<|im_start|>user\n').length - 1, 3); // task + 2 tool observations
  });

  it('renders with the XML-tools system prompt (golden)', () => {
    const sys = `${traj.messages[0]!.content}\n\n${XML_TOOLS_SYSTEM_PROMPT(tools)}`;
    golden('xml-tools-system.txt', XML_TOOLS_SYSTEM_PROMPT(tools));
    const r = trajectoryToTrainingText(traj.messages, { systemPromptOverride: sys });
    golden('handwritten.xml-system.txt', r.text);
    assert.equal(r.spans[0]!.role, 'system');
    assert.equal(r.text.slice(r.spans[0]!.start, r.spans[0]!.end), sys);
    // prepended when there is no system message
    const noSys = trajectoryToTrainingText(traj.messages.slice(1), { systemPromptOverride: 'S' });
    assert.ok(noSys.text.startsWith('<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n'));
  });

  it('spans cover exactly each message content', () => {
    const r = trajectoryToTrainingText(traj.messages);
    assert.deepEqual(
      r.spans.map((s) => s.role),
      traj.messages.map((m) => m.role)
    );
    traj.messages.forEach((m, i) => {
      const s = r.spans[i]!;
      const content = r.text.slice(s.start, s.end);
      if (m.role !== 'assistant') assert.equal(content, m.content);
      const header = `<|im_start|>${m.role === 'tool' ? 'user' : m.role}\n`;
      assert.equal(r.text.slice(s.start - header.length, s.start), header);
      assert.equal(r.text.slice(s.end, s.end + 11), '<|im_end|>\n');
    });
    const editor = r.text.slice(r.spans[4]!.start, r.spans[4]!.end);
    assert.ok(editor.startsWith('<function=str_replace_editor>\n<parameter=command>\nstr_replace\n</parameter>\n'));
    assert.ok(editor.includes('<parameter=new_str>\ndef slugify(s):\n    words = s.lower().split()\n'));
  });

  it('keeps invalid JSON arguments verbatim in one parameter and counts them', () => {
    const bad = renderToolCall({ id: 'x', type: 'function', function: { name: 'bash', arguments: '{"command": "ls' } });
    assert.deepEqual(bad, {
      text: '<function=bash>\n<parameter=arguments>\n{"command": "ls\n</parameter>\n</function>',
      invalid: true,
    });
    const nonString = renderToolCall({
      id: 'y',
      type: 'function',
      function: { name: 'str_replace_editor', arguments: '{"command":"view","view_range":[1,20]}' },
    });
    assert.equal(nonString.invalid, false);
    assert.ok(nonString.text.includes('<parameter=view_range>\n[1,20]\n</parameter>'));
    const msgs: TrajectoryMessage[] = [
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'x', type: 'function', function: { name: 'bash', arguments: 'ls' } }],
      },
    ];
    assert.equal(trajectoryToTrainingText(msgs).invalidArguments, 1);
  });

  it('token mask: span-by-span ids equal encode(text); 1 exactly on assistant content', () => {
    const r = trajectoryToTrainingText(traj.messages);
    const { ids, mask, boundaryMerges } = spansToTokenMask(r.text, r.spans, tok);
    assert.deepEqual(ids, tok.encode(r.text));
    assert.equal(mask.length, ids.length);
    assert.equal(boundaryMerges, 0);
    const assistantText = r.spans.filter((s) => s.role === 'assistant').map((s) => r.text.slice(s.start, s.end));
    const expected = assistantText.reduce((n, t) => n + tok.count(t), 0);
    const turns = assistantText.length;
    assert.equal(
      mask.reduce((a, b) => a + b, 0),
      expected + turns // + each turn's <|im_end|>
    );
    const noEot = spansToTokenMask(r.text, r.spans, tok, { trainEndOfTurn: false });
    assert.equal(
      noEot.mask.reduce((a, b) => a + b, 0),
      expected
    );
    // every trained <|im_end|> closes an assistant turn
    mask.forEach((m, i) => {
      if (ids[i] === 151645) assert.equal(m, noEot.mask[i - 1]);
    });
    // the first trained token follows `<|im_start|>assistant\n`
    const first = mask.indexOf(1);
    assert.deepEqual(ids.slice(first - 3, first), tok.encode('<|im_start|>assistant\n'));
    assert.equal(ids[first - 1], tok.encode('\n')[0]);
  });

  it('token mask: a boundary merge is resolved and still reproduces encode(text)', () => {
    // assistant content starting with "\n" merges with the header's "\n" into one pre-token
    const msgs: TrajectoryMessage[] = [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '\nok' },
    ];
    const r = trajectoryToTrainingText(msgs);
    const { ids, mask, boundaryMerges } = spansToTokenMask(r.text, r.spans, tok);
    assert.deepEqual(ids, tok.encode(r.text));
    assert.equal(boundaryMerges, 1);
    // ... assistant, "\n\n" (header \n + content \n, straddling: trained), "ok", <|im_end|>, "\n"
    assert.deepEqual(ids.slice(-5), [77091, ...tok.encode('\n\nok'), 151645, 198]);
    assert.deepEqual(mask.slice(-5), [0, 1, 1, 1, 0]);
    assert.equal(mask.indexOf(1), ids.length - 4);
  });
});

describe('token mask on awkward contents', () => {
  it('always reproduces encode(text) and trains exactly the assistant tokens', async () => {
    const t = await getTokenizer('qwen2.5');
    const pieces = ['\n', ' \n\n', '  x', '\t', '', 'ok\n', '\r\nz', '日本語', '<think>', ' <|im_end|>', '\n\n\n'];
    let merges = 0;
    for (let seed = 0; seed < 200; seed++) {
      let x = seed + 1; // Park–Miller, exact in doubles
      const rnd = (n: number): number => {
        x = (x * 48271) % 2147483647;
        return x % n;
      };
      const pick = (): string => pieces[rnd(pieces.length)]! + pieces[rnd(pieces.length)]!;
      const msgs: TrajectoryMessage[] = [{ role: 'user', content: pick() }];
      for (let k = 0; k < 3; k++) {
        msgs.push({ role: 'assistant', content: pick() });
        msgs.push({ role: 'tool', tool_call_id: 'c', content: pick() });
      }
      const r = trajectoryToTrainingText(msgs);
      const m = spansToTokenMask(r.text, r.spans, t, { trainEndOfTurn: false });
      assert.deepEqual(m.ids, t.encode(r.text));
      merges += m.boundaryMerges;
      if (m.boundaryMerges === 0) {
        const want = r.spans
          .filter((s) => s.role === 'assistant')
          .reduce((n, s) => n + t.count(r.text.slice(s.start, s.end)), 0);
        assert.equal(
          m.mask.reduce((a, b) => a + b, 0),
          want
        );
      }
    }
    assert.ok(merges > 0);
  });
});

describe('trajectory readers', () => {
  it('reads a SWE-agent .traj (history with tool calls, demos skipped)', () => {
    const r = readTrajectoryFile(`${DIR}textkit__textkit-12.traj`);
    assert.equal(r.format, 'swe-agent');
    const t = r.trajectory;
    assert.equal(t.instance_id, 'textkit__textkit-12');
    assert.equal(t.policy, 'imported');
    assert.equal(t.model, 'openai/glm-4.6');
    assert.equal(t.exit_reason, 'submitted');
    assert.equal(r.autosubmitted, false);
    assert.ok(t.final_patch.startsWith('diff --git a/textkit/slug.py'));
    assert.deepEqual(
      t.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'tool', 'assistant', 'tool']
    );
    const a = t.messages[2]!;
    assert.ok(a.role === 'assistant' && a.tool_calls?.[0]?.function.name === 'bash');
    const tool = t.messages[3]!;
    assert.ok(tool.role === 'tool' && tool.tool_call_id === 'toolu_01');
    assert.ok(
      trajectoryToTrainingText(t.messages).text.includes('<parameter=command>\npytest -x tests/\n</parameter>')
    );
  });

  it('flags SWE-agent autosubmission and keeps the underlying limit', () => {
    const r = readTrajectoryFile(`${DIR}textkit__textkit-13.traj`);
    assert.equal(r.trajectory.exit_reason, 'cost_limit');
    assert.equal(r.autosubmitted, true);
    assert.equal(r.rawExitStatus, 'submitted (exit_cost)');
  });

  it('reads mini-swe-agent trajectories', () => {
    const r = readTrajectoryFile(`${DIR}textkit__textkit-12.traj.json`, { rollout_index: 2 });
    assert.equal(r.format, 'mini-swe-agent');
    assert.equal(r.trajectory.instance_id, 'textkit__textkit-12');
    assert.equal(r.trajectory.id, 'textkit__textkit-12:imported:2');
    assert.equal(r.trajectory.model, 'anthropic/claude-sonnet-4-20250514');
    assert.equal(r.trajectory.exit_reason, 'submitted');
    assert.equal(r.trajectory.messages.length, 5);
    const r2 = readTrajectoryFile(`${DIR}textkit__textkit-14.traj.json`);
    assert.equal(r2.trajectory.exit_reason, 'step_limit');
    assert.equal(r2.trajectory.final_patch, '');
  });

  it('maps exit statuses', () => {
    const cases: [string, string, boolean][] = [
      ['submitted', 'submitted', false],
      ['exit_cost', 'cost_limit', false],
      ['exit_context', 'context_limit', false],
      ['exit_format', 'format_errors', false],
      ['exit_api', 'model_error', false],
      ['exit_environment_error', 'env_error', false],
      ['submitted (exit_context)', 'context_limit', true],
      ['autosubmitted', 'step_limit', true],
      ['Submitted', 'submitted', false],
      ['LimitsExceeded', 'step_limit', false],
    ];
    for (const [raw, reason, auto] of cases) assert.deepEqual(mapExitStatus(raw), { reason, autosubmitted: auto }, raw);
    assert.throws(() => mapExitStatus('exit_banana'), /unknown exit status/);
  });
});

describe('length gate', () => {
  it('drops only trajectories over maxTokens and counts them', () => {
    const n = tok.count(trajectoryToTrainingText(traj.messages).text);
    const big = { messages: [...traj.messages, { role: 'user' as const, content: 'word '.repeat(200) }] };
    const res = gateTrajectories([traj, big, traj], tok, n);
    assert.equal(res.kept.length, 2);
    assert.equal(res.dropped.length, 1);
    assert.deepEqual(res.droppedBy, { too_long: 1 });
    assert.equal(res.kept[0]!.tokens, n); // boundary: exactly maxTokens is kept
    assert.ok(res.dropped[0]!.tokens > n);
    assert.equal(gateTrajectories([traj, big], tok).kept.length, 2); // 131072 default
  });
});
