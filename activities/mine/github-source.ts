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
 * linked issues, and the relevant files' contents at the parent of the first commit (base64
 * `contents` API; >1 MB via the blobs API).
 *
 * Linked issues = the PR's GraphQL `closingIssuesReferences` (authoritative: they include issues
 * linked through the UI, which the body does not mention), then the closing refs parsed from the
 * PR body that GraphQL did not return (`/issues/N` + comments via REST), deduplicated by number,
 * same repository only. GraphQL goes through `octokit.graphql`, i.e. the same throttling, retry and
 * caching-fetch stack (github-cache.ts caches a GraphQL POST only keyed by its full body and only
 * with an ETag, always revalidated). When GraphQL is unavailable or refuses the query (404 on a
 * GitHub Enterprise without it, 401/403, `errors[]` in the answer, or no token: GitHub's GraphQL
 * API requires one), the PR falls back to body parsing alone; such PRs are counted in
 * `graphqlFallbacks` and logged. Transient failures (5xx, network, rate limits) that outlast the
 * plugins' retries are thrown, like any REST failure, so the activity is retried.
 */
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling, type ThrottlingOptions } from '@octokit/plugin-throttling';
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
import { DEFAULT_MAX_RELEVANT_FILES, MAX_PR_COMMITS, classifyContent, isKnownBotName, toIsoUtc } from './git-source';
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
  /**
   * Merged PRs whose linked issues came from the PR body alone because GraphQL was unavailable or
   * answered with errors (see the module comment).
   */
  graphqlFallbacks: number;
}

/**
 * Closing issue references of one PR. `closingIssuesReferences` pages 10 at a time (`$after`);
 * an issue's comments beyond the first 100 are fetched through REST.
 */
const CLOSING_ISSUES_QUERY = `query ClosingIssues($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      closingIssuesReferences(first: 10, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          number
          title
          body
          createdAt
          author { login }
          repository { nameWithOwner }
          comments(first: 100) {
            pageInfo { hasNextPage }
            nodes { author { login } body createdAt }
          }
        }
      }
    }
  }
}`;

/** Pages of `closingIssuesReferences` read per PR at most (GitHub links at most a few dozen). */
const MAX_CLOSING_PAGES = 10;

interface GqlClosingIssue {
  number: number;
  title: string;
  body: string | null;
  createdAt: string | null;
  author: { login: string } | null;
  repository: { nameWithOwner: string } | null;
  comments: {
    pageInfo: { hasNextPage: boolean };
    nodes: ({ author: { login: string } | null; body: string | null; createdAt: string } | null)[] | null;
  };
}

interface GqlClosingAnswer {
  repository: {
    pullRequest: {
      closingIssuesReferences: {
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        nodes: (GqlClosingIssue | null)[] | null;
      } | null;
    } | null;
  } | null;
}

/** Thrown inside {@link listGithubPrs} when a PR must fall back to body parsing. */
class GraphqlUnavailable extends Error {
  constructor(
    message: string,
    /** True when the whole endpoint is unusable (404, 401): later PRs of the page skip it. */
    readonly endpointDown: boolean
  ) {
    super(message);
  }
}

/**
 * Why a GraphQL failure is a fallback case, or null when it is transient and must be rethrown:
 * `errors[]` in a 200 (except rate limiting), or a non-retryable 4xx that is not a rate limit.
 */
function graphqlFallbackReason(e: unknown): { reason: string; endpointDown: boolean } | null {
  if (typeof e !== 'object' || e === null) return null;
  const err = e as {
    name?: string;
    status?: number;
    message?: string;
    errors?: { type?: string; message?: string }[];
    response?: { headers?: Record<string, string | undefined> };
  };
  if (err.name === 'GraphqlResponseError') {
    const errors = err.errors ?? [];
    if (errors.some((x) => x.type === 'RATE_LIMITED')) return null;
    return { reason: `errors: ${errors.map((x) => x.type ?? x.message ?? '?').join(', ')}`, endpointDown: false };
  }
  const status = err.status ?? 0;
  if (![400, 401, 403, 404, 410, 422].includes(status)) return null;
  const h = err.response?.headers ?? {};
  const rateLimited =
    h['x-ratelimit-remaining'] === '0' || h['retry-after'] !== undefined || /rate limit/i.test(err.message ?? '');
  if (status === 403 && rateLimited) return null; // the throttling plugin gave up: transient
  return { reason: `HTTP ${status}`, endpointDown: status === 404 || status === 401 };
}

