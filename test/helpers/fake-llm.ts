/**
 * A scripted fake of an OpenAI-compatible server for tests (no real LLM can run here):
 * `POST /v1/chat/completions` and `GET /v1/models` on 127.0.0.1:<random port>.
 *
 * By default every request gets a deterministic reply derived from its messages. A `script`
 * function can turn any request into an HTTP error (with optional Retry-After), a hang (the
 * response never comes, to test timeouts), a dropped connection, or a custom reply. Every request
 * is recorded, and the server tracks the maximum number of requests in flight at once.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the fake received. */
export interface RecordedRequest {
  /** 0-based arrival index (over all paths). */
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (null for GET or invalid JSON). */
  body: ChatBody | null;
}

export interface ChatBody {
  model?: string;
  messages?: Array<{ role: string; content: string | null }>;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  [k: string]: unknown;
}

/** What to do with one chat request. */
export type FakeAction =
  | { kind: 'reply'; content?: string | null; finishReason?: string; toolCalls?: unknown[] }
  | { kind: 'status'; status: number; retryAfter?: string | number; body?: string }
  | { kind: 'hang' }
  | { kind: 'drop' }
  | { kind: 'raw'; status?: number; body: string };

export interface FakeLlmOptions {
  /** Decides per chat request; return undefined for the default reply. */
  script?: (req: RecordedRequest, chatIndex: number) => FakeAction | undefined;
  /** Replaces the default deterministic reply text. */
  reply?: (req: RecordedRequest) => string;
  /** Artificial latency before answering each chat request (ms), to make concurrency visible. */
  delayMs?: number;
  /** Model ids listed by /v1/models (default ['fake-model']). */
  models?: string[];
}

export interface FakeLlm {
  /** Base URL ending in /v1. */
  url: string;
  /** All requests, in arrival order. */
  requests: RecordedRequest[];
  /** Chat-completion requests only. */
  readonly chatRequests: RecordedRequest[];
  /** Requests being handled right now, and the maximum seen. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  close(): Promise<void>;
}

/** Deterministic default reply: a short sentence derived from the last user message. */
export function defaultFakeReply(body: ChatBody | null): string {
  const msgs = body?.messages ?? [];
  const last = [...msgs].reverse().find((m) => m.role === 'user')?.content ?? '';
  const h = createHash('sha256').update(JSON.stringify(msgs)).digest('hex').slice(0, 8);
  return `Fake reply ${h} to a ${last.length}-character prompt.`;
}

/** Starts the fake server; remember to `close()` it. */
export async function startFakeLlm(opts: FakeLlmOptions = {}): Promise<FakeLlm> {
  const requests: RecordedRequest[] = [];
  let chatCount = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: ChatBody | null = null;
      try {
        body = text ? (JSON.parse(text) as ChatBody) : null;
      } catch {
        body = null;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      const rec: RecordedRequest = {
        index: requests.length,
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        body,
      };
      requests.push(rec);

      if (req.method === 'GET' && path === '/v1/models') {
        return json(res, 200, {
          object: 'list',
          data: (opts.models ?? ['fake-model']).map((id) => ({ id, object: 'model', owned_by: 'fake' })),
        });
      }
      if (req.method !== 'POST' || path !== '/v1/chat/completions')
        return json(res, 404, { error: { message: `no route ${req.method} ${path}` } });
      if (!body || !Array.isArray(body.messages)) return json(res, 400, { error: { message: 'messages required' } });

      const action = opts.script?.(rec, chatCount++) ?? { kind: 'reply' };
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let done = false;
      const finish = (): void => {
        if (!done) {
          done = true;
          inFlight--;
        }
      };
      res.on('close', finish);

      const act = (): void => {
        switch (action.kind) {
          case 'hang':
            return; // never answer; the client's timeout (or close()) ends it
          case 'drop':
            req.socket.destroy();
            return;
          case 'status': {
            const headers: Record<string, string> = {};
            if (action.retryAfter !== undefined) headers['retry-after'] = String(action.retryAfter);
            return json(
              res,
              action.status,
              action.body ?? { error: { message: `injected ${action.status}` } },
              headers
            );
          }
          case 'raw':
            res.writeHead(action.status ?? 200, { 'content-type': 'application/json' });
            res.end(action.body);
            return;
          case 'reply': {
            const content =
              action.content !== undefined ? action.content : (opts.reply?.(rec) ?? defaultFakeReply(body));
            const promptChars = JSON.stringify(body?.messages ?? []).length;
            const completionTokens = Math.ceil((content?.length ?? 0) / 4);
            return json(res, 200, {
              id: `chatcmpl-fake-${rec.index}`,
              object: 'chat.completion',
              created: 0,
              model: body?.model ?? 'fake-model',
              choices: [
                {
                  index: 0,
                  message: {
                    role: 'assistant',
                    content,
                    ...(action.toolCalls ? { tool_calls: action.toolCalls } : {}),
                  },
                  finish_reason: action.finishReason ?? 'stop',
                },
              ],
              usage: {
                prompt_tokens: Math.ceil(promptChars / 4),
                completion_tokens: completionTokens,
                total_tokens: Math.ceil(promptChars / 4) + completionTokens,
              },
            });
          }
        }
      };
      if (opts.delayMs && action.kind !== 'hang') {
        const t = setTimeout(() => {
          timers.delete(t);
          act();
        }, opts.delayMs);
        timers.add(t);
      } else act();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get chatRequests() {
      return requests.filter((r) => r.path === '/v1/chat/completions');
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
