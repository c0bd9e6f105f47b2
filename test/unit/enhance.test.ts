import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pLimit from 'p-limit';
import { EnhanceConfig } from '../../contracts/mine';
import { PrRecord } from '../../contracts/pr';
import {
  COMMIT_PATCH_MAX_CHARS,
  COMMIT_SYSTEM_PROMPT,
  ENHANCE_PROMPT_VERSION,
  SUMMARY_SYSTEM_PROMPT,
  cleanOutput,
  enhancePr,
} from '../../activities/mine/enhance';
import { chatCompletion, listModels, LlmError, parseRetryAfter } from '../../activities/llm/openai-client';
import { startFakeLlm, type FakeLlm, type RecordedRequest } from '../helpers/fake-llm';

const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 5, jitter: false };

function makePr(n: number, commits = 3): PrRecord {
  return PrRecord.parse({
    repo: 'acme/widgets',
    repo_description: 'Widgets for everyone',
    number: n,
    title: `Fix widget overflow ${n}`,
    body: 'Widgets overflowed when resized.',
    author: 'dev',
    state: 'closed',
    merged: true,
    created_at: '2024-01-01T00:00:00Z',
    base_sha: 'b'.repeat(40),
    head_sha: 'h'.repeat(40),
    linked_issues: [{ number: 7, title: 'Overflow on resize', body: 'Steps: resize the widget.' }],
    changed_files: [
      { path: 'widgets/core.py', status: 'modified' },
      { path: 'README.md', status: 'modified' },
    ],
    relevant_files: [{ path: 'widgets/core.py', content: 'def size():\n    return 1\n' }],
    commits: Array.from({ length: commits }, (_, i) => ({
      sha: `${n}${i}`.padEnd(40, '0'),
      parents: [],
      author: 'dev',
      authored_at: '2024-01-01T00:00:00Z',
      message: `commit ${n}.${i}`,
      diffs: [
        {
          path: 'widgets/core.py',
          status: 'modified',
          patch:
            `@@ -1,2 +1,2 @@\n def size():\n-    return ${i}\n+    return ${i + 1}\n` +
            (i === 0 ? '+' + 'x'.repeat(5000) + '\n' : ''),
        },
      ],
    })),
  });
}

function cfg(url: string, over: Partial<EnhanceConfig> = {}): EnhanceConfig {
  return EnhanceConfig.parse({
    enabled: true,
    endpoint: url,
    model: 'test-model',
    concurrency: 4,
    timeout_ms: 5_000,
    ...over,
  });
}

const userText = (r: RecordedRequest): string => r.body?.messages?.find((m) => m.role === 'user')?.content ?? '';
const isSummary = (r: RecordedRequest): boolean => r.body?.messages?.[0]?.content === SUMMARY_SYSTEM_PROMPT;
const originalMessage = (r: RecordedRequest): string =>
  /# Original Commit Message\n(.*)\n/.exec(userText(r))?.[1] ?? '';

/** Replies "SUMMARY" for the summary call and "Refined: <original>" for commit calls. */
const scriptedReply = (r: RecordedRequest): string =>
  isSummary(r)
    ? `Resolve widget overflow in ${/Title: (.*)/.exec(userText(r))?.[1]}.`
    : `Refined: ${originalMessage(r)}`;

