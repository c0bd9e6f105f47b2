/**
 * A fake GitHub REST API (node:http on 127.0.0.1, random port) serving one repository whose PRs are
 * given as `PrRecord`s — typically the git source's records of a fixture repo, so the GitHub and git
 * paths can be compared field by field — plus fault injection:
 * - `rateLimitOnce`: the first matching request gets a primary rate-limit 403
 *   (`x-ratelimit-remaining: 0`, `x-ratelimit-reset` = now + `resetAfterS`); every request until the
 *   reset gets the same 403, as on GitHub.
 * - `badGatewayOnce`: the first matching request gets a 502.
 * Every 200 carries a strong ETag and `If-None-Match` is honoured with 304. List endpoints paginate
 * with `per_page`/`page` and `Link` headers; `/commits/{sha}` pages its files 300 at a time.
 *
 * `POST /graphql` answers the one query shape the GitHub source sends — a pull request's
 * `closingIssuesReferences` (recognised by that field name; `$owner`, `$name`, `$number`, `$after`
 * taken from the variables, 10 per page, each issue's first 100 comments) — from the same issue
 * data. A PR's closing issues are `graphqlClosing[N]` when given, else the closing refs of its body
 * that name a served issue (what GitHub itself would list), so by default the merged result equals
 * body parsing. The rate-limit window and ETags apply to it as to REST. `graphqlDisabled` makes it
 * 404 (a GitHub Enterprise without GraphQL); `graphqlErrorsFor` answers 200 with `errors[]`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LinkedIssue, PrRecord } from '../../contracts/pr';
import { parseIssueRefs } from '../../activities/mine/issue-links';

/** A closing reference to an issue of another repository (served with synthetic data). */
export interface ForeignIssueRef {
  repo: string;
  number: number;
}

export interface FakeGithubOptions {
  /** `owner/name` served under /repos/owner/name. */
  repo: string;
  description?: string;
  /** PRs in listing order (created ascending). Commits with two parents are served too. */
  prs: PrRecord[];
  /** Issues served at /issues/N (PR numbers answer with a `pull_request` stub). */
  issues?: LinkedIssue[];
  /** Raw bytes of `path` at commit `ref` for the contents API; null → 404. */
  readFile?: (ref: string, path: string) => Buffer | null;
  /** Path+query pattern whose first hit starts a rate-limit window. */
  rateLimitOnce?: RegExp;
  /** Path+query pattern whose first hit gets a 502. */
  badGatewayOnce?: RegExp;
  /** Seconds from the rate-limit hit to `x-ratelimit-reset` (default 1). */
  resetAfterS?: number;
  /** Files per page of `/commits/{sha}` (GitHub: 300). */
  commitFilesPerPage?: number;
  /**
   * PR number → its GraphQL `closingIssuesReferences`, in order: issue numbers of this repository
   * (those not in `issues` are left out, as GitHub would) or issues of other repositories.
   * PRs not listed: the body's closing refs that name a served issue.
   */
  graphqlClosing?: Record<number, (number | ForeignIssueRef)[]>;
  /** `POST /graphql` answers 404, as on a GitHub Enterprise Server without GraphQL. */
  graphqlDisabled?: boolean;
  /** PR numbers whose GraphQL query is answered 200 with `errors[]` (and `data: null`). */
  graphqlErrorsFor?: number[];
}

export interface FakeRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  /** Request body (POST /graphql), or undefined. */
  body?: string;
  headers: Record<string, string | undefined>;
  /** Status the fake answered with. */
  status: number;
  /** Headers the fake answered with. */
  responseHeaders: Record<string, string>;
  /** Date.now() when answered. */
  at: number;
}

export interface FakeGithub {
  /** Base URL, e.g. http://127.0.0.1:54321 (use as `api_url`). */
  url: string;
  close(): Promise<void>;
  /** Every request received, in order. */
  requests: FakeRequest[];
}

/** A `readFile` for {@link FakeGithubOptions} backed by a local git repository. */
export function gitFileReader(repoPath: string): (ref: string, path: string) => Buffer | null {
  return (ref, path) => {
    try {
      return execFileSync('git', ['-C', repoPath, 'cat-file', 'blob', `${ref}:${path}`], {
        stdio: ['ignore', 'pipe', 'ignore'],
        maxBuffer: 64 << 20,
      });
    } catch {
      return null;
    }
  };
}

const gitBlobSha = (buf: Buffer): string => createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');

