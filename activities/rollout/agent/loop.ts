/**
 * The rollout agent loop (SWE-agent style): system + instance prompt, then one model call per
 * step; every tool call of the reply runs through the {@link ToolRuntime} and its real output goes
 * back as a `tool` message; `submit` ends the rollout. Every rollout-level problem ends the run
 * with an exit reason instead of throwing:
 *
 * | exit reason     | when |
 * |-----------------|------|
 * | submitted       | a `submit` call returned `submitted` (its patch is `finalPatch`) |
 * | step_limit      | `maxSteps` model calls were made |
 * | context_limit   | the conversation (counted with the tokenizer before a model call) exceeds `maxTotalTokens` |
 * | time_limit      | `wallClockMs` elapsed (checked before each model call) |
 * | cost_limit      | the policy's reported cost reached `maxCostUsd` |
 * | format_errors   | `maxFormatErrors` consecutive steps with a malformed reply (no tool call, unknown tool, bad JSON, missing required args) |
 * | model_error     | the policy threw (the client has already retried) |
 * | env_error       | the tool runtime threw (e.g. the container died) |
 *
 * Only a failing `onStep` callback (the caller's own saving) propagates.
 */
import type { AgentToolCall, OpenAiTool, ToolRuntime } from '../tools/types';
import type { AgentMessage, Policy, PolicyUsage } from './policy';

export type AgentExitReason =
  | 'submitted'
  | 'step_limit'
  | 'context_limit'
  | 'time_limit'
  | 'cost_limit'
  | 'format_errors'
  | 'model_error'
  | 'env_error';

/** Version of the prompt templates below (bump on any text change). */
export const PROMPT_VERSION = 'swe-agent-v1';

export const SYSTEM_PROMPT = `You are a helpful assistant that can interact with a computer to solve tasks.
You are working in a repository checked out at {{working_dir}}. Use the provided tools to explore the code, run commands and edit files. Each reply must contain at least one tool call. When you are done, call the \`submit\` tool.`;

export const INSTANCE_PROMPT = `<uploaded_files>
{{working_dir}}
</uploaded_files>
I've uploaded a code repository in the directory {{working_dir}}. Consider the following issue description:

<issue_description>
{{problem_statement}}
</issue_description>

Can you help me implement the necessary changes to the repository so that the requirements specified in the <issue_description> are met?
I've already taken care of all changes to any of the test files described in the <issue_description>. This means you DON'T have to modify the testing logic or any of the tests in any way!
Your task is to make the minimal changes to non-test files in the {{working_dir}} directory to ensure the <issue_description> is satisfied.
Follow these steps to resolve the issue:
1. As a first step, it might be a good idea to find and read code relevant to the <issue_description>.
2. Create a script to reproduce the error and execute it with \`python <filename.py>\` using the bash tool, to confirm the error.
3. Edit the source code of the repo to resolve the issue.
4. Rerun your reproduce script and confirm that the error is fixed!
5. Think about edge cases and make sure your fix handles them as well.
6. When you are confident the issue is resolved, call \`submit\`.
Your thinking should be thorough and so it's fine if it's very long.`;

/** Observation sent back when a reply has no tool call at all. */
export const NO_TOOL_CALL_MESSAGE =
  'Your last reply did not contain any tool call. Every reply must call at least one tool; call `submit` when you are done.';

/** Fills `{{key}}` placeholders. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (all, k: string) => vars[k] ?? all);
}

export interface AgentLimits {
  /** Model calls (paper eval: 100). */
  maxSteps: number;
  /** Conversation size in tokens (e.g. 128k). */
  maxTotalTokens: number;
  wallClockMs: number;
  maxCostUsd?: number;
  /** Consecutive malformed steps tolerated (default 3). */
  maxFormatErrors?: number;
}

/** One assistant turn (field names match contracts/trajectory.ts's TrajectoryStep, plus extras). */
export interface AgentStep {
  /** Index of the assistant message in `messages`. */
  message_index: number;
  /** ISO time the step's model call started. */
  started_at: string;
  /** Model call latency. */
  duration_ms: number;
  /** Zeros when the server reported no usage. */
  usage: PolicyUsage;
  /** Time spent in this turn's tool calls, in total and per call (in call order). */
  tool_ms: number;
  tool_durations_ms: { tool_call_id: string; duration_ms: number }[];
  cost_usd?: number;
  /** Conversation tokens counted before the model call. */
  context_tokens: number;
  /** Set when the step was malformed (counted toward maxFormatErrors). */
  format_error?: string;
}