/** Minimum gap between two GraphQL queries of one `listGithubPrs` call. */
const GRAPHQL_MIN_GAP_MS = 100;

/**
 * The throttling plugin sends every `/graphql` request through its process-wide "write" group (one
 * at a time, at least 1 s apart), since it cannot tell queries from mutations. This Octokit sends
 * only read queries (a point or so each; GitHub's secondary limit for GraphQL is 2,000 points a
 * minute), so it gets its own group: query starts are `minGapMs` apart (the plugin schedules a no-op
 * on this group before each query; the query itself runs in the global group). Rate-limit answers
 * are still waited out and retried by the plugin. The plugin calls only
 * `group.key(id).schedule(jobOptions, fn, ...args)`, which is all this implements.
 */
function serialQueryGroup(minGapMs: number): NonNullable<ThrottlingOptionsBaseWrite> {
  let tail: Promise<unknown> = Promise.resolve();
  let lastStart = 0;
  const limiter = {
    schedule: (...a: unknown[]): Promise<unknown> => {
      const [fn, ...args] = (typeof a[0] === 'function' ? a : a.slice(1)) as [
        (...x: unknown[]) => Promise<unknown>,
        ...unknown[],
      ];
      const run = tail.then(async () => {
        const wait = lastStart + minGapMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        lastStart = Date.now();
        return fn(...args);
      });
      tail = run.catch(() => undefined);
      return run;
    },
  };
  return { key: () => limiter } as unknown as NonNullable<ThrottlingOptionsBaseWrite>;
}
type ThrottlingOptionsBaseWrite = Extract<ThrottlingOptions, { onRateLimit: unknown }>['write'];

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
      write: serialQueryGroup(GRAPHQL_MIN_GAP_MS),
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
  let graphqlFallbacks = 0;
  /** Set once GraphQL answered 404/401 (or there is no token): later PRs skip it. */
  let graphqlDown: string | null = opts.token ? null : 'no token (GitHub GraphQL requires authentication)';
  const gh = createOctokit(src, opts, counters);
  const maxRelevant = opts.maxRelevantFiles ?? DEFAULT_MAX_RELEVANT_FILES;
  const log = opts.logger?.child({ source: 'github', repo: src.repo });

  const perPage = Math.min(opts.limit, 100); // GitHub clamps per_page to 100; so do we, to keep offsets right
  const offset = (opts.cursor - 1) * perPage;
  if (src.max_prs !== undefined && offset >= src.max_prs)
    return { prs: [], nextCursor: null, apiCalls: 0, cacheHits: 0, graphqlFallbacks: 0 };

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

  type ApiIssueComment = { user: { login: string } | null; body?: string | null; created_at: string };
  const restComments = (n: number): Promise<ApiIssueComment[]> =>
    all<ApiIssueComment>('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', { issue_number: n });
  const toComment = (c: ApiIssueComment): Comment => ({
    author: c.user?.login ?? 'ghost',
    body: c.body ?? '',
    created_at: toIsoUtc(c.created_at),
  });

  /** The PR's same-repository closing issues per GraphQL, in GitHub's order; throws GraphqlUnavailable. */
  async function closingIssues(pr: number): Promise<LinkedIssue[]> {
    if (graphqlDown !== null) throw new GraphqlUnavailable(graphqlDown, true);
    const self = src.repo.toLowerCase();
    const out: LinkedIssue[] = [];
    const seen = new Set<number>();
    let after: string | undefined;
    for (let page = 0; page < MAX_CLOSING_PAGES; page++) {
      let answer: GqlClosingAnswer;
      try {
        answer = await gh.graphql<GqlClosingAnswer>(CLOSING_ISSUES_QUERY, {
          owner,
          name: repo,
          number: pr,
          ...(after !== undefined ? { after } : {}),
        });
      } catch (e) {
        const why = graphqlFallbackReason(e);
        if (!why) throw e;
        if (why.endpointDown) graphqlDown = why.reason;
        throw new GraphqlUnavailable(why.reason, why.endpointDown);
      }
      const refs = answer?.repository?.pullRequest?.closingIssuesReferences;
      if (!refs) throw new GraphqlUnavailable('pull request not found', false);
      for (const node of refs.nodes ?? []) {
        if (!node || node.number === pr || seen.has(node.number)) continue;
        if (node.repository && node.repository.nameWithOwner.toLowerCase() !== self) continue;
        seen.add(node.number);
        const comments = node.comments.pageInfo.hasNextPage
          ? (await restComments(node.number)).map(toComment)
          : (node.comments.nodes ?? []).flatMap((c) =>
              c ? [{ author: c.author?.login ?? 'ghost', body: c.body ?? '', created_at: toIsoUtc(c.createdAt) }] : []
            );
        out.push({
          number: node.number,
          title: node.title,
          body: node.body ?? '',
          created_at: node.createdAt ? toIsoUtc(node.createdAt) : null,
          comments,
        });
      }
      if (!refs.pageInfo.hasNextPage || !refs.pageInfo.endCursor) break;
      after = refs.pageInfo.endCursor;
    }
    return out;
  }

  /** GraphQL closing references, then body refs GraphQL did not list (REST); body alone on fallback. */
  async function linkedIssues(pr: number, body: string | null): Promise<LinkedIssue[]> {
    let fromGraphql: LinkedIssue[] = [];
    try {
      fromGraphql = await closingIssues(pr);
    } catch (e) {
      if (!(e instanceof GraphqlUnavailable)) throw e;
      graphqlFallbacks += 1;
      if (e.endpointDown)
        log?.debug({ pr, reason: e.message }, 'GraphQL unavailable; linked issues from the PR body only');
      else
        log?.warn({ pr, reason: e.message }, 'GraphQL closing references failed; linked issues from the PR body only');
    }
    const known = new Set(fromGraphql.map((i) => i.number));
    const rest = await Promise.all(
      parseIssueRefs(body, src.repo)
        .filter((i) => i !== pr && !known.has(i))
        .map(linkedIssue)
    );
    return [...fromGraphql, ...rest.filter((i): i is LinkedIssue => i !== null)];
  }

  async function linkedIssue(n: number): Promise<LinkedIssue | null> {
    try {
      const { data } = await gh.request('GET /repos/{owner}/{repo}/issues/{issue_number}', {
        owner,
        repo,
        issue_number: n,
      });
      if (data.pull_request) return null; // a closing ref to another PR, not an issue
      const comments = data.comments > 0 ? await restComments(n) : [];
      return {
        number: data.number,
        title: data.title,
        body: data.body ?? '',
        created_at: data.created_at ? toIsoUtc(data.created_at) : null,
        comments: comments.map(toComment),
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
      author_is_bot: pr.user?.type === 'Bot' || isKnownBotName(author),
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
      linkedIssues(n, pr.body),
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
      // GitHub's /pulls/N/commits stops at 250: a full list means the PR may have more.
      commits_truncated: apiCommits.length >= MAX_PR_COMMITS,
      commits,
      changed_files: changed,
      relevant_files: relevant,
      skipped_files: skipped,
      linked_issues: issues,
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
  if (graphqlDown !== null && graphqlFallbacks > 0)
    log?.warn({ reason: graphqlDown, prs: graphqlFallbacks }, 'GraphQL unavailable; linked issues from PR bodies only');
  return { prs, nextCursor, apiCalls: counters.apiCalls, cacheHits: counters.cacheHits, graphqlFallbacks };
}