void describe('enhancePr', () => {
  let fake: FakeLlm;
  after(async () => fake?.close());

  void it('fills the PR summary and every refined message (success path)', async () => {
    fake = await startFakeLlm({ reply: scriptedReply });
    const pr = makePr(1);
    const r = await enhancePr(pr, cfg(fake.url), { apiKey: undefined, retry: FAST_RETRY });
    assert.equal(r.calls, 4);
    assert.equal(r.failures, 0);
    assert.deepEqual(r.failureReasons, {});
    assert.equal(r.pr.pr_summary, 'Resolve widget overflow in Fix widget overflow 1.');
    assert.deepEqual(
      r.pr.commits.map((c) => c.refined_message),
      ['Refined: commit 1.0', 'Refined: commit 1.1', 'Refined: commit 1.2']
    );
    assert.deepEqual(
      r.pr.commits.map((c) => c.message),
      ['commit 1.0', 'commit 1.1', 'commit 1.2']
    );
    assert.equal(pr.pr_summary, null, 'input not mutated');

    const chats = fake.chatRequests;
    const summaryReq = chats.find(isSummary)!;
    assert.equal(summaryReq.body?.max_tokens, 512);
    assert.equal(summaryReq.body?.temperature, 0.7);
    assert.equal(summaryReq.body?.top_p, 0.9);
    assert.equal(summaryReq.body?.model, 'test-model');
    for (const needle of [
      'acme/widgets',
      'Widgets for everyone',
      'Fix widget overflow 1',
      'Overflow on resize',
      'widgets/core.py',
      'commit 1.2',
      '+    return 3',
    ])
      assert.ok(userText(summaryReq).includes(needle), needle);
    assert.ok(!userText(summaryReq).includes('README.md'), 'only Python files are listed');
    const commitReqs = chats.filter((c) => c.body?.messages?.[0]?.content === COMMIT_SYSTEM_PROMPT);
    assert.equal(commitReqs.length, 3);
    for (const c of commitReqs) {
      assert.equal(c.body?.max_tokens, 256);
      assert.ok(
        userText(c).includes('Resolve widget overflow in Fix widget overflow 1.'),
        'commit call gets the summary'
      );
    }
    // the 5,000-char line of commit 0 is cut to 2,000 chars
    const c0 = commitReqs.find((c) => originalMessage(c) === 'commit 1.0')!;
    assert.ok(!userText(c0).includes('x'.repeat(COMMIT_PATCH_MAX_CHARS)));
    assert.ok(userText(c0).includes('x'.repeat(COMMIT_PATCH_MAX_CHARS - 200)));
    assert.ok(
      userText(summaryReq).includes('x'.repeat(5000)),
      'the summary prompt keeps patches up to SUMMARY_PATCH_MAX_CHARS'
    );
    assert.match(ENHANCE_PROMPT_VERSION, /\S/);
    await fake.close();
  });

  void it('keeps the original message when a commit call fails after retries, and counts it', async () => {
    let throttled = false;
    fake = await startFakeLlm({
      reply: scriptedReply,
      script: (r) => {
        if (originalMessage(r) === 'commit 2.1') return { kind: 'status', status: 500 };
        if (originalMessage(r) === 'commit 2.2' && !throttled) {
          throttled = true;
          return { kind: 'status', status: 429, retryAfter: 0 };
        }
        return undefined;
      },
    });
    const r = await enhancePr(makePr(2), cfg(fake.url), {
      apiKey: undefined,
      retry: { ...FAST_RETRY, maxAttempts: 3 },
    });
    assert.equal(r.calls, 4);
    assert.equal(r.failures, 1);
    assert.deepEqual(r.failureReasons, { http_500: 1 });
    assert.equal(r.pr.commits[1]!.refined_message, null);
    assert.equal(r.pr.commits[1]!.message, 'commit 2.1');
    assert.equal(r.pr.commits[2]!.refined_message, 'Refined: commit 2.2', '429 then success');
    assert.ok(r.pr.pr_summary);
    assert.equal(
      fake.chatRequests.filter((q) => originalMessage(q) === 'commit 2.1').length,
      3,
      'retried up to maxAttempts'
    );
    assert.equal(fake.chatRequests.filter((q) => originalMessage(q) === 'commit 2.2').length, 2);
    await fake.close();
  });

  void it('a failed summary (timeout) stays null; commits still refined, with the title as fallback context', async () => {
    fake = await startFakeLlm({ reply: scriptedReply, script: (r) => (isSummary(r) ? { kind: 'hang' } : undefined) });
    const r = await enhancePr(makePr(3, 2), cfg(fake.url, { timeout_ms: 150 }), {
      apiKey: undefined,
      retry: { ...FAST_RETRY, maxAttempts: 2 },
    });
    assert.equal(r.pr.pr_summary, null);
    assert.deepEqual(r.failureReasons, { timeout: 1 });
    assert.deepEqual(
      r.pr.commits.map((c) => c.refined_message),
      ['Refined: commit 3.0', 'Refined: commit 3.1']
    );
    const commitReq = fake.chatRequests.find((q) => !isSummary(q))!;
    assert.ok(userText(commitReq).includes('(summary unavailable) Pull request title: Fix widget overflow 3'));
    await fake.close();
  });

  void it('counts empty and truncated answers as failures', async () => {
    fake = await startFakeLlm({
      script: (r) =>
        isSummary(r)
          ? { kind: 'reply', content: '   ' }
          : { kind: 'reply', content: 'cut off', finishReason: 'length' },
    });
    const r = await enhancePr(makePr(4, 1), cfg(fake.url), { apiKey: undefined, retry: FAST_RETRY });
    assert.deepEqual(r.failureReasons, { empty: 1, length: 1 });
    assert.equal(r.failures, 2);
    assert.equal(r.pr.pr_summary, null);
    assert.equal(r.pr.commits[0]!.refined_message, null);
    await fake.close();
  });

  void it('respects the concurrency bound, shared across PRs', async () => {
    fake = await startFakeLlm({ reply: scriptedReply, delayMs: 40 });
    const c = cfg(fake.url, { concurrency: 3 });
    const limit = pLimit(c.concurrency);
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) => enhancePr(makePr(10 + n, 5), c, { apiKey: undefined, limit, retry: FAST_RETRY }))
    );
    assert.equal(fake.chatRequests.length, 4 * 6);
    assert.equal(fake.maxInFlight, 3);
    assert.ok(results.every((r) => r.failures === 0 && r.pr.commits.every((x) => x.refined_message)));
    await fake.close();

    // without a shared limiter each PR uses its own pLimit(cfg.concurrency)
    fake = await startFakeLlm({ reply: scriptedReply, delayMs: 40 });
    await enhancePr(makePr(20, 8), cfg(fake.url, { concurrency: 2 }), { apiKey: undefined });
    assert.equal(fake.maxInFlight, 2);
    await fake.close();
  });

  void it('sends Authorization: Bearer only when an API key is given', async () => {
    fake = await startFakeLlm();
    await enhancePr(makePr(30, 1), cfg(fake.url), { apiKey: 'sk-test-123' });
    assert.ok(fake.chatRequests.length > 0);
    for (const q of fake.chatRequests) assert.equal(q.headers.authorization, 'Bearer sk-test-123');
    await fake.close();

    for (const apiKey of [undefined, '']) {
      fake = await startFakeLlm();
      await enhancePr(makePr(31, 1), cfg(fake.url), { apiKey });
      for (const q of fake.chatRequests) assert.equal(q.headers.authorization, undefined);
      await fake.close();
    }
  });

  void it('does nothing when disabled', async () => {
    const pr = makePr(40, 1);
    const r = await enhancePr(pr, EnhanceConfig.parse({}), { apiKey: undefined });
    assert.equal(r.calls, 0);
    assert.equal(r.pr, pr);
  });

  void it('cleans model output', () => {
    assert.equal(cleanOutput('<think>hmm</think>\n"Fix overflow"\n'), 'Fix overflow');
    assert.equal(
      cleanOutput('```\nAdd widget cache\n\nSpeeds up lookups.\n```'),
      'Add widget cache\n\nSpeeds up lookups.'
    );
  });
});