export interface RunAgentOptions {
  policy: Policy;
  runtime: ToolRuntime;
  task: { instance_id: string; problem_statement: string };
  limits: AgentLimits;
  tokenizer: { count(text: string): number };
  /** Called after each step (awaited) so the caller can save incrementally. */
  onStep?: (step: AgentStep, index: number, messages: readonly AgentMessage[]) => Promise<void>;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Repository path shown in the prompts (default /testbed). */
  workingDir?: string;
  /** Resume a saved rollout: its messages and steps so far (the prompts are not re-added). */
  resume?: { messages: AgentMessage[]; steps: AgentStep[]; elapsedMs?: number };
  /** Cancellation: checked before every step; once aborted, the run rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface AgentRunResult {
  instance_id: string;
  messages: AgentMessage[];
  steps: AgentStep[];
  exitReason: AgentExitReason;
  /** Human-readable detail for the exit (error message, limit hit). */
  exitDetail: string;
  finalPatch: string | null;
  /** Conversation tokens at the end (tool schemas and per-message overhead included). */
  tokens: number;
  /** Tokens of the final messages' text by role (content, reasoning and tool-call text). */
  tokensByRole: Record<AgentMessage['role'], number>;
  costUsd: number;
  policy: { name: string; model: string; seed?: number };
  promptVersion: string;
}

/**
 * Runs one rollout to its end. Never throws for a rollout-level problem; rejects with the
 * cancellation when `signal` aborts (a cancelled rollout has no exit reason of its own).
 */
export async function runAgent(o: RunAgentOptions): Promise<AgentRunResult> {
  const now = o.now ?? Date.now;
  const tools = o.runtime.tools;
  const maxFormatErrors = o.limits.maxFormatErrors ?? 3;
  const vars = { working_dir: o.workingDir ?? '/testbed', problem_statement: o.task.problem_statement };
  const messages: AgentMessage[] = o.resume
    ? [...o.resume.messages]
    : [
        { role: 'system', content: renderTemplate(SYSTEM_PROMPT, vars) },
        { role: 'user', content: renderTemplate(INSTANCE_PROMPT, vars) },
      ];
  const steps: AgentStep[] = o.resume ? [...o.resume.steps] : [];
  const start = now() - (o.resume?.elapsedMs ?? 0);
  let cost = steps.reduce((s, x) => s + (x.cost_usd ?? 0), 0);
  let formatErrors = 0;
  for (let i = steps.length - 1; i >= 0 && steps[i]!.format_error !== undefined; i--) formatErrors++;
  const toolsTokens = o.tokenizer.count(JSON.stringify(tools));
  const countTokens = (): number => toolsTokens + messages.reduce((s, m) => s + messageTokens(m, o.tokenizer), 0);

  const finish = (
    exitReason: AgentExitReason,
    exitDetail: string,
    finalPatch: string | null = null
  ): AgentRunResult => ({
    instance_id: o.task.instance_id,
    messages,
    steps,
    exitReason,
    exitDetail,
    finalPatch,
    tokens: countTokens(),
    tokensByRole: tokensByRole(messages, o.tokenizer),
    costUsd: cost,
    policy: {
      name: o.policy.name,
      model: o.policy.model,
      ...(o.policy.seed !== undefined ? { seed: o.policy.seed } : {}),
    },
    promptVersion: PROMPT_VERSION,
  });

  for (;;) {
    o.signal?.throwIfAborted();
    if (steps.length >= o.limits.maxSteps) return finish('step_limit', `${steps.length} steps`);
    const elapsed = now() - start;
    if (elapsed >= o.limits.wallClockMs) return finish('time_limit', `${elapsed} ms elapsed`);
    if (o.limits.maxCostUsd !== undefined && cost >= o.limits.maxCostUsd)
      return finish('cost_limit', `cost ${cost.toFixed(4)} USD`);
    const contextTokens = countTokens();
    if (contextTokens > o.limits.maxTotalTokens)
      return finish('context_limit', `${contextTokens} tokens > ${o.limits.maxTotalTokens}`);

    const t0 = now();
    let reply;
    try {
      reply = await o.policy.next(messages, tools);
    } catch (e) {
      o.signal?.throwIfAborted();
      return finish('model_error', errorText(e));
    }
    const modelMs = now() - t0;
    const message: AgentMessage = { ...reply.message, role: 'assistant' };
    const messageIndex = messages.length;
    messages.push(message);
    if (reply.costUsd !== undefined) cost += reply.costUsd;

    let toolMs = 0;
    const toolDurations: AgentStep['tool_durations_ms'] = [];
    let formatError: string | undefined = reply.formatError;
    let submitted: string | null = null;
    let envError: string | undefined;
    const calls = message.tool_calls ?? [];
    if (formatError !== undefined) {
      messages.push({ role: 'user', content: `Your last reply could not be parsed: ${formatError}` });
    } else if (calls.length === 0) {
      formatError = 'no tool call';
      messages.push({ role: 'user', content: NO_TOOL_CALL_MESSAGE });
    }
    for (const tc of calls) {
      if (submitted !== null || envError !== undefined) {
        messages.push(toolMessage(tc.id, 'Not executed: the rollout already ended.'));
        continue;
      }
      const checked = validateCall(tc, tools);
      if ('error' in checked) {
        formatError ??= checked.error;
        messages.push(toolMessage(tc.id, `ERROR: ${checked.error}`));
        continue;
      }
      const c0 = now();
      try {
        const res = await o.runtime.call(checked.call);
        messages.push(toolMessage(tc.id, res.output));
        if (res.submitted) submitted = res.submitted.patch;
      } catch (e) {
        // A cancelled tool call is not the environment's failure.
        o.signal?.throwIfAborted();
        envError = errorText(e);
        messages.push(toolMessage(tc.id, `ERROR: the environment failed: ${envError}`));
      } finally {
        const d = now() - c0;
        toolMs += d;
        toolDurations.push({ tool_call_id: tc.id, duration_ms: d });
      }
    }
    formatErrors = formatError !== undefined ? formatErrors + 1 : 0;

    const step: AgentStep = {
      message_index: messageIndex,
      started_at: new Date(t0).toISOString(),
      duration_ms: modelMs,
      usage: reply.usage ?? { prompt_tokens: 0, completion_tokens: 0 },
      tool_ms: toolMs,
      tool_durations_ms: toolDurations,
      context_tokens: contextTokens,
      ...(reply.costUsd !== undefined ? { cost_usd: reply.costUsd } : {}),
      ...(formatError !== undefined ? { format_error: formatError } : {}),
    };
    steps.push(step);
    await o.onStep?.(step, steps.length - 1, messages);

    if (envError !== undefined) return finish('env_error', envError);
    if (submitted !== null) return finish('submitted', 'submitted', submitted);
    if (formatErrors >= maxFormatErrors)
      return finish('format_errors', `${formatErrors} consecutive malformed replies (last: ${formatError ?? ''})`);
  }
}

