/**
 * Policies for the rollout agent loop: something that, given the conversation so far and the tool
 * list, produces the next assistant message.
 *
 * - {@link openaiPolicy}: a model behind an OpenAI-compatible endpoint (vLLM, SGLang, OpenAI...),
 *   either with native function calling (`toolMode: 'native'`) or, for models without it, with
 *   the tools described in the prompt and calls written as text (`toolMode: 'xml'`, the
 *   Qwen3-Coder / SWE-agent style `<function=NAME><parameter=KEY>value</parameter></function>`).
 * - {@link replayGoldPolicy}: a deterministic policy that solves a task from its gold patch through
 *   the same tools (for pipeline tests and as a reference trajectory); see replay-gold.ts.
 */
import { chatCompletion, type ChatMessage, type RetryOptions, type ToolCall } from '../../llm/openai-client';
import type { OpenAiTool } from '../tools/types';

/** One conversation message, in OpenAI chat shape. */
export interface AgentMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  name?: string;
  /** Reasoning text some servers return next to the content (vLLM `reasoning_content`). */
  reasoning_content?: string;
}

export interface PolicyUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** What a policy answers for one step. */
export interface PolicyReply {
  /** The assistant message (role 'assistant'). */
  message: AgentMessage;
  usage?: PolicyUsage;
  costUsd?: number;
  /**
   * Set when the reply could not be turned into tool calls (xml mode: malformed call text). The
   * loop sends it back as an error observation and counts a format error.
   */
  formatError?: string;
}

export interface Policy {
  readonly name: string;
  readonly model: string;
  /** Sampling seed, when one was requested (recorded in the trajectory). */
  readonly seed?: number;
  /** Throws on a model failure (after the client's retries); the loop ends with `model_error`. */
  next(messages: AgentMessage[], tools: OpenAiTool[]): Promise<PolicyReply>;
}

export interface OpenAiPolicyOptions {
  baseUrl: string;
  apiKey?: string;
  model: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  seed?: number;
  toolMode: 'native' | 'xml';
  /** USD per million tokens, to report `costUsd`. */
  pricing?: { inputPerMTok: number; outputPerMTok: number };
  retry?: RetryOptions;
  timeoutMs?: number;
  extraBody?: Record<string, unknown>;
}

/** A model behind an OpenAI-compatible chat-completions endpoint. */
export function openaiPolicy(o: OpenAiPolicyOptions): Policy {
  let xmlCallCounter = 0;
  return {
    name: `openai-${o.toolMode}`,
    model: o.model,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    async next(messages, tools) {
      const xml = o.toolMode === 'xml';
      const res = await chatCompletion({
        baseUrl: o.baseUrl,
        apiKey: o.apiKey,
        model: o.model,
        messages: xml ? toXmlConversation(messages, tools) : messages.map(toWire),
        temperature: o.temperature,
        topP: o.topP,
        maxTokens: o.maxTokens,
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(!xml && tools.length > 0 ? { tools } : {}),
        ...(o.retry ? { retry: o.retry } : {}),
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
        ...(o.extraBody ? { extraBody: o.extraBody } : {}),
      });
      const message: AgentMessage = { role: 'assistant', content: res.content };
      const reasoning = (res.raw as { choices?: Array<{ message?: { reasoning_content?: unknown } }> } | null)
        ?.choices?.[0]?.message?.reasoning_content;
      if (typeof reasoning === 'string' && reasoning !== '') message.reasoning_content = reasoning;
      let formatError: string | undefined;
      if (xml) {
        const parsed = parseXmlFunctionCalls(res.content ?? '');
        if (parsed.error !== undefined) formatError = parsed.error;
        else if (parsed.calls.length > 0)
          message.tool_calls = parsed.calls.map((c) => ({
            id: `call_xml_${++xmlCallCounter}`,
            type: 'function',
            function: { name: c.name, arguments: JSON.stringify(coerceArgs(c.arguments, tools, c.name)) },
          }));
      } else if (res.toolCalls.length > 0) {
        message.tool_calls = res.toolCalls;
      }
      const usage = res.usage
        ? { prompt_tokens: res.usage.promptTokens, completion_tokens: res.usage.completionTokens }
        : undefined;
      const costUsd =
        usage && o.pricing
          ? (usage.prompt_tokens * o.pricing.inputPerMTok + usage.completion_tokens * o.pricing.outputPerMTok) / 1e6
          : undefined;
      return {
        message,
        ...(usage ? { usage } : {}),
        ...(costUsd !== undefined ? { costUsd } : {}),
        ...(formatError !== undefined ? { formatError } : {}),
      };
    },
  };
}

/** The message as sent to the server (no reasoning_content). */
function toWire(m: AgentMessage): ChatMessage {
  const out: ChatMessage = { role: m.role, content: m.content };
  if (m.tool_calls) out.tool_calls = m.tool_calls;
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  // Strict servers reject `name` on tool messages; it is kept in the trajectory only.
  if (m.name !== undefined && m.role !== 'tool') out.name = m.name;
  return out;
}

/** Version of the xml-mode tool instructions (bump on any text change). */
export const XML_TOOL_PROMPT_VERSION = 'xml-tools-v1';

