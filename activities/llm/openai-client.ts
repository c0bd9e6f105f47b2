/**
 * A small client for OpenAI-compatible `POST {baseUrl}/chat/completions` endpoints (vLLM, SGLang,
 * OpenAI, ...) over global `fetch`. No SDK. Used by the mine stage's LLM enhancement and meant to
 * be reused by the rollout stage (tools / tool_choice / extra body fields pass through).
 *
 * Retries: HTTP 408/409/425/429/5xx, timeouts and network errors are retried with exponential
 * backoff (with jitter), honouring `Retry-After` (seconds or HTTP date) when the server sends it.
 * Other 4xx and malformed responses fail at once. Every failure is an {@link LlmError}.
 */

/** One chat message. `content` may be null on assistant messages that only carry tool calls. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content: string | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

/** A tool call as returned by the server (OpenAI shape). */
export interface ToolCall {
  id: string;
  type: 'function' | (string & {});
  function: { name: string; arguments: string };
}

/** Backoff policy. */
export interface RetryOptions {
  /** Total attempts including the first (default 4). */
  maxAttempts?: number;
  /** First backoff delay (default 1,000 ms); doubles each attempt. */
  baseDelayMs?: number;
  /** Cap on a computed backoff delay (default 30,000 ms). */
  maxDelayMs?: number;
  /** Cap on a server-sent Retry-After (default 120,000 ms); longer values are clamped. */
  maxRetryAfterMs?: number;
  /** Randomise each computed delay within [50%, 100%] (default true). Retry-After is not jittered. */
  jitter?: boolean;
}

export interface ChatCompletionRequest {
  /** Base URL ending in /v1 (a trailing slash is fine). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` only when non-empty. */
  apiKey?: string | undefined;
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Per-attempt timeout (default 120,000 ms). */
  timeoutMs?: number;
  /** Aborts the call (and any backoff wait) for good: not retried. */
  signal?: AbortSignal | undefined;
  stop?: string | string[];
  seed?: number;
  tools?: unknown[];
  toolChoice?: unknown;
  /** Extra top-level body fields (e.g. vLLM's `chat_template_kwargs`, `repetition_penalty`). */
  extraBody?: Record<string, unknown>;
  /** Extra request headers. */
  headers?: Record<string, string>;
  retry?: RetryOptions;
  /** Test hook: replaces global fetch. */
  fetchImpl?: typeof fetch;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ChatCompletionResult {
  /** First choice's message content (null when the model only returned tool calls). */
  content: string | null;
  usage: ChatUsage | null;
  /** `stop`, `length`, `tool_calls`, ... as the server reports it. */
  finishReason: string | null;
  toolCalls: ToolCall[];
  model: string | null;
  /** Attempts it took (1 = no retry). */
  attempts: number;
  /** The parsed response body. */
  raw: unknown;
}

export type LlmErrorKind = 'http' | 'timeout' | 'network' | 'aborted' | 'bad_response';

/** Failure of an LLM call, after retries when `retryable`. */
export class LlmError extends Error {
  override readonly name = 'LlmError';
  constructor(
    message: string,
    readonly kind: LlmErrorKind,
    /** HTTP status, null when no response arrived. */
    readonly status: number | null,
    /** Whether this failure class is worth retrying (true even when attempts ran out). */
    readonly retryable: boolean,
    /** Attempts made before giving up. */
    readonly attempts: number,
    /** Start of the response body, for diagnostics. */
    readonly body?: string,
    /** Retry-After the server asked for, in ms. */
    readonly retryAfterMs?: number
  ) {
    super(message);
  }

  /** Short stable label for counting failures: `http_429`, `timeout`, `network`, ... */
  get reason(): string {
    return this.kind === 'http' ? `http_${this.status}` : this.kind;
  }
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429]);

/** True for statuses retried by {@link chatCompletion}: 408, 409, 425, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status) || status >= 500;
}

/**
 * Parses a Retry-After header (delta-seconds or HTTP date) into milliseconds, or undefined.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** `POST {baseUrl}/chat/completions`, with retries; throws {@link LlmError}. */
