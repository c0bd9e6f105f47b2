/**
 * The git mine source: rebuilds the merged pull requests of a local repository (work tree or bare
 * mirror) and normalises them into `PrRecord`s. Which commits are PRs is decided in
 * git-discover.ts (merges anywhere in the history, squash and rebase merges, `refs/pull/N/head`);
 * this file turns each into a record:
 *
 * - commits: the PR's non-merge commits, parents first (a merge of the mainline into the branch
 *   would otherwise repeat mainline work); at most 250 kept, as GitHub.
 * - changed_files: net diff from the merge-base to the PR head with rename detection. Without
 *   back-merges the merge-base is the first commit's parent (the paper's rule); with them it is the
 *   three-dot diff GitHub shows, which leaves out mainline changes pulled into the branch.
 * - relevant_files: contents at the parent of the first PR commit (paper §3.2), falling back to
 *   base_sha for a path missing there; added files excluded, renamed files read under their
 *   previous path.
 * - title and body: the merge or squash message where GitHub wrote them (`prs_file` wins when given);
 *   author: the fork owner of `Merge pull request #N from owner/branch`, else the first commit's
 *   author; a bot by its name or e-mail (never by its branch name).
 *
 * git is driven with a handful of batched processes per page whatever its size (one `log`, two
 * `diff-tree --stdin`, one or two `cat-file --batch`), plus a `merge-base` per PR with back-merges,
 * after one `log` of the whole history per (repository, head). Spawning is synchronous in Node, so
 * per-PR processes would dominate (~1 s per 100 PRs).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import pLimit from 'p-limit';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { GitSource } from '../../contracts/mine';
import { LinkedIssue, PrRecord } from '../../contracts/pr';
import type { CommitFileDiff, FileStatus, PrCommit, RelevantFile, SkippedFile } from '../../contracts/pr';
import { parseIssueRefs } from './issue-links';
import { parseJsonlRecords } from '../text-input';
import { SideFileCache } from './side-file-cache';
import { discoverPrs, type Discovered, type FoundPr, type NotPr, type NotPrReason, type PrShape } from './git-discover';
import { parseGraph, type CommitGraph } from './git-graph';
import { prSideFileCache, type SidePr } from './pr-side-file';

/** Numbers given to merges that name no PR when `unnumbered_merges: as_pr`: 1_000_000 + their index. */
export const SYNTHETIC_PR_BASE = 1_000_000;
/** GitHub's `/pulls/N/commits` returns at most 250 commits; we cap the same way. */
export const MAX_PR_COMMITS = 250;
/** Default cap on relevant files per PR (MineConfig.max_relevant_files); the rest are skipped. */
export const DEFAULT_MAX_RELEVANT_FILES = 50;

// ---------------------------------------------------------------------------------------------
// Helpers shared with the GitHub source.

const BOT_RES = [
  /\[bot\]$/i,
  /^dependabot\b/i,
  /^renovate\b/i,
  /-bot$/i,
  /^github-actions\b/i,
  /^pre-commit-ci\b/i,
  /^greenkeeper\b/i,
  /^snyk-bot$/i,
];

/**
 * True for author names/logins that are bots: a `[bot]` suffix or a well-known bot name. Sources
 * record it as `author_is_bot`; the configurable `bot_patterns` filter (filters.ts) applies on top.
 */
export function isKnownBotName(name: string): boolean {
  return BOT_RES.some((re) => re.test(name));
}

/** ISO 8601 UTC without milliseconds (GitHub's style), from a Date, epoch seconds or a date string. */
export function toIsoUtc(d: Date | number | string): string {
  const date = typeof d === 'number' ? new Date(d * 1000) : new Date(d);
  if (Number.isNaN(date.getTime())) throw new Error(`invalid date: ${String(d)}`);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Classifies file bytes: text (valid UTF-8 without NUL), binary (has a NUL byte), or non_utf8. */
export function classifyContent(
  buf: Uint8Array
): { kind: 'text'; content: string } | { kind: 'binary' } | { kind: 'non_utf8' } {
  if (buf.indexOf(0) !== -1) return { kind: 'binary' };
  try {
    return { kind: 'text', content: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf) };
  } catch {
    return { kind: 'non_utf8' };
  }
}

/** Issues side file line: `{number, title, body, created_at?, comments?: [{author, body, created_at}]}`. */
const IssueLine = z.object({
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullable().optional(),
  created_at: z.string().nullable().optional(),
  comments: z
    .array(z.object({ author: z.string(), body: z.string().nullable().optional(), created_at: z.string() }))
    .optional(),
});

