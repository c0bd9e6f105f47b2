/**
 * Rollout → training text, as the daVinci-Dev released utilities (`env_traj_utils/`, paper §4) do:
 *
 * - every OpenAI `tool_calls` entry becomes XML function-call text inside the assistant turn:
 *   `<function=NAME>\n<parameter=ARG>\nVALUE\n</parameter>\n</function>`, one `<parameter>` per
 *   JSON argument (strings verbatim, anything else as compact JSON); arguments that are not a JSON
 *   object are kept verbatim in a single `<parameter=arguments>` and counted in `invalidArguments`;
 * - `reasoning_content` becomes `<think>\n…\n</think>` ahead of the content and calls;
 * - `tool` messages become `user` turns (their text verbatim, one turn per message);
 * - the system prompt can be replaced (`systemPromptOverride`, typically built with
 *   {@link XML_TOOLS_SYSTEM_PROMPT}) by one that describes the tools in XML form.
 *
 * Chat template (the paper does not state one, §10): Qwen's ChatML, each message rendered as
 * `<|im_start|>ROLE\nCONTENT<|im_end|>\n`, no BOS, no trailing generation prompt. Inside an
 * assistant turn the parts (think block, content, each call) are joined by a blank line, the way
 * Qwen3-Coder's template separates content from calls (we omit its `<tool_call>` wrapper, as the
 * paper's example does). Nothing is stripped or trimmed: message text is rendered verbatim.
 *
 * `spans` are the character ranges of each message's rendered CONTENT (not its `<|im_start|>role\n`
 * header nor `<|im_end|>`), with the message's original role, so SFT can mask user and tool text.
 */
import type { TrajectoryMessage, TrajectoryRole, TrajectoryToolCall } from '../../../contracts/trajectory';

export interface TextSpan {
  role: TrajectoryRole;
  /** UTF-16 offsets into `text`, end exclusive. */
  start: number;
  end: number;
}

export interface TrainingText {
  text: string;
  spans: TextSpan[];
  /** Tool calls rendered, and how many of them had arguments that are not a JSON object. */
  toolCalls: number;
  invalidArguments: number;
}

export interface ToTextOptions {
  /** Replaces the system message's content (a system message is prepended when there is none). */
  systemPromptOverride?: string;
}

const IM_START = '<|im_start|>';
const IM_END = '<|im_end|>';

