/**
 * Optional LLM enhancement of a mined PR (paper §3.3): one PR-summary call (the "plan" that opens
 * the Edits section) and one commit-message rewrite per commit, through any OpenAI-compatible
 * endpoint. A failed call keeps the original text (`pr_summary` / `refined_message` stay null) and
 * is counted; the PR is never dropped and enhancePr never throws for a failed call.
 */
import pLimit from 'p-limit';
import type { EnhanceConfig } from '../../contracts/mine';
import type { CommitFileDiff, PrCommit, PrRecord } from '../../contracts/pr';
import { chatCompletion, LlmError, type ChatMessage, type RetryOptions } from '../llm/openai-client';

/**
 * Version of the prompts and post-processing below. Bump it whenever any of them changes: it is
 * part of the mine step's cache key.
 */
export const ENHANCE_PROMPT_VERSION = 'enhance-v1';

/** Per-patch cut in the commit-rewrite prompt (the paper's 2,000 characters). */
export const COMMIT_PATCH_MAX_CHARS = 2_000;
/**
 * Safety cuts in the PR-summary prompt (ours, not the paper's, which passes every diff whole):
 * each patch, and all diffs together, so huge PRs stay inside a 32k-token serving context.
 */
export const SUMMARY_PATCH_MAX_CHARS = 8_000;
export const SUMMARY_DIFFS_MAX_CHARS = 60_000;
/** Issue and PR bodies are cut to this many characters in prompts. */
export const BODY_MAX_CHARS = 6_000;

export const SUMMARY_SYSTEM_PROMPT =
  'You are a senior software engineer. You read pull requests and summarize them accurately and concisely.';

export const SUMMARY_INSTRUCTIONS = [
  'Summarize the pull request below in 1-4 sentences.',
  'State the problem it solves or the feature it adds, the key changes, and any notable implementation details.',
  'Write plain prose: no headings, no bullet points, no code blocks, no preamble such as "This PR".',
  'Do not mention the PR number, the author or reviewers.',
].join(' ');

export const COMMIT_SYSTEM_PROMPT =
  'You are a senior software engineer. You write clear, informative git commit messages.';

export const COMMIT_INSTRUCTIONS = [
  'Rewrite the commit message of the commit below so that it clearly describes the change.',
  'Write one clear, descriptive subject line in the imperative mood (at most 72 characters).',
  'If the change is trivial, write only the subject line. Otherwise add a blank line and then a single-sentence footer explaining what changed and why.',
  'Terse messages such as "fix", "wip" or "update" must become informative.',
  'Output only the commit message: no quotes, labels, Markdown or code fences.',
].join(' ');

/** What {@link enhancePr} needs besides the config. */
export interface EnhanceDeps {
  /** API key (from `cfg.api_key_env`); sent as a Bearer token only when non-empty. */
  apiKey: string | undefined;
  /** Shared limiter, so several PRs together respect one concurrency bound. Default: pLimit(cfg.concurrency). */
  limit?: ReturnType<typeof pLimit>;
  /** Cancels outstanding calls; enhancePr then rejects (cancellation is not a call failure). */
  signal?: AbortSignal;
  /** Backoff policy of each call (defaults of chatCompletion otherwise). */
  retry?: RetryOptions;
}

export interface EnhanceResult {
  /** A new record: the input is not mutated. */
  pr: PrRecord;
  /** LLM calls made (1 + commits when enabled). */
  calls: number;
  /** Calls that failed after retries (their text was left null). */
  failures: number;
  /** Failure counts by reason: `http_429`, `http_500`, `timeout`, `network`, `empty`, `length`, ... */
  failureReasons: Record<string, number>;
}

/**
 * Enhances one PR per paper §3.3: the PR summary first, then every commit's rewrite (which takes
 * the summary as input) concurrently, each call through the shared limiter. With
 * `cfg.enabled === false` the PR is returned unchanged with zero calls.
 */
export async function enhancePr(pr: PrRecord, cfg: EnhanceConfig, deps: EnhanceDeps): Promise<EnhanceResult> {
  if (!cfg.enabled) return { pr, calls: 0, failures: 0, failureReasons: {} };
  const limit = deps.limit ?? pLimit(cfg.concurrency);
  const failureReasons: Record<string, number> = {};
  let calls = 0;
  let failures = 0;

  const call = async (messages: ChatMessage[], maxTokens: number): Promise<string | null> => {
    calls++;
    try {
      const r = await limit(() =>
        chatCompletion({
          baseUrl: cfg.endpoint,
          apiKey: deps.apiKey,
          model: cfg.model,
          messages,
          maxTokens,
          temperature: cfg.temperature,
          topP: cfg.top_p,
          timeoutMs: cfg.timeout_ms,
          signal: deps.signal,
          retry: deps.retry,
        })
      );
      if (r.finishReason === 'length') throw new OutputRejected('length');
      const text = cleanOutput(r.content ?? '');
      if (!text) throw new OutputRejected('empty');
      return text;
    } catch (e) {
      if (deps.signal?.aborted) throw e;
      const reason = e instanceof LlmError ? e.reason : e instanceof OutputRejected ? e.reason : 'error';
      failures++;
      failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
      return null;
    }
  };

  const summary = await call(buildSummaryMessages(pr), cfg.summary_max_tokens);
  const refined = await Promise.all(
    pr.commits.map((c) => call(buildCommitMessages(pr, c, summary), cfg.commit_max_tokens))
  );
  return {
    pr: {
      ...pr,
      pr_summary: summary,
      commits: pr.commits.map((c, i) => ({ ...c, refined_message: refined[i] ?? null })),
    },
    calls,
    failures,
    failureReasons,
  };
}