/** Parses an issues JSONL file into number → LinkedIssue. Later lines win on duplicate numbers. */
export async function loadIssuesFile(file: string): Promise<Map<number, LinkedIssue>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read issues file ${file}: ${(e as Error).message}`);
  }
  return parseIssues(text, file);
}

/**
 * Parsed issues files, once per worker process and content (see side-file-cache.ts): every page
 * of a git source used to re-read and re-validate the whole file. Values are shared: read-only.
 */
export const issuesFileCache = new SideFileCache<ReadonlyMap<number, LinkedIssue>>(
  (bytes, file) => parseIssues(bytes.toString('utf8'), file),
  { what: 'issues file' }
);

/** Parses issues JSONL text (a leading BOM is ignored); errors name `file` and the line. Later lines win. */
function parseIssues(raw: string, file: string): Map<number, LinkedIssue> {
  const out = new Map<number, LinkedIssue>();
  const lines = parseJsonlRecords(
    raw,
    file,
    IssueLine,
    'an issue record',
    '{"number": N, "title": "...", "body": "..."}'
  );
  for (const it of lines)
    out.set(
      it.number,
      LinkedIssue.parse({
        number: it.number,
        title: it.title,
        body: it.body ?? '',
        created_at: it.created_at ?? null,
        comments: (it.comments ?? []).map((c) => ({ author: c.author, body: c.body ?? '', created_at: c.created_at })),
      })
    );
  return out;
}

// ---------------------------------------------------------------------------------------------
// git plumbing

/** Config that would change plumbing output is pinned per call; the user's config is otherwise kept (safe.directory). */
const GIT_FLAGS = [
  '-c',
  'core.quotePath=false',
  '-c',
  'log.showSignature=false',
  '-c',
  'diff.noprefix=false',
  '-c',
  'color.ui=false',
];

class GitError extends Error {
  constructor(
    message: string,
    readonly code: number | null
  ) {
    super(message);
  }
}

function git(repo: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((res, rej) => {
    const child = spawn('git', [...GIT_FLAGS, ...args], {
      cwd: repo,
      // The ceiling stops discovery at `repo`: a plain folder inside another work tree is an error.
      env: {
        ...process.env,
        GIT_CEILING_DIRECTORIES: dirname(repo),
        GIT_TERMINAL_PROMPT: '0',
        GIT_OPTIONAL_LOCKS: '0',
        LC_ALL: 'C',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => rej(new GitError(`git ${args[0]} in ${repo}: ${e.message}`, null)));
    child.on('close', (code) => {
      if (code === 0) res(Buffer.concat(out));
      else
        rej(
          new GitError(
            `git ${args.join(' ').slice(0, 200)} failed in ${repo} (exit ${code}): ${Buffer.concat(err).toString('utf8').trim()}`,
            code
          )
        );
    });
    child.stdin.on('error', () => {}); // EPIPE when git exits early; reported through 'close'
    child.stdin.end(input ?? '');
  });
}

interface CommitMeta {
  sha: string;
  parents: string[];
  authorName: string;
  authorEmail: string;
  authorTime: number;
  committerTime: number;
  message: string;
}

/** Metadata of many commits in one `git log --no-walk` call. */
async function commitMeta(repo: string, shas: string[]): Promise<Map<string, CommitMeta>> {
  const out = new Map<string, CommitMeta>();
  const unique = [...new Set(shas)];
  if (unique.length === 0) return out;
  const buf = await git(
    repo,
    [
      'log',
      '--no-walk=unsorted',
      '--stdin',
      '--encoding=UTF-8',
      '--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%B%x00',
    ],
    unique.join('\n') + '\n'
  );
  const toks = buf.toString('utf8').split('\0');
  for (let i = 0; i + 6 < toks.length; i += 7) {
    const sha = toks[i]!.replace(/^\n/, '');
    out.set(sha, {
      sha,
      parents: toks[i + 1] ? toks[i + 1]!.split(' ') : [],
      authorName: toks[i + 2]!,
      authorEmail: toks[i + 3]!,
      authorTime: Number(toks[i + 4]),
      committerTime: Number(toks[i + 5]),
      message: toks[i + 6]!.replace(/\s+$/, ''),
    });
  }
  return out;
}

interface RawChange {
  status: FileStatus;
  path: string;
  previous_path: string | null;
  binary: boolean;
  patch: string | null;
}

function mapStatus(letter: string): FileStatus {
  switch (letter[0]) {
    case 'A':
    case 'C': // copies are only reported with -C; treat the copy as a new file
      return 'added';
    case 'D':
      return 'removed';
    case 'R':
      return 'renamed';
    default: // M, T (type change), U, X
      return 'modified';
  }
}

/**
 * Parses `git diff-tree --stdin -z --raw [--numstat -p] --always` output for `inputs` (one header
 * per input line, in order). Each result lists the changes in git's path order.
 *
 * Layout per input: `<sha>\0`, raw entries `:<modes> <oids> <status>\0<path>\0[<path2>\0]`, then
 * (with numstat) one `<add>\t<del>\t<path>\0` or `<add>\t<del>\t\0<old>\0<new>\0` per entry, then
 * `\0` and the patch text, which contains no NUL and runs up to the next `\n<sha>\0`.
 */
function parseDiffTree(buf: Buffer, inputs: string[], withPatch: boolean): RawChange[][] {
  let pos = 0;
  const tok = (): string => {
    const end = buf.indexOf(0, pos);
    if (end < 0) throw new Error(`git diff-tree: truncated output at byte ${pos}`);
    const s = buf.toString('utf8', pos, end);
    pos = end + 1;
    return s;
  };
  const results: RawChange[][] = [];
  for (let i = 0; i < inputs.length; i++) {
    const header = tok();
    if (header !== inputs[i])
      throw new Error(`git diff-tree: expected output for ${inputs[i]}, got ${header.slice(0, 80)}`);
    const changes: RawChange[] = [];
    while (pos < buf.length && buf[pos] === 0x3a /* ':' */) {
      const letter = tok().split(' ')[4] ?? 'M';
      const p1 = tok();
      if (letter[0] === 'R' || letter[0] === 'C') {
        const p2 = tok();
        const status = mapStatus(letter);
        changes.push({ status, path: p2, previous_path: status === 'renamed' ? p1 : null, binary: false, patch: null });
      } else {
        changes.push({ status: mapStatus(letter), path: p1, previous_path: null, binary: false, patch: null });
      }
    }
    if (withPatch && changes.length > 0) {
      for (const c of changes) {
        const t = tok();
        const tab1 = t.indexOf('\t');
        const tab2 = t.indexOf('\t', tab1 + 1);
        if (tab2 === t.length - 1) {
          tok(); // rename: old and new path follow as their own tokens
          tok();
        }
        c.binary = t.startsWith('-\t-\t');
      }
      if (buf[pos] !== 0) throw new Error('git diff-tree: expected patch separator');
      pos += 1;
      const next = inputs[i + 1];
      let end = buf.length;
      if (next !== undefined) {
        const idx = buf.indexOf(`\n${next}\0`, pos, 'utf8');
        if (idx < 0) throw new Error(`git diff-tree: missing output for ${next}`);
        end = idx + 1;
      }
      const sections = splitPatch(buf.toString('utf8', pos, end));
      pos = end;
      if (sections.length !== changes.length)
        throw new Error(`git diff-tree: ${sections.length} patch sections for ${changes.length} files in ${inputs[i]}`);
      changes.forEach((c, k) => {
        c.patch = c.binary ? null : sections[k]!;
      });
    }
    results.push(changes);
  }
  return results;
}

/** Splits a multi-file patch into GitHub-style `patch` strings (from the first `@@`; null when no hunk). */
function splitPatch(text: string): (string | null)[] {
  const out: (string | null)[] = [];
  let cur: string[] | null = null;
  const flush = (): void => {
    if (!cur) return;
    while (cur.length > 0 && cur[cur.length - 1] === '') cur.pop();
    const first = cur.findIndex((l) => l.startsWith('@@'));
    out.push(first < 0 ? null : cur.slice(first).join('\n'));
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('diff --git ')) {
      flush();
      cur = [];
    } else if (cur) {
      cur.push(line);
    }
  }
  flush();
  return out;
}

const DIFF_FLAGS = ['-r', '-M', '-z', '--always', '--no-ext-diff', '--no-textconv'];

/** Per-commit diffs for many commits in one `diff-tree --stdin` call. */
async function commitDiffs(repo: string, shas: string[]): Promise<Map<string, RawChange[]>> {
  const unique = [...new Set(shas)];
  const out = new Map<string, RawChange[]>();
  if (unique.length === 0) return out;
  const buf = await git(
    repo,
    ['diff-tree', '--stdin', '--root', ...DIFF_FLAGS, '--raw', '--numstat', '-p', '-U3', '--inter-hunk-context=0'],
    unique.join('\n') + '\n'
  );
  parseDiffTree(buf, unique, true).forEach((changes, i) => out.set(unique[i]!, changes));
  return out;
}

/**
 * Net changes `from → to` for many pairs in one call. diff-tree's stdin form "<commit> <parent>"
 * diffs parent → commit and prints the commit as header.
 */
async function netChanges(repo: string, pairs: { from: string; to: string }[]): Promise<RawChange[][]> {
  if (pairs.length === 0) return [];
  const buf = await git(
    repo,
    ['diff-tree', '--stdin', ...DIFF_FLAGS, '--raw'],
    pairs.map((p) => `${p.to} ${p.from}`).join('\n') + '\n'
  );
  return parseDiffTree(
    buf,
    pairs.map((p) => p.to),
    false
  );
}

/** Blob bytes for `<rev>:<path>` specs via one `cat-file --batch`; null when missing or not a blob. */
async function readBlobs(repo: string, specs: string[]): Promise<(Buffer | null)[]> {
  // A newline in a path would break the line protocol; such paths are reported missing.
  const ok = specs.map((s) => !s.includes('\n'));
  const sent = specs.filter((_, i) => ok[i]);
  const results: (Buffer | null)[] = [];
  if (sent.length > 0) {
    const buf = await git(repo, ['cat-file', '--batch'], sent.join('\n') + '\n');
    let pos = 0;
    for (let i = 0; i < sent.length; i++) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) throw new Error('git cat-file: truncated output');
      const header = buf.toString('utf8', pos, nl);
      pos = nl + 1;
      const m = /^[0-9a-f]{40,64} (\w+) (\d+)$/.exec(header);
      if (!m) {
        results.push(null); // "<spec> missing" / "ambiguous"
        continue;
      }
      const size = Number(m[2]);
      results.push(m[1] === 'blob' ? buf.subarray(pos, pos + size) : null);
      pos += size + 1;
    }
  }
  let k = 0;
  return specs.map((_, i) => (ok[i] ? results[k++]! : null));
}

// ---------------------------------------------------------------------------------------------
// Merge messages

interface ParsedMerge {
  number: number | null;
  title: string;
  body: string;
  headOwner: string | null;
  branch: string | null;
}

function splitTitleBody(rest: string): { title: string; body: string } {
  const lines = rest.replace(/^\s*\n/, '').split('\n');
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  const title = (lines.shift() ?? '').trim();
  return { title, body: lines.join('\n').trim() };
}

/**
 * `Merge pull request #N from owner/branch\n\nTitle\n\nBody`; `Title (#N)\n\nBody`;
 * `Merge branch 'x'` / `Merge remote-tracking branch 'origin/x'` (title = branch); anything else:
 * first line is the title.
 */