export async function chatCompletion(req: ChatCompletionRequest): Promise<ChatCompletionResult> {
  const url = `${req.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const body: Record<string, unknown> = { model: req.model, messages: req.messages };
  if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop !== undefined) body.stop = req.stop;
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.tools !== undefined) body.tools = req.tools;
  if (req.toolChoice !== undefined) body.tool_choice = req.toolChoice;
  Object.assign(body, req.extraBody);
  const payload = JSON.stringify(body);

  const raw = await withRetries(req, async (signal) => {
    const res = await (req.fetchImpl ?? fetch)(url, {
      method: 'POST',
      headers: buildHeaders(req.apiKey, { 'content-type': 'application/json', ...req.headers }),
      body: payload,
      signal,
    });
    return readJson(res);
  });
  return parseCompletion(raw.json, raw.attempts);
}

/** `GET {baseUrl}/models`: the model ids the server serves (a cheap health check). */
export async function listModels(
  req: Pick<ChatCompletionRequest, 'baseUrl' | 'apiKey' | 'timeoutMs' | 'signal' | 'retry' | 'fetchImpl'>
): Promise<string[]> {
  const url = `${req.baseUrl.replace(/\/+$/, '')}/models`;
  const { json, attempts } = await withRetries(req, async (signal) =>
    readJson(await (req.fetchImpl ?? fetch)(url, { headers: buildHeaders(req.apiKey, {}), signal }))
  );
  const data = (json as { data?: Array<{ id?: unknown }> } | null)?.data;
  if (!Array.isArray(data))
    throw new LlmError('models response has no data array', 'bad_response', 200, false, attempts);
  return data.map((m) => String(m.id));
}

function buildHeaders(apiKey: string | undefined, base: Record<string, string>): Record<string, string> {
  return apiKey ? { ...base, authorization: `Bearer ${apiKey}` } : base;
}

/** Reads a response: JSON on 2xx, an LlmError otherwise. */
async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) {
    // OpenAI also sends the non-standard `retry-after-ms`; prefer it when present.
    const ms = Number(res.headers.get('retry-after-ms') ?? NaN);
    const retryAfterMs = Number.isFinite(ms) && ms >= 0 ? ms : parseRetryAfter(res.headers.get('retry-after'));
    throw new LlmError(
      `HTTP ${res.status}: ${text.slice(0, 300)}`,
      'http',
      res.status,
      isRetryableStatus(res.status),
      0,
      text.slice(0, 2000),
      retryAfterMs
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new LlmError(
      `response is not JSON: ${text.slice(0, 200)}`,
      'bad_response',
      res.status,
      false,
      0,
      text.slice(0, 2000)
    );
  }
}

function parseCompletion(json: unknown, attempts: number): ChatCompletionResult {
  const j = json as {
    choices?: Array<{ message?: { content?: unknown; tool_calls?: ToolCall[] }; finish_reason?: unknown }>;
    usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
    model?: unknown;
  } | null;
  const choice = j?.choices?.[0];
  if (!choice || typeof choice.message !== 'object' || choice.message === null)
    throw new LlmError(
      'response has no choices[0].message',
      'bad_response',
      200,
      false,
      attempts,
      JSON.stringify(json)?.slice(0, 2000)
    );
  const content = choice.message.content;
  const u = j?.usage;
  return {
    content: typeof content === 'string' ? content : null,
    usage: u
      ? {
          promptTokens: u.prompt_tokens ?? 0,
          completionTokens: u.completion_tokens ?? 0,
          totalTokens: u.total_tokens ?? (u.prompt_tokens ?? 0) + (u.completion_tokens ?? 0),
        }
      : null,
    finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
    toolCalls: Array.isArray(choice.message.tool_calls) ? choice.message.tool_calls : [],
    model: typeof j?.model === 'string' ? j.model : null,
    attempts,
    raw: json,
  };
}

/** Runs `attempt` with a per-attempt timeout, retrying retryable failures with backoff. */
async function withRetries(
  req: Pick<ChatCompletionRequest, 'timeoutMs' | 'signal' | 'retry'>,
  attempt: (signal: AbortSignal) => Promise<unknown>
): Promise<{ json: unknown; attempts: number }> {
  const maxAttempts = Math.max(1, req.retry?.maxAttempts ?? 4);
  const baseDelay = req.retry?.baseDelayMs ?? 1000;
  const maxDelay = req.retry?.maxDelayMs ?? 30_000;
  const maxRetryAfter = req.retry?.maxRetryAfterMs ?? 120_000;
  const jitter = req.retry?.jitter ?? true;
  const timeoutMs = req.timeoutMs ?? 120_000;
  for (let n = 1; ; n++) {
    if (req.signal?.aborted) throw new LlmError('aborted', 'aborted', null, false, n - 1);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    let err: LlmError;
    try {
      return { json: await attempt(signal), attempts: n };
    } catch (e) {
      err = classify(e, n, req.signal, timeout, timeoutMs);
    }
    if (!err.retryable || n >= maxAttempts) throw err;
    let delay = Math.min(maxDelay, baseDelay * 2 ** (n - 1));
    if (jitter) delay *= 0.5 + Math.random() * 0.5;
    if (err.retryAfterMs !== undefined) delay = Math.min(err.retryAfterMs, maxRetryAfter);
    await sleep(delay, req.signal);
  }
}

function classify(
  e: unknown,
  attempts: number,
  outer: AbortSignal | undefined,
  timeout: AbortSignal,
  timeoutMs: number
): LlmError {
  if (e instanceof LlmError) {
    return new LlmError(e.message, e.kind, e.status, e.retryable, attempts, e.body, e.retryAfterMs);
  }
  if (outer?.aborted) return new LlmError('aborted', 'aborted', null, false, attempts);
  if (timeout.aborted) return new LlmError(`timed out after ${timeoutMs} ms`, 'timeout', null, true, attempts);
  const msg = e instanceof Error ? `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}` : String(e);
  return new LlmError(`network error: ${msg}`, 'network', null, true, attempts);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LlmError('aborted', 'aborted', null, false, 0));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new LlmError('aborted', 'aborted', null, false, 0));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