/** A tool result message (no `name`: the trajectory schema and strict servers reject it). */
function toolMessage(id: string, content: string): AgentMessage {
  return { role: 'tool', tool_call_id: id, content };
}

function tokensByRole(messages: AgentMessage[], tok: { count(text: string): number }): AgentRunResult['tokensByRole'] {
  const out = { system: 0, user: 0, assistant: 0, tool: 0 };
  for (const m of messages) out[m.role] += messageTokens(m, tok) - 4;
  return out;
}

/** Checks a tool call against the tool list: known tool, JSON object arguments, required keys. */
export function validateCall(
  tc: { id: string; function: { name: string; arguments: string } },
  tools: OpenAiTool[]
): { call: AgentToolCall } | { error: string } {
  const name = tc.function.name;
  const tool = tools.find((t) => t.function.name === name);
  if (!tool)
    return { error: `unknown tool '${name}'; available tools: ${tools.map((t) => t.function.name).join(', ')}` };
  let args: unknown;
  const raw = tc.function.arguments;
  try {
    args = raw.trim() === '' ? {} : (JSON.parse(raw) as unknown);
  } catch (e) {
    return { error: `arguments of '${name}' are not valid JSON (${errorText(e)})` };
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    return { error: `arguments of '${name}' must be a JSON object` };
  const required = (tool.function.parameters as { required?: unknown }).required;
  const missing = Array.isArray(required)
    ? required.filter((k): k is string => typeof k === 'string' && !(k in args))
    : [];
  if (missing.length > 0) return { error: `'${name}' is missing required argument(s): ${missing.join(', ')}` };
  return { call: { id: tc.id, name, arguments: args as Record<string, unknown> } };
}

/** Token count of one message: content, tool calls and a small per-message overhead (chat template). */
function messageTokens(m: AgentMessage, tok: { count(text: string): number }): number {
  let n = 4;
  if (m.content) n += tok.count(m.content);
  if (m.reasoning_content) n += tok.count(m.reasoning_content);
  for (const tc of m.tool_calls ?? []) n += tok.count(tc.function.name) + tok.count(tc.function.arguments) + 4;
  return n;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
