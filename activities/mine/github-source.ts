/**
 * The GitHub mine source: lists closed PRs through the REST API (created ascending, so pages and the
 * cache stay stable) and enriches merged ones into `PrRecord`s.
 *
 * Octokit stack, outermost first: throttling plugin (queues requests; on a primary or secondary rate
 * limit waits for `x-ratelimit-reset` / `retry-after` and retries) → retry plugin (retries 5xx and
 * network errors with backoff) → our caching `fetch` (github-cache.ts: conditional requests, 304s
 * served from disk, SHA-pinned URLs served offline).
 *
 * Per merged PR, in the paper's order: PR metadata (listing), commits (`/pulls/N/commits`, merge
 * commits dropped as in the git source), each commit's files with patches (`/commits/{sha}`, all
 * pages), PR files (`/pulls/N/files`, all pages), conversation comments, reviews, review comments,
 * linked issues (closing refs in the PR body → `/issues/N` + comments), and the relevant files'
 * contents at the parent of the first commit (base64 `contents` API; >1 MB via the blobs API).
 */
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { GithubSource } from '../../contracts/mine';
import { PrRecord } from '../../contracts/pr';
import type {
  Comment,
  CommitFileDiff,
  FileStatus,
  LinkedIssue,
  PrCommit,
  RelevantFile,
  Review,
  ReviewComment,
  SkippedFile,
} from '../../contracts/pr';
import { DEFAULT_MAX_RELEVANT_FILES, classifyContent, isBotAuthor, toIsoUtc } from './git-source';
import { createCachingFetch, type CacheCounters } from './github-cache';
import { parseIssueRefs } from './issue-links';

const ThrottledOctokit = Octokit.plugin(throttling, retry);
type GH = InstanceType<typeof ThrottledOctokit>;

/** Blob SHA of the empty file: a patch-less, change-less file with this SHA is empty, not binary. */
const EMPTY_BLOB = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';
/** GitHub serves at most 3,000 files of a commit, 300 per page. */
const MAX_COMMIT_FILE_PAGES = 10;

/** Options of {@link listGithubPrs}. */
export interface ListGithubPrsOptions {
  /** Page number of the PR listing, 1-based. */
  cursor: number;
  /** PRs per page (`per_page`; GitHub's maximum of 100 is applied). Keep it constant across pages. */
  limit: number;
  /** API token, or undefined for anonymous access. Never logged. */
  token: string | undefined;
  /** Directory of the on-disk HTTP cache. */
  cacheDir: string;
  logger?: Logger;
  /** Relevant files beyond this many are skipped as too_many_files (and not fetched). Default 50. */
  maxRelevantFiles?: number;
  /**
   * Milliseconds waited per second the server asks for (rate-limit reset, retry-after), and the
   * unit of the 5xx retry backoff (1, 4, 9 units). Default 1000; tests shrink it.
   */
  retryAfterBaseMs?: number;
  /** Retries after a rate limit before giving up on a request. Default 5. */
  maxRateLimitRetries?: number;
  /** Merged PRs enriched concurrently (requests are further queued by the throttling plugin). Default 4. */
  concurrency?: number;
}

/** Result of {@link listGithubPrs}. */
export interface ListGithubPrsResult {
  prs: PrRecord[];
  /** Next page number, or null after the last page (or once `src.max_prs` is reached). */
  nextCursor: number | null;
  /** Requests that reached the API and were not answered 304 (quota-costing), retries included. */
  apiCalls: number;
  /** Responses served from the on-disk cache (304 revalidations and immutable hits). */
  cacheHits: number;
}

function createOctokit(src: GithubSource, opts: ListGithubPrsOptions, counters: CacheCounters): GH {
  const log = opts.logger?.child({ source: 'github', repo: src.repo });
  const base = opts.retryAfterBaseMs ?? 1000;
  const maxRetries = opts.maxRateLimitRetries ?? 5;
  const onLimit =
    (kind: string) =>
    (retryAfter: number, options: { method?: string; url?: string }, _o: unknown, retryCount: number): boolean => {
      const retrying = retryCount < maxRetries;
      // options.url is the route template plus query; the token lives only in headers.
      log?.warn(
        { kind, method: options.method, url: options.url, retryAfterS: retryAfter, retryCount, retrying },
        'GitHub rate limit hit'
      );
      return retrying;
    };
  const say =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string): void => {
      log?.[level](String(message));
    };
  return new ThrottledOctokit({
    auth: opts.token || undefined,
    baseUrl: src.api_url.replace(/\/+$/, ''),
    userAgent: 'bottega-mine',
    log: { debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error') },
    request: { fetch: createCachingFetch({ cacheDir: opts.cacheDir, counters }) },
    throttle: {
      onRateLimit: onLimit('primary'),
      onSecondaryRateLimit: onLimit('secondary'),
      retryAfterBaseValue: base,
    },
    retry: { retryAfterBaseValue: base },
  });
}