void describe('openai-client', () => {
  let fake: FakeLlm;
  before(async () => {
    fake = await startFakeLlm({ models: ['m1', 'm2'] });
  });
  after(async () => fake.close());

  void it('returns content, usage and finish reason; passes tools through', async () => {
    const r = await chatCompletion({
      baseUrl: fake.url + '/',
      model: 'm1',
      messages: [{ role: 'user', content: 'hi' }],
      maxTokens: 5,
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
      toolChoice: 'auto',
      extraBody: { chat_template_kwargs: { enable_thinking: false } },
    });
    assert.match(r.content ?? '', /^Fake reply [0-9a-f]{8}/);
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.attempts, 1);
    assert.ok(r.usage && r.usage.totalTokens === r.usage.promptTokens + r.usage.completionTokens);
    const body = fake.chatRequests.at(-1)!.body!;
    assert.equal(body.tool_choice, 'auto');
    assert.ok(Array.isArray(body.tools));
    assert.deepEqual(body.chat_template_kwargs, { enable_thinking: false });
    assert.deepEqual(await listModels({ baseUrl: fake.url }), ['m1', 'm2']);
  });

  void it('honours Retry-After on 429 and does not retry 400', async () => {
    const f = await startFakeLlm({
      script: (_r, i) =>
        i === 0
          ? { kind: 'status', status: 429, retryAfter: 1 }
          : i === 2
            ? { kind: 'status', status: 400 }
            : undefined,
    });
    try {
      const t0 = Date.now();
      const r = await chatCompletion({
        baseUrl: f.url,
        model: 'm',
        messages: [{ role: 'user', content: 'a' }],
        retry: { baseDelayMs: 1 },
      });
      assert.equal(r.attempts, 2);
      assert.ok(Date.now() - t0 >= 950, 'waited for Retry-After: 1');
      await assert.rejects(
        chatCompletion({ baseUrl: f.url, model: 'm', messages: [{ role: 'user', content: 'b' }], retry: FAST_RETRY }),
        (e: unknown) =>
          e instanceof LlmError && e.status === 400 && !e.retryable && e.attempts === 1 && e.reason === 'http_400'
      );
    } finally {
      await f.close();
    }
  });

  void it('types timeouts, network errors, bad responses and aborts', async () => {
    const f = await startFakeLlm({
      script: (r) => {
        const c = r.body?.messages?.[0]?.content;
        if (c === 'hang') return { kind: 'hang' };
        if (c === 'drop') return { kind: 'drop' };
        if (c === 'junk') return { kind: 'raw', body: 'not json' };
        return undefined;
      },
    });
    const ask = (content: string, extra: object = {}) =>
      chatCompletion({
        baseUrl: f.url,
        model: 'm',
        messages: [{ role: 'user', content }],
        timeoutMs: 100,
        retry: { ...FAST_RETRY, maxAttempts: 2 },
        ...extra,
      });
    try {
      await assert.rejects(
        ask('hang'),
        (e: unknown) => e instanceof LlmError && e.kind === 'timeout' && e.retryable && e.attempts === 2
      );
      await assert.rejects(
        ask('drop'),
        (e: unknown) => e instanceof LlmError && e.kind === 'network' && e.attempts === 2
      );
      await assert.rejects(
        ask('junk'),
        (e: unknown) => e instanceof LlmError && e.kind === 'bad_response' && e.attempts === 1
      );
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 30);
      await assert.rejects(
        ask('hang', { timeoutMs: 5_000, signal: ac.signal }),
        (e: unknown) => e instanceof LlmError && e.kind === 'aborted' && !e.retryable
      );
      await assert.rejects(
        chatCompletion({
          baseUrl: 'http://127.0.0.1:1/v1',
          model: 'm',
          messages: [],
          retry: { ...FAST_RETRY, maxAttempts: 1 },
        }),
        (e: unknown) => e instanceof LlmError && e.kind === 'network'
      );
    } finally {
      await f.close();
    }
  });

  void it('parses Retry-After', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
});