function lineCounts(patch: string | null): { additions: number; deletions: number } {
  let additions = 0;
  let deletions = 0;
  for (const l of (patch ?? '').split('\n')) {
    if (l.startsWith('+')) additions++;
    else if (l.startsWith('-')) deletions++;
  }
  return { additions, deletions };
}

const user = (login: string): { login: string; type: string } => ({
  login,
  type: /\[bot\]$/.test(login) ? 'Bot' : 'User',
});

/** Starts the fake on 127.0.0.1 with a random port. */
export async function startFakeGithub(opts: FakeGithubOptions): Promise<FakeGithub> {
  const [owner, name] = opts.repo.split('/') as [string, string];
  const requests: FakeRequest[] = [];
  const prsByNumber = new Map(opts.prs.map((p) => [p.number, p]));
  const issuesByNumber = new Map((opts.issues ?? []).map((i) => [i.number, i]));
  const commits = new Map<string, PrRecord['commits'][number]>();
  for (const p of opts.prs) for (const c of p.commits) commits.set(c.sha, c);
  let rateLimitUsed = false;
  let rateLimitedUntil = 0;
  let badGatewayUsed = false;
  let base = '';

  const prJson = (p: PrRecord): Record<string, unknown> => ({
    url: `${base}/repos/${opts.repo}/pulls/${p.number}`,
    number: p.number,
    state: p.state,
    title: p.title,
    body: p.body === '' ? null : p.body,
    user: { ...user(p.author), type: p.author_is_bot ? 'Bot' : 'User' },
    created_at: p.created_at,
    updated_at: p.closed_at ?? p.created_at,
    closed_at: p.closed_at,
    merged_at: p.merged_at,
    merge_commit_sha: p.merge_commit_sha,
    base: { ref: 'main', sha: p.base_sha },
    head: { ref: `pr-${p.number}`, sha: p.head_sha },
  });

  const commitJson = (c: PrRecord['commits'][number]): Record<string, unknown> => ({
    sha: c.sha,
    commit: {
      message: c.message,
      author: { name: c.author, email: `${c.author}@example.com`, date: c.authored_at },
      committer: { name: c.author, date: c.authored_at },
    },
    author: { login: c.author },
    parents: c.parents.map((sha) => ({ sha })),
  });

  const fileJson = (d: PrRecord['commits'][number]['diffs'][number]): Record<string, unknown> => {
    const { additions, deletions } = lineCounts(d.patch);
    return {
      filename: d.path,
      status: d.status,
      additions,
      deletions,
      changes: additions + deletions,
      ...(d.previous_path ? { previous_filename: d.previous_path } : {}),
      ...(d.patch !== null ? { patch: d.patch } : {}),
    };
  };

  const issueNode = (repo: string, i: LinkedIssue): Record<string, unknown> => ({
    number: i.number,
    title: i.title,
    body: i.body,
    createdAt: i.created_at,
    author: { login: 'reporter' },
    repository: { nameWithOwner: repo },
    comments: {
      totalCount: i.comments.length,
      pageInfo: { hasNextPage: i.comments.length > 100 },
      nodes: i.comments
        .slice(0, 100)
        .map((c) => ({ author: { login: c.author }, body: c.body, createdAt: c.created_at })),
    },
  });

  /** Answers a GraphQL request body: [status, json]. */
  function graphql(text: string): [number, unknown] {
    let req: { query?: unknown; variables?: Record<string, unknown> };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      return [400, { message: 'Problems parsing JSON' }];
    }
    const v = req.variables ?? {};
    if (typeof req.query !== 'string' || !req.query.includes('closingIssuesReferences'))
      return [200, { data: null, errors: [{ message: 'fake-github: unsupported query' }] }];
    if (v.owner !== owner || v.name !== name)
      return [
        200,
        {
          data: { repository: null },
          errors: [
            {
              type: 'NOT_FOUND',
              path: ['repository'],
              message: `Could not resolve to a Repository with the name '${String(v.owner)}/${String(v.name)}'.`,
            },
          ],
        },
      ];
    const n = Number(v.number);
    if (opts.graphqlErrorsFor?.includes(n))
      return [200, { data: null, errors: [{ type: 'FORBIDDEN', message: 'Resource not accessible by integration' }] }];
    const pr = prsByNumber.get(n);
    if (!pr)
      return [
        200,
        {
          data: { repository: { pullRequest: null } },
          errors: [{ type: 'NOT_FOUND', path: ['repository', 'pullRequest'], message: `No PR ${n}` }],
        },
      ];
    const refs = opts.graphqlClosing?.[n] ?? parseIssueRefs(pr.body, opts.repo);
    const nodes = refs.flatMap((r) => {
      if (typeof r !== 'number')
        return [
          issueNode(r.repo, {
            number: r.number,
            title: `${r.repo}#${r.number}`,
            body: '',
            created_at: null,
            comments: [],
          }),
        ];
      const issue = issuesByNumber.get(r);
      return issue ? [issueNode(opts.repo, issue)] : [];
    });
    const start = typeof v.after === 'string' ? Number(v.after) : 0;
    const end = start + 10;
    return [
      200,
      {
        data: {
          repository: {
            pullRequest: {
              closingIssuesReferences: {
                totalCount: nodes.length,
                pageInfo: {
                  hasNextPage: end < nodes.length,
                  endCursor: nodes.length > start ? String(Math.min(end, nodes.length)) : null,
                },
                nodes: nodes.slice(start, end),
              },
            },
          },
        },
      },
    ];
  }

  /** Resolves a GET to [status, json] or null for 404. */
  function route(
    pathname: string,
    q: URLSearchParams
  ): { body: unknown; list?: boolean; perPageMax?: number; perPageDefault?: number } | null {
    const prefix = `/repos/${owner}/${name}`;
    if (!pathname.startsWith(prefix)) return null;
    const rest = pathname.slice(prefix.length);
    if (rest === '' || rest === '/')
      return { body: { full_name: opts.repo, name, owner: { login: owner }, description: opts.description ?? null } };
    if (rest === '/pulls') {
      const state = q.get('state') ?? 'open';
      return { body: opts.prs.filter((p) => state === 'all' || p.state === state).map(prJson), list: true };
    }
    let m = /^\/pulls\/(\d+)\/(commits|files|reviews|comments)$/.exec(rest);
    if (m) {
      const p = prsByNumber.get(Number(m[1]));
      if (!p) return null;
      switch (m[2]) {
        case 'commits':
          return { body: p.commits.map(commitJson), list: true, perPageMax: 250 };
        case 'files':
          return {
            body: p.changed_files.map((f) => ({
              filename: f.path,
              status: f.status,
              additions: 0,
              deletions: 0,
              changes: 0,
              ...(f.previous_path ? { previous_filename: f.previous_path } : {}),
            })),
            list: true,
          };
        case 'reviews':
          return {
            body: p.reviews.map((r, i) => ({
              id: i + 1,
              user: user(r.author),
              body: r.body,
              state: r.state.toUpperCase(),
              submitted_at: r.submitted_at,
            })),
            list: true,
          };
        default:
          return {
            body: p.review_comments.map((c) => ({
              id: c.id,
              ...(c.in_reply_to !== null ? { in_reply_to_id: c.in_reply_to } : {}),
              user: user(c.author),
              body: c.body,
              created_at: c.created_at,
              path: c.path,
              diff_hunk: c.diff_hunk,
            })),
            list: true,
          };
      }
    }
    m = /^\/issues\/(\d+)(\/comments)?$/.exec(rest);
    if (m) {
      const n = Number(m[1]);
      const issue = issuesByNumber.get(n);
      const pr = prsByNumber.get(n);
      if (m[2]) {
        const comments = issue?.comments ?? pr?.comments;
        if (!comments) return null;
        return {
          body: comments.map((c, i) => ({
            id: n * 1000 + i,
            user: user(c.author),
            body: c.body,
            created_at: c.created_at,
          })),
          list: true,
        };
      }
      if (issue)
        return {
          body: {
            number: n,
            title: issue.title,
            body: issue.body || null,
            created_at: issue.created_at,
            state: 'closed',
            user: user('reporter'),
            comments: issue.comments.length,
          },
        };
      if (pr)
        return {
          body: {
            number: n,
            title: pr.title,
            body: pr.body,
            created_at: pr.created_at,
            state: 'closed',
            comments: pr.comments.length,
            pull_request: { url: `${base}${prefix}/pulls/${n}` },
          },
        };
      return null;
    }
    m = /^\/commits\/([0-9a-f]{40})$/.exec(rest);
    if (m) {
      const c = commits.get(m[1]!);
      if (!c) return null;
      const per = Number(q.get('per_page') ?? opts.commitFilesPerPage ?? 300);
      const page = Number(q.get('page') ?? 1);
      const files = c.diffs.slice((page - 1) * per, page * per).map(fileJson);
      return { body: { ...commitJson(c), files, __pages: Math.max(1, Math.ceil(c.diffs.length / per)) } };
    }
    m = /^\/contents\/(.+)$/.exec(rest);
    if (m) {
      const path = m[1]!.split('/').map(decodeURIComponent).join('/');
      const ref = q.get('ref') ?? 'HEAD';
      const buf = opts.readFile?.(ref, path) ?? null;
      if (!buf) return null;
      const b64 = buf.toString('base64').replace(/.{60}/g, '$&\n');
      return {
        body: {
          type: 'file',
          encoding: 'base64',
          size: buf.length,
          name: path.split('/').pop(),
          path,
          sha: gitBlobSha(buf),
          content: b64,
        },
      };
    }
    return null;
  }

  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    requestBody?: string
  ): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const h: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      ...headers,
    };
    if (status === 200) {
      const etag = `"${createHash('sha1').update(text).digest('hex')}"`;
      h.etag = etag;
      if (req.headers['if-none-match'] === etag) {
        status = 304;
        delete h['content-type'];
      }
    }
    const recordHeaders: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) recordHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '',
      ...(requestBody !== undefined ? { body: requestBody } : {}),
      headers: recordHeaders,
      status,
      responseHeaders: { ...h },
      at: Date.now(),
    });
    res.writeHead(status, h);
    res.end(status === 304 ? undefined : text);
  };

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', base);
    if (req.method === 'POST' && u.pathname === '/graphql') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handle(req, res, u, Buffer.concat(chunks).toString('utf8')));
      return;
    }
    handle(req, res, u, undefined);
  });

  function handle(req: IncomingMessage, res: ServerResponse, u: URL, requestBody: string | undefined): void {
    const pathQuery = `${u.pathname}${u.search}`;
    const isGraphql = requestBody !== undefined;
    if (req.method !== 'GET' && !isGraphql) return send(req, res, 404, { message: 'Not Found' });
    const now = Date.now();
    if (opts.rateLimitOnce && !rateLimitUsed && opts.rateLimitOnce.test(pathQuery)) {
      rateLimitUsed = true;
      rateLimitedUntil = (Math.ceil(now / 1000) + (opts.resetAfterS ?? 1)) * 1000;
    }
    if (now < rateLimitedUntil) {
      return send(
        req,
        res,
        403,
        {
          message: 'API rate limit exceeded for 127.0.0.1.',
          documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
        },
        {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(rateLimitedUntil / 1000),
        },
        requestBody
      );
    }
    if (opts.badGatewayOnce && !badGatewayUsed && opts.badGatewayOnce.test(pathQuery)) {
      badGatewayUsed = true;
      return send(req, res, 502, { message: 'Server Error' }, {}, requestBody);
    }
    if (isGraphql) {
      if (opts.graphqlDisabled)
        return send(
          req,
          res,
          404,
          { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
          {},
          requestBody
        );
      const [status, body] = graphql(requestBody);
      return send(req, res, status, body, {}, requestBody);
    }
    const r = route(u.pathname, u.searchParams);
    if (!r) return send(req, res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    const link = (page: number, last: number): Record<string, string> => {
      const rel = (p: number, n: string): string => {
        const q = new URLSearchParams(u.searchParams);
        q.set('page', String(p));
        return `<${base}${u.pathname}?${q.toString()}>; rel="${n}"`;
      };
      const parts: string[] = [];
      if (page > 1) parts.push(rel(page - 1, 'prev'));
      if (page < last) parts.push(rel(page + 1, 'next'), rel(last, 'last'));
      if (page > 1) parts.push(rel(1, 'first'));
      return parts.length ? { link: parts.join(', ') } : {};
    };
    const page = Math.max(1, Number(u.searchParams.get('page') ?? 1));
    if (r.list) {
      const all = r.body as unknown[];
      const per = Math.min(Number(u.searchParams.get('per_page') ?? 30), r.perPageMax ?? 100);
      const last = Math.max(1, Math.ceil(all.length / per));
      return send(req, res, 200, all.slice((page - 1) * per, page * per), link(page, last));
    }
    const body = r.body as Record<string, unknown>;
    if ('__pages' in body) {
      const { __pages, ...rest } = body;
      return send(req, res, 200, rest, link(page, __pages as number));
    }
    return send(req, res, 200, body);
  }

  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    close: () =>
      new Promise<void>((res, rej) => {
        server.closeAllConnections();
        server.close((e) => (e ? rej(e) : res()));
      }),
  };
}