/** Renders one call as XML function-call text; `invalid` when its arguments are not a JSON object. */
export function renderToolCall(call: TrajectoryToolCall): { text: string; invalid: boolean } {
  const { name, arguments: raw } = call.function;
  let args: unknown;
  try {
    args = JSON.parse(raw);
  } catch {
    args = undefined;
  }
  const params: [string, string][] = [];
  const invalid = typeof args !== 'object' || args === null || Array.isArray(args);
  if (invalid) {
    params.push(['arguments', raw]);
  } else {
    for (const [k, v] of Object.entries(args as Record<string, unknown>))
      params.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  const body = params.map(([k, v]) => `<parameter=${k}>\n${v}\n</parameter>\n`).join('');
  return { text: `<function=${name}>\n${body}</function>`, invalid };
}

/** The content of an assistant turn: think block, content, then each call, separated by blank lines. */
function assistantContent(m: Extract<TrajectoryMessage, { role: 'assistant' }>): {
  text: string;
  calls: number;
  invalid: number;
} {
  const parts: string[] = [];
  if (m.reasoning_content) parts.push(`<think>\n${m.reasoning_content}\n</think>`);
  if (m.content) parts.push(m.content);
  let invalid = 0;
  for (const c of m.tool_calls ?? []) {
    const r = renderToolCall(c);
    parts.push(r.text);
    if (r.invalid) invalid++;
  }
  return { text: parts.join('\n\n'), calls: m.tool_calls?.length ?? 0, invalid };
}

/** Renders `messages` as one ChatML training text with per-message content spans. */
export function trajectoryToTrainingText(messages: TrajectoryMessage[], opts: ToTextOptions = {}): TrainingText {
  let msgs = messages;
  if (opts.systemPromptOverride !== undefined) {
    const sys: TrajectoryMessage = { role: 'system', content: opts.systemPromptOverride };
    msgs = msgs[0]?.role === 'system' ? [sys, ...msgs.slice(1)] : [sys, ...msgs];
  }
  let text = '';
  const spans: TextSpan[] = [];
  let toolCalls = 0;
  let invalidArguments = 0;
  for (const m of msgs) {
    let content: string;
    if (m.role === 'assistant') {
      const a = assistantContent(m);
      content = a.text;
      toolCalls += a.calls;
      invalidArguments += a.invalid;
    } else {
      content = m.content;
    }
    const shownRole = m.role === 'tool' ? 'user' : m.role;
    text += `${IM_START}${shownRole}\n`;
    spans.push({ role: m.role, start: text.length, end: text.length + content.length });
    text += `${content}${IM_END}\n`;
  }
  return { text, spans, toolCalls, invalidArguments };
}

// ---------------------------------------------------------------------------------------------

/** An OpenAI tool definition (`tools` entry of a chat completion request). */
export interface OpenAiToolDef {
  type: 'function';
  function: {
    name: string;
    description?: string;
    parameters?: {
      type?: string;
      properties?: Record<string, { type?: string; description?: string; enum?: unknown[] } & Record<string, unknown>>;
      required?: string[];
    };
  };
}

/**
 * A system-prompt section that describes `tools` in XML form and the XML call format (shape of
 * Qwen3-Coder's template). Append it to (or use it as) the scaffold's system prompt and pass the
 * result as `systemPromptOverride`.
 */
export function XML_TOOLS_SYSTEM_PROMPT(tools: OpenAiToolDef[]): string {
  const fns = tools.map((t) => {
    const f = t.function;
    const lines = ['<function>', `<name>${f.name}</name>`];
    if (f.description) lines.push(`<description>${f.description.trim()}</description>`);
    lines.push('<parameters>');
    for (const [pname, p] of Object.entries(f.parameters?.properties ?? {})) {
      lines.push('<parameter>', `<name>${pname}</name>`);
      if (p.type) lines.push(`<type>${p.type}</type>`);
      if (p.description) lines.push(`<description>${p.description.trim()}</description>`);
      if (p.enum) lines.push(`<enum>${JSON.stringify(p.enum)}</enum>`);
      lines.push('</parameter>');
    }
    if (f.parameters?.required?.length) lines.push(`<required>${JSON.stringify(f.parameters.required)}</required>`);
    lines.push('</parameters>', '</function>');
    return lines.join('\n');
  });
  return [
    '# Tools',
    '',
    'You have access to the following functions:',
    '',
    '<tools>',
    ...fns,
    '</tools>',
    '',
    'If you choose to call a function ONLY reply in the following format with NO suffix:',
    '',
    '<function=example_function_name>',
    '<parameter=example_parameter_1>',
    'value_1',
    '</parameter>',
    '<parameter=example_parameter_2>',
    'This is the value for the second parameter',
    'that can span',
    'multiple lines',
    '</parameter>',
    '</function>',
    '',
    'Rules:',
    '- Write any reasoning before the call; nothing may follow the closing </function>.',
    '- Give every required parameter; put each value between its <parameter=...> lines exactly as it should be passed.',
    '- When no function fits, answer in plain text.',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

/** The subset of `Tokenizer` (activities/mine/tokenizer.ts) the mask needs. */
export interface Encoder {
  encode(text: string): number[];
}

export interface TokenMask {
  /** Token ids of `text`; always equal to `tokenizer.encode(text)`. */
  ids: number[];
  /** 1 where the token is trained on (assistant content, and its `<|im_end|>` unless disabled), 0 elsewhere; same length as `ids`. */
  mask: number[];
  /**
   * Boundaries between a masked and a trained segment where tokenizing the two sides separately
   * would have merged differently (a pre-token spanning the boundary, e.g. `\n` of the header
   * followed by content that starts with whitespace and a newline). The straddling token is
   * labelled as the right-hand side.
   */
  boundaryMerges: number;
}

export interface MaskOptions {
  /**
   * Also train on the `<|im_end|>` that closes each assistant turn (default true), so the model
   * learns to end its turn; the `\n` after it and all headers stay 0.
   */
  trainEndOfTurn?: boolean;
}

/**
 * Per-token loss mask (1 = assistant content) of `text`, computed span by span: the text is cut
 * into maximal runs of equal label (assistant-span characters, plus the `<|im_end|>` closing them
 * when `trainEndOfTurn`, are 1; everything else, headers included, is 0) and each run is tokenized on its own. ChatML makes this exact in
 * practice: a run always ends at, or is followed by, the special token `<|im_end|>` or follows the
 * `\n` of a header, and added tokens are split out before pre-tokenization. When a run and its
 * predecessor DO tokenize differently together than apart, the pair is re-tokenized jointly, the
 * tokens in the common prefix with the left side keep its label and the rest take the right side's
 * label (counted in `boundaryMerges`). The result is checked against `encode(text)`.
 */
export function spansToTokenMask(
  text: string,
  spans: TextSpan[],
  tokenizer: Encoder,
  opts: MaskOptions = {}
): TokenMask {
  const eot = opts.trainEndOfTurn ?? true;
  const cuts: { at: number; label: number }[] = [];
  const sorted = spans
    .filter((s) => s.role === 'assistant')
    .map((s) => ({ start: s.start, end: eot && text.startsWith(IM_END, s.end) ? s.end + IM_END.length : s.end }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let pos = 0;
  for (const s of sorted) {
    if (s.start < pos || s.end > text.length) throw new Error('spansToTokenMask: overlapping or out-of-range spans');
    if (s.start > pos) cuts.push({ at: pos, label: 0 });
    cuts.push({ at: s.start, label: 1 });
    pos = s.end;
  }
  if (pos < text.length || cuts.length === 0) cuts.push({ at: pos, label: 0 });
  const runs = cuts
    .map((c, i) => ({ text: text.slice(c.at, cuts[i + 1]?.at ?? text.length), label: c.label }))
    .filter((r) => r.text.length > 0);

  const ids: number[] = [];
  const mask: number[] = [];
  let boundaryMerges = 0;
  // current group: text tokenized jointly, its ids and labels (not yet flushed)
  let cur: { text: string; ids: number[]; mask: number[] } | null = null;
  const flush = (): void => {
    if (cur) {
      ids.push(...cur.ids);
      mask.push(...cur.mask);
    }
  };
  for (const r of runs) {
    const rIds = tokenizer.encode(r.text);
    if (cur === null) {
      cur = { text: r.text, ids: rIds, mask: rIds.map(() => r.label) };
      continue;
    }
    const joined = tokenizer.encode(cur.text + r.text);
    const apart = cur.ids.length + rIds.length === joined.length && sameIds(joined, cur.ids, rIds);
    if (apart) {
      flush();
      cur = { text: r.text, ids: rIds, mask: rIds.map(() => r.label) };
    } else {
      boundaryMerges++;
      let p = 0;
      while (p < cur.ids.length && p < joined.length && joined[p] === cur.ids[p]) p++;
      const merged: number[] = [...cur.mask.slice(0, p), ...joined.slice(p).map(() => r.label)];
      cur = { text: cur.text + r.text, ids: joined, mask: merged };
    }
  }
  flush();
  const whole = tokenizer.encode(text);
  if (whole.length !== ids.length || whole.some((id, i) => id !== ids[i]))
    throw new Error('spansToTokenMask: span-by-span tokenization does not reproduce encode(text)');
  return { ids, mask, boundaryMerges };
}

function sameIds(joined: number[], a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (joined[i] !== a[i]) return false;
  for (let i = 0; i < b.length; i++) if (joined[a.length + i] !== b[i]) return false;
  return true;
}