const descriptions = new Map<string, Promise<string>>();

/** Repository description, fetched once per process and API. */
function repoDescription(gh: GH, src: GithubSource, owner: string, repo: string): Promise<string> {
  const key = `${src.api_url}|${src.repo.toLowerCase()}`;
  let p = descriptions.get(key);
  if (!p) {
    p = gh.request('GET /repos/{owner}/{repo}', { owner, repo }).then((r) => r.data.description ?? '');
    descriptions.set(key, p);
    p.catch(() => descriptions.delete(key));
  }
  return p;
}

function isStatus(e: unknown, ...codes: number[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as { status?: number }).status ?? -1);
}

function mapStatus(s: string): FileStatus | null {
  switch (s) {
    case 'added':
    case 'copied':
      return 'added';
    case 'removed':
      return 'removed';
    case 'renamed':
      return 'renamed';
    case 'unchanged':
      return null;
    default: // modified, changed (mode/type change)
      return 'modified';
  }
}

interface ApiFile {
  filename: string;
  previous_filename?: string;
  status: string;
  patch?: string;
  changes?: number;
  sha?: string | null;
}

function toDiff(f: ApiFile): CommitFileDiff | null {
  const status = mapStatus(f.status);
  if (!status) return null;
  const patch = f.patch ?? null;
  // GitHub has no binary flag: a file without a patch and without line changes is binary, unless
  // it is a pure rename or an empty file. (A too-large text diff has no patch but changes > 0.)
  const binary = patch === null && (f.changes ?? 0) === 0 && status !== 'renamed' && f.sha !== EMPTY_BLOB;
  return {
    path: f.filename,
    previous_path: status === 'renamed' ? (f.previous_filename ?? null) : null,
    status,
    patch,
    binary,
  };
}

const linkHasNext = (link: string | undefined): boolean => /<[^>]*>\s*;\s*rel="next"/.test(link ?? '');

/**
 * Lists one page of closed PRs of `src.repo` (`state=closed&sort=created&direction=asc`) and returns
 * them as `PrRecord`s. Merged PRs are fully enriched; unmerged ones are returned with
 * `merged: false` and empty commits/files/conversation so filters can count them.
 *
 * Repeated calls reuse `opts.cacheDir`: unchanged resources cost a 304 (no primary quota) or, when
 * SHA-pinned, no request at all. Waits out rate limits and retries 5xx responses.
 */