/** Tool instructions appended to the system prompt in xml mode. */
export function xmlToolInstructions(tools: OpenAiTool[]): string {
  const specs = tools.map((t) => {
    const params = (t.function.parameters as { properties?: Record<string, { type?: unknown; description?: unknown }> })
      .properties;
    const required = new Set((t.function.parameters as { required?: string[] }).required ?? []);
    const lines = Object.entries(params ?? {}).map(
      ([k, v]) =>
        `  - ${k} (${String(v.type ?? 'string')}${required.has(k) ? ', required' : ''}): ${String(v.description ?? '')}`
    );
    return `<function name="${t.function.name}">\n${t.function.description}\nParameters:\n${lines.join('\n') || '  (none)'}\n</function>`;
  });
  return [
    '# Tools',
    'You have access to the following functions:',
    specs.join('\n'),
    'To call a function, write it in this exact format (one or more calls per reply):',
    '<function=FUNCTION_NAME>\n<parameter=PARAMETER_NAME>\nvalue\n</parameter>\n</function>',
    'Values may span several lines. Write arrays and objects as JSON.',
  ].join('\n\n');
}

/** The conversation rewritten for a model without native tool calling. */
function toXmlConversation(messages: AgentMessage[], tools: OpenAiTool[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of messages) {
    if (m.role === 'system')
      out.push({ role: 'system', content: `${m.content ?? ''}\n\n${xmlToolInstructions(tools)}` });
    else if (m.role === 'tool') {
      const prev = out[out.length - 1];
      const text = `OBSERVATION:\n${m.content ?? ''}`;
      // Several results of one turn become one user message.
      if (prev && prev.role === 'user' && prev.content?.startsWith('OBSERVATION:'))
        prev.content = `${prev.content}\n\n${text}`;
      else out.push({ role: 'user', content: text });
    } else out.push({ role: m.role, content: m.content ?? '' });
  }
  return out;
}

export interface XmlFunctionCall {
  name: string;
  arguments: Record<string, string>;
}

/**
 * Parses `<function=NAME><parameter=KEY>value</parameter>...</function>` calls out of model text.
 * Values keep their inner text, minus one leading and one trailing newline (the format puts values
 * on their own lines). Text outside calls is ignored; malformed call text (unclosed tags, text
 * inside a function block outside parameters, duplicate parameters) gives `error`.
 */
export function parseXmlFunctionCalls(text: string): { calls: XmlFunctionCall[]; error?: string } {
  const calls: XmlFunctionCall[] = [];
  const fnRe = /<function=([^>\s]*)>([\s\S]*?)<\/function>/g;
  let consumed = '';
  let last = 0;
  for (let m = fnRe.exec(text); m; m = fnRe.exec(text)) {
    consumed += text.slice(last, m.index);
    last = fnRe.lastIndex;
    const name = m[1] ?? '';
    const body = m[2] ?? '';
    if (name === '') return { calls, error: 'a <function=...> tag has no function name' };
    const args: Record<string, string> = {};
    const pRe = /<parameter=([^>\s]*)>([\s\S]*?)<\/parameter>/g;
    let rest = '';
    let pLast = 0;
    for (let p = pRe.exec(body); p; p = pRe.exec(body)) {
      rest += body.slice(pLast, p.index);
      pLast = pRe.lastIndex;
      const key = p[1] ?? '';
      if (key === '') return { calls, error: `function ${name}: a <parameter=...> tag has no name` };
      if (key in args) return { calls, error: `function ${name}: parameter ${key} given twice` };
      args[key] = (p[2] ?? '').replace(/^\r?\n/, '').replace(/\r?\n$/, '');
    }
    rest += body.slice(pLast);
    if (/<\/?parameter/.test(rest)) return { calls, error: `function ${name}: unclosed or malformed <parameter> tag` };
    if (/<function=/.test(rest)) return { calls, error: `function ${name}: nested or unclosed <function> tag` };
    if (rest.trim() !== '')
      return {
        calls,
        error: `function ${name}: unexpected text outside <parameter> tags: ${rest.trim().slice(0, 80)}`,
      };
    calls.push({ name, arguments: args });
  }
  consumed += text.slice(last);
  if (/<function=|<\/function>|<parameter=|<\/parameter>/.test(consumed))
    return { calls, error: 'unclosed or malformed <function> / <parameter> tag' };
  return { calls };
}

/** Converts xml string arguments to the JSON types the tool's schema declares. */
function coerceArgs(args: Record<string, string>, tools: OpenAiTool[], name: string): Record<string, unknown> {
  const props =
    (
      tools.find((t) => t.function.name === name)?.function.parameters as
        | {
            properties?: Record<string, { type?: unknown }>;
          }
        | undefined
    )?.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    const type = props[k]?.type;
    const t = Array.isArray(type) ? type.find((x) => x !== 'null') : type;
    if ((t === 'integer' || t === 'number') && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) out[k] = Number(v);
    else if (t === 'boolean' && /^\s*(true|false)\s*$/i.test(v)) out[k] = v.trim().toLowerCase() === 'true';
    else if (t === 'array' || t === 'object') {
      try {
        out[k] = JSON.parse(v) as unknown;
      } catch {
        out[k] = v;
      }
    } else out[k] = v;
  }
  return out;
}
