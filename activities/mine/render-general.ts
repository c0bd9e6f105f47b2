/**
 * Format B (paper §3.5): the general PR sample, The Stack v2 style with underscore tag names.
 * Pure logic, no I/O.
 */
import type { PrCommit, PrRecord, ReviewComment } from '../../contracts/pr';
import { oneLine, prose, repositoryLines, sanitizeText, withFinalNewline } from './render-common';

interface PrEvent {
  /** Milliseconds since the epoch; unparseable timestamps sort last. */
  at: number;
  /** Tie-break between event types at the same instant: comment, review, thread, commit. */
  rank: number;
  text: string;
}

function time(s: string | null | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? Infinity : t;
}

/** `who: body`, or `who:` when the body is empty. */
function said(who: string, body: string): string {
  const b = prose(body);
  return b ? `${oneLine(who)}: ${b}` : `${oneLine(who)}:`;
}

/** Raw code text (patch, diff hunk) without its final newline: sanitised only, "\r" kept. */
function code(text: string): string {
  return sanitizeText(text).replace(/\n$/, '');
}

/**
 * Groups review comments into threads: a reply's `in_reply_to` chain is followed up to its root
 * (GitHub points replies at the thread's first comment, but chains are handled too). A reply whose
 * root is absent forms a thread keyed by the missing id. Comments keep chronological order.
 */
export function reviewThreads(comments: readonly ReviewComment[]): ReviewComment[][] {
  const byId = new Map<number, ReviewComment>();
  for (const c of comments) if (c.id !== null) byId.set(c.id, c);
  const threads = new Map<string, ReviewComment[]>();
  comments.forEach((c, i) => {
    let root = c.in_reply_to ?? c.id;
    const seen = new Set<number>();
    for (
      let p = root === null ? undefined : byId.get(root);
      p && p.in_reply_to !== null && !seen.has(p.in_reply_to);
      p = byId.get(p.in_reply_to)
    ) {
      seen.add(p.in_reply_to);
      root = p.in_reply_to;
    }
    const key = root === null ? `solo:${i}` : `id:${root}`;
    const list = threads.get(key);
    if (list) list.push(c);
    else threads.set(key, [c]);
  });
  return [...threads.values()].map((t) =>
    t.slice().sort((a, b) => compareTimes(time(a.created_at), time(b.created_at)))
  );
}

function compareTimes(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A review-comment thread:
 *
 * ```
 * <pr_review_comment> path/of/first/comment.py
 * <pr_diff_hunk> @@ -10,6 +10,8 @@ ...
 * ...the diff hunk GitHub anchored the first comment to...
 * </pr_diff_hunk>
 * alice: first comment
 * bob: reply
 * ```
 *
 * The hunk lines are omitted when the first comment has no `diff_hunk`.
 */
function renderThread(thread: readonly ReviewComment[]): string {
  const first = thread[0]!;
  const out = [`<pr_review_comment> ${oneLine(first.path)}`];
  if (first.diff_hunk.trim() !== '') out.push(`<pr_diff_hunk> ${code(first.diff_hunk)}`, '</pr_diff_hunk>');
  for (const c of thread) out.push(said(c.author, c.body));
  return out.join('\n');
}

/**
 * A commit: `<pr_commit> author: message` (the original message, not the LLM rewrite), then per
 * file `<commit_file> path` (`<commit_file> old -> new` for renames) followed by
 * `<patch> @@ ... @@` ... newline `</patch>` when the diff has a non-empty patch (binary and
 * too-large files get the `<commit_file>` line only).
 */
function renderCommit(c: PrCommit): string {
  const out = [`<pr_commit> ${said(c.author, c.message)}`];
  for (const d of c.diffs) {
    const path = sanitizeText(d.path);
    const shown =
      d.status === 'renamed' && d.previous_path !== null && d.previous_path !== d.path
        ? `${sanitizeText(d.previous_path)} -> ${path}`
        : path;
    out.push(`<commit_file> ${shown}`);
    if (d.patch !== null && d.patch.trim() !== '') out.push(`<patch> ${code(d.patch)}`, '</patch>');
  }
  return out.join('\n');
}

/**
 * Renders a PR as a Format B sample (paper §3.5):
 *
 * ```
 * # Repository Context
 * Name: owner/repo
 * Description: ...
 * # Relevant Files Context
 * ## path
 * <raw file content>
 * Response:
 * <pr> Title: <title>
 * <author>: <PR body>
 * ...events...
 * <pr_status> closed
 * <pr_is_merged> True
 * ```
 *
 * The `<pr>` opening always comes first. The events after it are PR comments
 * (`<pr_comment> user: body`), reviews (`<pr_review> user: body` then `<pr_review_state> state`),
 * review-comment threads (see `renderThread`; placed at their first comment's time) and commits
 * (see `renderCommit`), stably sorted by timestamp, ties keeping that type order. Commits stay in
 * PR order (topological), each placed at the latest author time so far (the maximum `authored_at`
 * of itself and every earlier commit in `pr.commits`), so out-of-order author dates from rebased
 * or amended commits never put a commit before one it depends on. Unparseable timestamps sort
 * last (for a commit, that commit and all later ones). No blank lines are added; the text ends
 * with a newline.
 */
export function renderGeneralSample(pr: PrRecord): string {
  const head = ['# Repository Context', repositoryLines(pr), '# Relevant Files Context'];
  for (const f of pr.relevant_files)
    head.push(`## ${sanitizeText(f.path)}\n${withFinalNewline(sanitizeText(f.content))}`.replace(/\n$/, ''));
  head.push('Response:');

  const events: PrEvent[] = [];
  for (const c of pr.comments)
    events.push({ at: time(c.created_at), rank: 0, text: `<pr_comment> ${said(c.author, c.body)}` });
  for (const r of pr.reviews) {
    events.push({
      at: time(r.submitted_at),
      rank: 1,
      text: `<pr_review> ${said(r.author, r.body)}\n<pr_review_state> ${oneLine(r.state.toLowerCase())}`,
    });
  }
  for (const t of reviewThreads(pr.review_comments))
    events.push({ at: time(t[0]!.created_at), rank: 2, text: renderThread(t) });
  // Commits keep their order in `pr.commits` (topological, parents first): each is placed at the
  // latest author time so far, so rebased or amended commits with earlier author dates never jump
  // ahead of a commit they depend on. An unparseable time (Infinity) sorts that commit and every
  // later one last.
  let latest = -Infinity;
  for (const c of pr.commits) {
    latest = Math.max(latest, time(c.authored_at));
    events.push({ at: latest, rank: 3, text: renderCommit(c) });
  }
  events.sort((a, b) => compareTimes(a.at, b.at) || a.rank - b.rank); // Array#sort is stable

  const body = [
    `<pr> Title: ${oneLine(pr.title)}`,
    said(pr.author, pr.body),
    ...events.map((e) => e.text),
    `<pr_status> ${pr.state}`,
    `<pr_is_merged> ${pr.merged ? 'True' : 'False'}`,
  ];
  return `${[...head, ...body].join('\n')}\n`;
}