export async function listGithubPrs(src: GithubSource, opts: ListGithubPrsOptions): Promise<ListGithubPrsResult> {
  if (!Number.isInteger(opts.cursor) || opts.cursor < 1)
    throw new Error(`cursor must be a page number >= 1, got ${opts.cursor}`);
  if (!Number.isInteger(opts.limit) || opts.limit < 1)
    throw new Error(`limit must be a positive integer, got ${opts.limit}`);
  const [owner, repo] = src.repo.split('/') as [string, string];
  const counters: CacheCounters = { apiCalls: 0, cacheHits: 0 };
  const gh = createOctokit(src, opts, counters);
  const maxRelevant = opts.maxRelevantFiles ?? DEFAULT_MAX_RELEVANT_FILES;
  const log = opts.logger?.child({ source: 'github', repo: src.repo });

  const perPage = Math.min(opts.limit, 100); // GitHub clamps per_page to 100; so do we, to keep offsets right
  const offset = (opts.cursor - 1) * perPage;
  if (src.max_prs !== undefined && offset >= src.max_prs)
    return { prs: [], nextCursor: null, apiCalls: 0, cacheHits: 0 };

  const listing = await gh.request('GET /repos/{owner}/{repo}/pulls', {
    owner,
    repo,
    state: 'closed',
    sort: 'created',
    direction: 'asc',
    per_page: perPage,
    page: opts.cursor,
  });
  let items = listing.data;
  let capped = false;
  if (src.max_prs !== undefined && items.length >= src.max_prs - offset) {
    items = items.slice(0, src.max_prs - offset);
    capped = true;
  }
  const more = listing.data.length > 0 && (listing.data.length >= perPage || linkHasNext(listing.headers.link));
  const nextCursor = more && !capped ? opts.cursor + 1 : null;
  const description = items.length > 0 ? await repoDescription(gh, src, owner, repo) : '';

  /** GET of every page of a list endpoint. */
  const all = <T>(route: string, params: Record<string, unknown>): Promise<T[]> =>
    gh.paginate(route, { owner, repo, per_page: 100, ...params }) as Promise<T[]>;

  async function commitFiles(sha: string): Promise<CommitFileDiff[]> {
    const out: CommitFileDiff[] = [];
    for (let page = 1; page <= MAX_COMMIT_FILE_PAGES; page++) {
      const res = await gh.request('GET /repos/{owner}/{repo}/commits/{ref}', { owner, repo, ref: sha, page });
      for (const f of (res.data.files ?? []) as ApiFile[]) {
        const d = toDiff(f);
        if (d) out.push(d);
      }
      if (!linkHasNext(res.headers.link)) break;
    }
    return out;
  }

  /** Raw bytes of `path` at `ref`, or null when it does not exist there (or is not a file). */
  async function fileAt(path: string, ref: string): Promise<Buffer | null> {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    try {
      const res = await gh.request(`GET /repos/{owner}/{repo}/contents/${encoded}`, { owner, repo, ref });
      const data = res.data as { type?: string; encoding?: string; content?: string; size?: number; sha?: string };
      if (Array.isArray(data) || data.type !== 'file') return null;
      if (data.encoding === 'base64' && typeof data.content === 'string') return Buffer.from(data.content, 'base64');
      if (data.sha) {
        // Files over 1 MB come back with encoding "none"; the blobs API serves them.
        const blob = await gh.request('GET /repos/{owner}/{repo}/git/blobs/{file_sha}', {
          owner,
          repo,
          file_sha: data.sha,
        });
        return Buffer.from(blob.data.content, blob.data.encoding === 'base64' ? 'base64' : 'utf8');
      }
      return null;
    } catch (e) {
      if (isStatus(e, 404)) return null;
      throw e;
    }
  }

  async function linkedIssue(n: number): Promise<LinkedIssue | null> {
    try {
      const { data } = await gh.request('GET /repos/{owner}/{repo}/issues/{issue_number}', {
        owner,
        repo,
        issue_number: n,
      });
      if (data.pull_request) return null; // a closing ref to another PR, not an issue
      const comments =
        data.comments > 0
          ? await all<{ user: { login: string } | null; body?: string | null; created_at: string }>(
              'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
              { issue_number: n }
            )
          : [];
      return {
        number: data.number,
        title: data.title,
        body: data.body ?? '',
        created_at: data.created_at ? toIsoUtc(data.created_at) : null,
        comments: comments.map((c) => ({
          author: c.user?.login ?? 'ghost',
          body: c.body ?? '',
          created_at: toIsoUtc(c.created_at),
        })),
      };
    } catch (e) {
      if (isStatus(e, 404, 410)) return null; // deleted, transferred or never existed
      throw e;
    }
  }

  type ListedPr = (typeof items)[number];

  async function toRecord(pr: ListedPr): Promise<PrRecord> {
    const author = pr.user?.login ?? 'ghost';
    const merged = pr.merged_at !== null && pr.merged_at !== undefined;
    const common = {
      repo: src.repo,
      repo_description: description,
      number: pr.number,
      title: pr.title,
      body: pr.body ?? '',
      author,
      author_is_bot: pr.user?.type === 'Bot' || isBotAuthor(author),
      state: pr.state === 'open' ? 'open' : 'closed',
      merged,
      created_at: toIsoUtc(pr.created_at),
      merged_at: merged ? toIsoUtc(pr.merged_at!) : null,
      closed_at: pr.closed_at ? toIsoUtc(pr.closed_at) : null,
      base_sha: pr.base.sha,
      head_sha: pr.head.sha,
      merge_commit_sha: merged ? (pr.merge_commit_sha ?? null) : null,
      pr_summary: null,
    } as const;
    if (!merged) {
      return PrRecord.parse({
        ...common,
        commits: [],
        changed_files: [],
        relevant_files: [],
        skipped_files: [],
        linked_issues: [],
        comments: [],
        reviews: [],
        review_comments: [],
      });
    }
    log?.debug({ pr: pr.number }, 'enriching PR');
    const n = pr.number;
    type ApiCommit = {
      sha: string;
      parents: { sha: string }[];
      author: { login: string } | null;
      commit: { message: string; author: { name?: string; date?: string } | null; committer: { date?: string } | null };
    };
    const [apiCommits, prFiles, comments, reviews, reviewComments, issues] = await Promise.all([
      all<ApiCommit>('GET /repos/{owner}/{repo}/pulls/{pull_number}/commits', { pull_number: n }),
      all<ApiFile>('GET /repos/{owner}/{repo}/pulls/{pull_number}/files', { pull_number: n }),
      all<{ user: { login: string } | null; body?: string | null; created_at: string }>(
        'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
        { issue_number: n }
      ),
      all<{ user: { login: string } | null; body: string | null; state: string; submitted_at?: string | null }>(
        'GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews',
        { pull_number: n }
      ),
      all<{
        id: number;
        in_reply_to_id?: number;
        user: { login: string } | null;
        body: string;
        created_at: string;
        path: string;
        diff_hunk?: string;
      }>('GET /repos/{owner}/{repo}/pulls/{pull_number}/comments', { pull_number: n }),
      Promise.all(
        parseIssueRefs(pr.body, src.repo)
          .filter((i) => i !== n)
          .map(linkedIssue)
      ),
    ]);
    // Merge commits (e.g. main merged into the branch) carry mainline work: dropped, as in the git source.
    const own = apiCommits.filter((c) => c.parents.length <= 1);
    const commits: PrCommit[] = await Promise.all(
      own.map(async (c) => ({
        sha: c.sha,
        parents: c.parents.map((p) => p.sha),
        author: c.author?.login ?? c.commit.author?.name ?? 'unknown',
        authored_at: toIsoUtc(c.commit.author?.date ?? c.commit.committer?.date ?? pr.created_at),
        message: c.commit.message,
        refined_message: null,
        diffs: await commitFiles(c.sha),
      }))
    );

    const changed = prFiles.flatMap((f) => {
      const d = toDiff(f);
      return d ? [{ path: d.path, previous_path: d.previous_path, status: d.status }] : [];
    });
    const candidates = changed
      .filter((c) => c.status !== 'added')
      .map((c) => (c.status === 'renamed' && c.previous_path ? c.previous_path : c.path));
    const ref = own[0]?.parents[0]?.sha ?? pr.base.sha;
    const relevant: RelevantFile[] = [];
    const skipped: SkippedFile[] = [];
    const contents = await Promise.all(
      candidates.slice(0, maxRelevant).map(async (path) => {
        // Paper §3.2: the parent of the first commit, falling back to the PR's base SHA.
        let buf = await fileAt(path, ref);
        if (buf === null && ref !== pr.base.sha) buf = await fileAt(path, pr.base.sha);
        return { path, buf };
      })
    );
    for (const { path, buf } of contents) {
      if (buf === null) {
        skipped.push({ path, reason: 'missing_at_base' });
        continue;
      }
      const c = classifyContent(buf);
      if (c.kind === 'text') relevant.push({ path, content: c.content });
      else skipped.push({ path, reason: c.kind });
    }
    for (const path of candidates.slice(maxRelevant)) skipped.push({ path, reason: 'too_many_files' });

    return PrRecord.parse({
      ...common,
      commits,
      changed_files: changed,
      relevant_files: relevant,
      skipped_files: skipped,
      linked_issues: issues.filter((i): i is LinkedIssue => i !== null),
      comments: comments.map((c): Comment => ({
        author: c.user?.login ?? 'ghost',
        body: c.body ?? '',
        created_at: toIsoUtc(c.created_at),
      })),
      reviews: reviews
        .filter((r) => r.submitted_at) // pending reviews have no submission time
        .map((r): Review => ({
          author: r.user?.login ?? 'ghost',
          body: r.body ?? '',
          state: r.state.toLowerCase(),
          submitted_at: toIsoUtc(r.submitted_at!),
        })),
      review_comments: reviewComments.map((c): ReviewComment => ({
        author: c.user?.login ?? 'ghost',
        body: c.body,
        created_at: toIsoUtc(c.created_at),
        path: c.path,
        diff_hunk: c.diff_hunk ?? '',
        in_reply_to: c.in_reply_to_id ?? null,
        id: c.id,
      })),
    });
  }

  const limit = pLimit(opts.concurrency ?? 4);
  const prs = await Promise.all(items.map((pr) => limit(() => toRecord(pr))));
  return { prs, nextCursor, apiCalls: counters.apiCalls, cacheHits: counters.cacheHits };
}