export function parseMergeMessage(message: string): ParsedMerge {
  const nl = message.indexOf('\n');
  const first = (nl < 0 ? message : message.slice(0, nl)).trim();
  const rest = nl < 0 ? '' : message.slice(nl + 1);
  const pr = /^Merge pull request #(\d+) from ([^\s/]+)\/(\S+)/.exec(first);
  if (pr) {
    const { title, body } = splitTitleBody(rest);
    return { number: Number(pr[1]), title: title || pr[3]!, body, headOwner: pr[2]!, branch: pr[3]! };
  }
  const prNoHead = /^Merge pull request #(\d+)\b/.exec(first);
  if (prNoHead) {
    const { title, body } = splitTitleBody(rest);
    return { number: Number(prNoHead[1]), title: title || first, body, headOwner: null, branch: null };
  }
  const squash = /^(.*?)\s*\(#(\d+)\)\s*$/.exec(first);
  if (squash)
    return { number: Number(squash[2]), title: squash[1] || first, body: rest.trim(), headOwner: null, branch: null };
  const branch = /^Merge (?:remote-tracking )?branch '([^']+)'/.exec(first);
  if (branch) return { number: null, title: branch[1]!, body: rest.trim(), headOwner: null, branch: branch[1]! };
  return { number: null, title: first, body: rest.trim(), headOwner: null, branch: null };
}