class OutputRejected extends Error {
  constructor(readonly reason: 'length' | 'empty') {
    super(reason);
  }
}

/** Messages of the PR-summary call. */
export function buildSummaryMessages(pr: PrRecord): ChatMessage[] {
  const parts: string[] = [SUMMARY_INSTRUCTIONS, ''];
  parts.push('# Repository', `Name: ${pr.repo}`, `Description: ${pr.repo_description || '(none)'}`, '');
  parts.push('# Pull Request', `Title: ${pr.title}`, cut(pr.body.trim(), BODY_MAX_CHARS) || '(no description)', '');
  if (pr.linked_issues.length) {
    parts.push('# Linked Issue' + (pr.linked_issues.length > 1 ? 's' : ''));
    for (const is of pr.linked_issues)
      parts.push(`## #${is.number}: ${is.title}`, cut(is.body.trim(), BODY_MAX_CHARS) || '(no description)');
    parts.push('');
  }
  const py = pr.changed_files.filter((f) => isPython(f.path));
  if (py.length) {
    parts.push('# Changed Python Files');
    for (const f of py) parts.push(`- ${f.path} (${f.status}${f.previous_path ? ` from ${f.previous_path}` : ''})`);
    parts.push('');
  }
  parts.push('# Commits');
  let budget = SUMMARY_DIFFS_MAX_CHARS;
  let omitted = 0;
  pr.commits.forEach((c, i) => {
    parts.push(`## Commit ${i + 1} of ${pr.commits.length}`, 'Message:', c.message.trim(), 'Diffs:');
    for (const d of c.diffs) {
      const block = renderDiff(d, SUMMARY_PATCH_MAX_CHARS);
      if (block.length > budget) {
        omitted++;
        continue;
      }
      budget -= block.length;
      parts.push(block);
    }
    parts.push('');
  });
  if (omitted) parts.push(`[${omitted} more file diff(s) omitted for length]`);
  return [
    { role: 'system', content: SUMMARY_SYSTEM_PROMPT },
    { role: 'user', content: parts.join('\n').trimEnd() },
  ];
}

/** Messages of one commit-rewrite call. Without a summary, the PR title stands in for it. */
export function buildCommitMessages(pr: PrRecord, commit: PrCommit, summary: string | null): ChatMessage[] {
  const parts: string[] = [COMMIT_INSTRUCTIONS, ''];
  parts.push('# Pull Request Summary', summary ?? `(summary unavailable) Pull request title: ${pr.title}`, '');
  parts.push('# Original Commit Message', commit.message.trim() || '(empty)', '');
  parts.push('# Diffs');
  for (const d of commit.diffs) parts.push(renderDiff(d, COMMIT_PATCH_MAX_CHARS));
  return [
    { role: 'system', content: COMMIT_SYSTEM_PROMPT },
    { role: 'user', content: parts.join('\n').trimEnd() },
  ];
}

/** A file diff with a git-style header; the patch cut to `max` characters. */
function renderDiff(d: CommitFileDiff, max: number): string {
  const before = d.status === 'added' ? '/dev/null' : `a/${d.previous_path ?? d.path}`;
  const after = d.status === 'removed' ? '/dev/null' : `b/${d.path}`;
  const body = d.binary ? '(binary file)' : d.patch === null ? '(diff not available)' : cut(d.patch, max);
  return `--- ${before}\n+++ ${after}\n${body.replace(/\n$/, '')}`;
}

function isPython(path: string): boolean {
  return /\.(py|pyi|pyx)$/i.test(path);
}

/** Cuts to at most `max` UTF-16 units without splitting a surrogate pair, marking the cut. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}\n[... truncated]`;
}

/**
 * Normalises a model answer: drops `<think>` blocks, a wrapping code fence or quotes, and
 * surrounding whitespace.
 */
export function cleanOutput(text: string): string {
  let t = text.replace(/<think>[\s\S]*?<\/think>/g, '').trim();
  const fence = /^```[\w-]*\n([\s\S]*?)\n?```$/.exec(t);
  if (fence) t = fence[1]!.trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))))
    t = t.slice(1, -1).trim();
  return t;
}