async function openRepo(src: GitSource, baseDir: string | undefined): Promise<string> {
  const abs = resolve(baseDir ?? process.cwd(), src.path);
  try {
    const st = await stat(abs);
    if (!st.isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new Error(`git source ${src.repo}: ${abs} is not a git repository (${(e as Error).message})`);
  }
  try {
    await git(abs, ['rev-parse', '--git-dir']);
  } catch (e) {
    throw new Error(`git source ${src.repo}: ${abs} is not a git repository (${(e as Error).message})`);
  }
  return abs;
}

/** Options of {@link listGitPrs}. */
export interface ListGitPrsOptions {
  /** Index of the first discovered item to return (0-based, history order). */
  cursor: number;
  /** Maximum number of items (PRs and commits that are not PRs) to return. */
  limit: number;
  /** Directory relative `src.path` / `src.issues_file` / `src.prs_file` resolve against (the spec file's); default cwd. */
  baseDir?: string;
  /** Relevant files beyond this many are listed in skipped_files as too_many_files. Default 50. */
  maxRelevantFiles?: number;
  /** The state the first page saw ({@link GitPrPage.pin}): later pages list the same items. */
  pin?: GitPin;
}

/**
 * What a listing was made from: the ref's commit and a digest of `refs/pull/*`. Pages after the first
 * pass it back, so a ref moved or a mirror fetched mid-stage cannot shift items between pages (and
 * they skip resolving both again).
 */
export interface GitPin {
  head: string;
  pullRefs: string;
}

/** How a listed PR was found. */
export interface GitPrOrigin {
  shape: PrShape;
  found_as: PrShape[];
  /** SHAs of other commits holding the same number (cherry-picked copies), merged into this PR. */
  duplicate_commits: string[];
}

/** A commit that looks like a PR boundary but is not one, with the reason. */
export interface GitNotPr {
  reason: NotPrReason;
  number: number | null;
  commit: string;
  subject: string;
}

/** One page of {@link listGitPrs}. */
export interface GitPrPage {
  prs: PrRecord[];
  /** Parallel to `prs`. */
  origins: GitPrOrigin[];
  notPrs: GitNotPr[];
  nextCursor: number | null;
  /** Items in the whole listing (PRs and not-PRs), after `max_prs`. */
  total: number;
  /** Pull refs whose PR is not merged into the ref (repository-level: the same on every page). */
  pullRefsNotMerged: number;
  /** Pass to the next page's {@link ListGitPrsOptions.pin}. */
  pin: GitPin;
}

interface RepoDiscovery {
  graph: CommitGraph;
  items: Discovered[];
  pullRefsNotMerged: number;
  pullRefs: string;
}

/** Discoveries per (repository, head, pull refs, options), so paging does not rescan history. */
const discoveryCache = new Map<string, Promise<RepoDiscovery>>();

/** Forgets every discovery (as a restarted worker would); for tests. */
export function clearGitDiscoveryCache(): void {
  discoveryCache.clear();
}

const cacheKey = (repo: string, head: string, pullRefs: string, src: GitSource): string =>
  [repo, head, pullRefs, src.unnumbered_merges].join('\0');

/** `refs/pull/*` as for-each-ref lists them, and their digest (what a listing and the step cache key on). */
async function readPullRefs(repo: string): Promise<{ text: string; digest: string }> {
  const text = (
    await git(repo, ['for-each-ref', '--format=%(refname)%00%(objectname)%00%(*objectname)', 'refs/pull/'])
  ).toString('utf8');
  return { text, digest: createHash('sha256').update(text).digest('hex') };
}

/** Digest of a repository's `refs/pull/*`: a fetch of new pull refs can change which PRs are found. */
export async function pullRefsDigest(path: string): Promise<string> {
  return (await readPullRefs(resolve(path))).digest;
}

async function discover(repo: string, head: string, src: GitSource, pinned?: string): Promise<RepoDiscovery> {
  const pinnedHit = pinned === undefined ? undefined : discoveryCache.get(cacheKey(repo, head, pinned, src));
  if (pinnedHit) return pinnedHit;
  const { text: refs, digest: pullRefs } = await readPullRefs(repo);
  if (pinned !== undefined && pullRefs !== pinned)
    throw ApplicationFailure.create({
      type: 'GitSourceChanged',
      nonRetryable: true,
      message:
        `git source ${src.repo}: refs/pull/* of ${repo} changed while the stage was listing it (a fetch into the ` +
        'mirror?): pages would no longer line up. Fetch between runs, then rerun the mine stage (`bottega run --force mine`).',
    });
  const key = cacheKey(repo, head, pullRefs, src);
  const hit = discoveryCache.get(key);
  if (hit) return hit;
  const p = (async (): Promise<RepoDiscovery> => {
    const pulls = new Map<number, string>();
    for (const line of refs.split('\n')) {
      const [name, oid, peeled] = line.split('\0');
      const m = /^refs\/pull\/(\d+)\/head$/.exec(name ?? '');
      if (m) pulls.set(Number(m[1]), peeled || oid!);
    }
    const text = (
      await git(repo, [
        'log',
        '--topo-order',
        '--reverse',
        '--encoding=UTF-8',
        '--format=%H %P%x00%ct%x00%s%x00',
        head,
        '--',
      ])
    ).toString('utf8');
    const graph = parseGraph(text, head);
    const d = discoverPrs(graph, pulls, { unnumberedMergesArePrs: src.unnumbered_merges === 'as_pr' });
    let synthetic = 0;
    for (const it of d.items) if (it.kind === 'pr' && it.number < 0) it.number = SYNTHETIC_PR_BASE + synthetic++;
    return { graph, items: d.items, pullRefsNotMerged: d.pullRefsNotMerged, pullRefs };
  })();
  if (discoveryCache.size >= 4) discoveryCache.delete(discoveryCache.keys().next().value!);
  discoveryCache.set(key, p);
  p.catch(() => discoveryCache.delete(key));
  return p;
}

/** Known bot commit e-mails: GitHub App noreply addresses and the classic bot accounts. */
export function isKnownBotEmail(email: string): boolean {
  return (
    /\[bot\]@users\.noreply\.github\.com$/i.test(email) ||
    /^(support@dependabot\.com|bot@renovateapp\.com|github-actions@github\.com|action@github\.com|noreply@snyk\.io)$/i.test(
      email
    )
  );
}

const firstLine = (message: string): string => message.split('\n', 1)[0]!.trim();
const withoutMarker = (title: string, n: number): string =>
  title.replace(new RegExp(`\\s*\\(#${n}\\)\\s*$`), '') || title;

/**
 * Lists one page of the merged PRs of `src.ref`, in history order: every PR the repository shows,
 * once, whatever way it was merged (see git-discover.ts), plus the merges and `(#N)` commits that
 * are not PRs, with the reason.
 *
 * Deterministic: the same repository state and arguments give byte-identical records. `total` counts
 * items up to the `src.max_prs`-th PR; `nextCursor` is null after the last page. Every record passes
 * `PrRecord.parse`. Issue references absent from `src.issues_file` are left out of `linked_issues`
 * (we have no data to show for them).
 *
 * @throws when `src.path` is not a git repository or `src.ref` does not resolve to a commit.
 */
export async function listGitPrs(src: GitSource, opts: ListGitPrsOptions): Promise<GitPrPage> {
  if (!Number.isInteger(opts.cursor) || opts.cursor < 0)
    throw new Error(`cursor must be a non-negative integer, got ${opts.cursor}`);
  if (!Number.isInteger(opts.limit) || opts.limit < 1)
    throw new Error(`limit must be a positive integer, got ${opts.limit}`);
  const maxRelevant = opts.maxRelevantFiles ?? DEFAULT_MAX_RELEVANT_FILES;
  const repo = await openRepo(src, opts.baseDir);
  const ref = src.ref ?? 'HEAD';
  let head = opts.pin?.head;
  if (head === undefined) {
    try {
      head = (await git(repo, ['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`]))
        .toString('utf8')
        .trim();
    } catch {
      throw new Error(`git source ${src.repo}: ref ${JSON.stringify(ref)} does not resolve to a commit in ${repo}`);
    }
  }
  const base = opts.baseDir ?? process.cwd();
  const [issues, sidePrs, found] = await Promise.all([
    src.issues_file ? issuesFileCache.get(resolve(base, src.issues_file)) : new Map<number, LinkedIssue>(),
    src.prs_file ? prSideFileCache.get(resolve(base, src.prs_file)) : new Map<number, SidePr>(),
    discover(repo, head, src, opts.pin?.pullRefs),
  ]);
  const pin: GitPin = { head, pullRefs: found.pullRefs };
  const { graph: g } = found;

  // max_prs counts PRs: the listing ends after the max_prs-th one.
  let total = found.items.length;
  if (src.max_prs !== undefined) {
    let seen = 0;
    const cut = found.items.findIndex((it) => it.kind === 'pr' && ++seen === src.max_prs);
    if (cut >= 0) total = cut + 1;
  }
  const end = Math.min(total, opts.cursor + opts.limit);
  const items = found.items.slice(opts.cursor, end);
  const nextCursor = end < total ? end : null;
  const sha = (id: number): string => g.shas[id]!;
  const notPrs: GitNotPr[] = items
    .filter((it): it is NotPr => it.kind === 'not_pr')
    .map((it) => ({ reason: it.reason, number: it.number, commit: sha(it.commit), subject: g.subject[it.commit]! }));
  const page = items.filter((it): it is FoundPr => it.kind === 'pr');
  const empty = { prs: [], origins: [], notPrs, nextCursor, total, pullRefsNotMerged: found.pullRefsNotMerged, pin };
  if (page.length === 0) return empty;

  const ranges = page.map((p) => {
    const nonMerge = p.commits.filter((c) => g.parents[c]!.length <= 1).map(sha);
    return { commits: nonMerge.slice(0, MAX_PR_COMMITS), truncated: nonMerge.length > MAX_PR_COMMITS };
  });
  const commitShas = ranges.flatMap((r) => r.commits);
  const [meta, diffs] = await Promise.all([
    commitMeta(repo, [...page.map((p) => sha(p.anchor)), ...commitShas]),
    commitDiffs(repo, commitShas),
  ]);

  // Net change per PR: from the merge-base (git decides when the range has several fork points).
  const limit = pLimit(4);
  const netFrom = await Promise.all(
    page.map((p) =>
      limit(async (): Promise<string | null> => {
        if (p.netFrom !== undefined) return p.netFrom === null ? null : sha(p.netFrom);
        try {
          return (await git(repo, ['merge-base', sha(p.base!), sha(p.head)])).toString('utf8').trim() || null;
        } catch (e) {
          if (!(e instanceof GitError && e.code === 1)) throw e; // exit 1: no common ancestor
          return null;
        }
      })
    )
  );
  const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
  const from = page.map(
    (_, i) => netFrom[i] ?? ranges[i]!.commits.map((c) => meta.get(c)?.parents[0]).find(Boolean) ?? null
  );
  const pairIdx = page.flatMap((_, i) => (from[i] ? [i] : []));
  const net: RawChange[][] = page.map(() => []);
  (
    await netChanges(
      repo,
      pairIdx.map((i) => ({ from: from[i]!, to: sha(page[i]!.head) }))
    )
  ).forEach((c, k) => (net[pairIdx[k]!] = c));
  for (let i = 0; i < page.length; i++) {
    if (from[i]) continue;
    // Root-to-head diff for histories with no common ancestor and a root first commit.
    const head = sha(page[i]!.head);
    const buf = await git(repo, [
      'diff-tree',
      ...DIFF_FLAGS.filter((f) => f !== '--always'),
      '--raw',
      EMPTY_TREE,
      head,
    ]);
    net[i] = parseDiffTree(Buffer.concat([Buffer.from(`${head}\0`), buf]), [head], false)[0]!;
  }

  // Relevant files: read at the first commit's parent (the paper's rule), then fall back to base_sha.
  interface Want {
    pr: number;
    path: string;
  }
  const wants: Want[] = [];
  const tooMany: SkippedFile[][] = page.map(() => []);
  const baseSha = page.map((p) => (p.base === null ? null : sha(p.base)));
  const contentRef = page.map((p, i) => {
    const first = ranges[i]!.commits[0];
    return (first ? meta.get(first)?.parents[0] : undefined) ?? baseSha[i] ?? null;
  });
  net.forEach((changes, i) => {
    let n = 0;
    for (const c of changes) {
      if (c.status === 'added') continue;
      const path = c.status === 'renamed' ? c.previous_path! : c.path;
      if (n++ < maxRelevant) wants.push({ pr: i, path });
      else tooMany[i]!.push({ path, reason: 'too_many_files' });
    }
  });
  const spec = (rev: string | null, path: string) => (rev ? `${rev}:${path}` : '\n');
  const blobs = await readBlobs(
    repo,
    wants.map((w) => spec(contentRef[w.pr]!, w.path))
  );
  const missing = wants
    .map((w, k) => (blobs[k] === null && baseSha[w.pr] && contentRef[w.pr] !== baseSha[w.pr] ? k : -1))
    .filter((k) => k >= 0);
  if (missing.length > 0) {
    const again = await readBlobs(
      repo,
      missing.map((k) => spec(baseSha[wants[k]!.pr]!, wants[k]!.path))
    );
    missing.forEach((k, j) => (blobs[k] = again[j]!));
  }
  const relevant: RelevantFile[][] = page.map(() => []);
  const skipped: SkippedFile[][] = page.map(() => []);
  wants.forEach((w, k) => {
    const b = blobs[k];
    if (!b) {
      skipped[w.pr]!.push({ path: w.path, reason: 'missing_at_base' });
      return;
    }
    const c = classifyContent(b);
    if (c.kind === 'text') relevant[w.pr]!.push({ path: w.path, content: c.content });
    else skipped[w.pr]!.push({ path: w.path, reason: c.kind });
  });

  const [repoOwner] = src.repo.split('/');
  const prs = page.map((p, i) => {
    const anchor = meta.get(sha(p.anchor));
    if (!anchor) throw new Error(`git source ${src.repo}: no metadata for commit ${sha(p.anchor)}`);
    const commits: PrCommit[] = ranges[i]!.commits.map((c) => {
      const cm = meta.get(c);
      if (!cm) throw new Error(`git source ${src.repo}: no metadata for commit ${c}`);
      const d: CommitFileDiff[] = (diffs.get(c) ?? []).map((x) => ({
        path: x.path,
        previous_path: x.previous_path,
        status: x.status,
        patch: x.patch,
        binary: x.binary,
      }));
      return {
        sha: c,
        parents: cm.parents,
        author: cm.authorName,
        authored_at: toIsoUtc(cm.authorTime),
        message: cm.message,
        refined_message: null,
        diffs: d,
      };
    });
    const firstMeta = ranges[i]!.commits[0] ? meta.get(ranges[i]!.commits[0]!) : undefined;
    const side = sidePrs.get(p.number);
    // Title and body: the merge or squash message where it names the PR, else the first commit's subject.
    let title: string;
    let body = '';
    let headOwner: string | null = null;
    const named = p.shape === 'squash' || (p.shape === 'merge' && p.messageNamesPr);
    if (named || (p.shape === 'merge' && p.number >= SYNTHETIC_PR_BASE)) {
      // A merge or squash message naming the PR, or an unnumbered merge's (its branch is the title).
      const parsed = parseMergeMessage(anchor.message);
      title = parsed.title;
      if (named) body = parsed.body;
      if (p.shape === 'merge' && named) headOwner = parsed.headOwner;
    } else {
      title = withoutMarker(firstLine(firstMeta?.message ?? anchor.message), p.number);
    }
    if (side?.title) title = side.title;
    if (side?.body !== null && side?.body !== undefined) body = side.body;
    // "from owner/branch" names the head repository's owner: a user for forks, the repo's own
    // organisation for same-repository branches (bots, maintainers) — then the first commit's author is the better guess.
    const sameRepoHead = headOwner !== null && headOwner.toLowerCase() === repoOwner?.toLowerCase();
    const byCommit = p.shape === 'squash' ? anchor : (firstMeta ?? anchor);
    const author = side?.author ?? (headOwner && !sameRepoHead ? headOwner : byCommit.authorName);
    const authorIsBot =
      side?.author != null
        ? side.authorIsBot || isKnownBotName(side.author)
        : isKnownBotName(author) || (author === byCommit.authorName && isKnownBotEmail(byCommit.authorEmail));
    const mergedAt = side?.mergedAt ?? toIsoUtc(anchor.committerTime);
    const linkedNumbers = [...new Set([...parseIssueRefs(body, src.repo), ...(side?.linkedIssues ?? [])])];
    const linked = linkedNumbers
      .filter((n) => n !== p.number)
      .map((n) => issues.get(n))
      .filter((x): x is LinkedIssue => x !== undefined);
    return PrRecord.parse({
      repo: src.repo,
      repo_description: src.description ?? '',
      number: p.number,
      title,
      body,
      author,
      author_is_bot: authorIsBot,
      state: 'closed',
      merged: true,
      created_at: side?.createdAt ?? commits[0]?.authored_at ?? mergedAt,
      merged_at: mergedAt,
      closed_at: mergedAt,
      base_sha: baseSha[i] ?? contentRef[i] ?? sha(p.head),
      head_sha: sha(p.head),
      merge_commit_sha: p.shape === 'pull_ref' ? null : sha(p.anchor),
      commits_truncated: ranges[i]!.truncated,
      commits,
      changed_files: net[i]!.map((c) => ({ path: c.path, previous_path: c.previous_path, status: c.status })),
      relevant_files: relevant[i],
      skipped_files: [...skipped[i]!, ...tooMany[i]!],
      linked_issues: linked,
      comments: [],
      reviews: [],
      review_comments: [],
      pr_summary: null,
    });
  });
  const origins: GitPrOrigin[] = page.map((p) => ({
    shape: p.shape,
    found_as: p.foundAs,
    duplicate_commits: p.duplicates.map(sha),
  }));
  return { ...empty, prs, origins };
}
