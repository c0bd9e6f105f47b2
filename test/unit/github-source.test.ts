import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { GithubSource, GitSource } from '../../contracts/mine';
import { PrRecord } from '../../contracts/pr';
import type { LinkedIssue } from '../../contracts/pr';
import { listGitPrs, loadIssuesFile } from '../../activities/mine/git-source';
import { createCachingFetch, isImmutableUrl } from '../../activities/mine/github-cache';
import { listGithubPrs, type ListGithubPrsResult } from '../../activities/mine/github-source';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { gitFileReader, startFakeGithub, type FakeGithub, type FakeRequest } from '../helpers/fake-github';

const TOKEN = 'ghp_secret-test-token';
const PER_PAGE = 4;
const hex = (c: string): string => c.repeat(40);

/** A merged PR with 330 changed files in one commit (plus a back-merge commit GitHub would list). */
function bigPr(description: string): PrRecord {
  const parent = hex('c');
  const diffs = Array.from({ length: 330 }, (_, i) =>
    i < 60
      ? {
          path: `gen/mod_${String(i).padStart(3, '0')}.py`,
          previous_path: null,
          status: 'modified' as const,
          patch: '@@ -1 +1 @@\n-# old\n+# new',
          binary: false,
        }
      : {
          path: `gen/new_${String(i).padStart(3, '0')}.py`,
          previous_path: null,
          status: 'added' as const,
          patch: `@@ -0,0 +1 @@\n+x = ${i}`,
          binary: false,
        }
  );
  return PrRecord.parse({
    repo: 'acme/widgets',
    repo_description: description,
    number: 12,
    title: 'Generate 330 modules',
    body: 'Huge codegen PR.',
    author: 'gen-user',
    state: 'closed',
    merged: true,
    created_at: '2024-04-01T00:00:00Z',
    merged_at: '2024-04-02T00:00:00Z',
    closed_at: '2024-04-02T00:00:00Z',
    base_sha: hex('d'),
    head_sha: hex('b'),
    merge_commit_sha: hex('e'),
    commits: [
      {
        sha: hex('b'),
        parents: [parent],
        author: 'gen-user',
        authored_at: '2024-04-01T00:00:00Z',
        message: 'Generate modules',
        diffs,
      },
      {
        sha: hex('f'),
        parents: [hex('b'), hex('d')],
        author: 'gen-user',
        authored_at: '2024-04-01T12:00:00Z',
        message: "Merge branch 'main' into gen",
        diffs: [],
      },
    ],
    changed_files: diffs.map((d) => ({ path: d.path, status: d.status })),
    relevant_files: [],
  });
}

const unmergedPr = (description: string): PrRecord =>
  PrRecord.parse({
    repo: 'acme/widgets',
    repo_description: description,
    number: 11,
    title: 'Abandoned experiment',
    author: 'mallory',
    state: 'closed',
    merged: false,
    created_at: '2024-03-30T00:00:00Z',
    closed_at: '2024-03-31T00:00:00Z',
    base_sha: hex('d'),
    head_sha: hex('a'),
    commits: [],
    changed_files: [],
    relevant_files: [],
  });

async function listAll(
  src: GithubSource,
  cacheDir: string,
  extra: Partial<Parameters<typeof listGithubPrs>[1]> = {}
): Promise<{ prs: PrRecord[]; pages: ListGithubPrsResult[] }> {
  const pages: ListGithubPrsResult[] = [];
  let cursor: number | null = 1;
  while (cursor !== null) {
    const res = await listGithubPrs(src, { cursor, limit: PER_PAGE, token: TOKEN, cacheDir, ...extra });
    pages.push(res);
    cursor = res.nextCursor;
  }
  return { prs: pages.flatMap((p) => p.prs), pages };
}

describe('listGithubPrs against a fake GitHub built from the fixture repo', () => {
  let dir: string;
  let cacheDir: string;
  let fake: FakeGithub;
  let src: GithubSource;
  /** What GitHub should produce: the git source's records, with conversation added to #5. */
  let expected: PrRecord[];
  let first: { prs: PrRecord[]; pages: ListGithubPrsResult[] };
  let firstRequests: FakeRequest[];
  let firstElapsed = 0;
  const logLines: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bottega-github-'));
    cacheDir = join(dir, 'cache');
    const [widgets] = (await makeFixtureRepos(join(dir, 'fixtures'))).repos;
    const gitSrc = GitSource.parse({
      type: 'git',
      repo: widgets!.repo,
      path: widgets!.path,
      description: widgets!.description,
      issues_file: widgets!.issuesFile!,
    });
    const gitPrs = (await listGitPrs(gitSrc, { cursor: 0, limit: 100 })).prs;
    const issues: LinkedIssue[] = [...(await loadIssuesFile(widgets!.issuesFile!)).values()];
    const withTalk = gitPrs.map((p) =>
      p.number !== 5
        ? p
        : PrRecord.parse({
            ...p,
            comments: [
              { author: 'erin', body: 'Thanks! Could you add a test?', created_at: '2024-03-02T10:00:00Z' },
              { author: 'dave', body: 'Done.', created_at: '2024-03-02T11:00:00Z' },
            ],
            reviews: [
              {
                author: 'Maya Maintainer',
                body: 'Please return floats.',
                state: 'changes_requested',
                submitted_at: '2024-03-02T12:00:00Z',
              },
              { author: 'Maya Maintainer', body: '', state: 'approved', submitted_at: '2024-03-02T15:00:00Z' },
            ],
            review_comments: [
              {
                author: 'Maya Maintainer',
                body: 'Use 0.0 here',
                created_at: '2024-03-02T12:00:00Z',
                path: 'widgets/core.py',
                diff_hunk: '@@ -10,2 +10,4 @@',
                id: 501,
                in_reply_to: null,
              },
              {
                author: 'dave',
                body: 'Fixed',
                created_at: '2024-03-02T13:00:00Z',
                path: 'widgets/core.py',
                diff_hunk: '@@ -10,2 +10,4 @@',
                id: 502,
                in_reply_to: 501,
              },
            ],
          })
    );
    const big = bigPr(widgets!.description);
    const served = [...withTalk, unmergedPr(widgets!.description), big];
    const readGit = gitFileReader(widgets!.path);
    fake = await startFakeGithub({
      repo: 'acme/widgets',
      description: widgets!.description,
      prs: served,
      issues,
      readFile: (ref, path) =>
        path.startsWith('gen/') ? Buffer.from(`# ${path} at ${ref.slice(0, 7)}\n`) : readGit(ref, path),
      rateLimitOnce: /\/pulls\/5\/reviews/,
      badGatewayOnce: /\/pulls\/1\/files/,
    });
    src = GithubSource.parse({ type: 'github', repo: 'acme/widgets', api_url: fake.url });

    const bigExpected = PrRecord.parse({
      ...big,
      commits: big.commits.filter((c) => c.parents.length === 1),
      relevant_files: big.changed_files
        .slice(0, 50)
        .map((f) => ({ path: f.path, content: `# ${f.path} at ccccccc\n` })),
      skipped_files: big.changed_files.slice(50, 60).map((f) => ({ path: f.path, reason: 'too_many_files' })),
    });
    expected = [...withTalk, unmergedPr(widgets!.description), bigExpected];

    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const t0 = Date.now();
    first = await listAll(src, cacheDir, { logger: pino({ level: 'debug' }, sink) });
    firstElapsed = Date.now() - t0;
    firstRequests = [...fake.requests];
  });

  after(async () => {
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pages through the closed-PR listing with created-ascending order', () => {
    assert.deepEqual(
      first.pages.map((p) => p.nextCursor),
      [2, 3, null]
    );
    assert.deepEqual(
      first.pages.map((p) => p.prs.length),
      [4, 4, 2]
    );
    const listings = firstRequests.filter((r) => r.url.startsWith('/repos/acme/widgets/pulls?'));
    assert.equal(listings.length, 3);
    for (const [i, r] of listings.entries()) {
      const q = new URL(r.url, 'http://x').searchParams;
      assert.deepEqual(Object.fromEntries(q), {
        state: 'closed',
        sort: 'created',
        direction: 'asc',
        per_page: String(PER_PAGE),
        page: String(i + 1),
      });
    }
  });

  it('produces the same records as the git source (plus conversation), all valid', () => {
    assert.equal(first.prs.length, expected.length);
    for (const [i, p] of first.prs.entries()) {
      assert.deepEqual(PrRecord.parse(p), p);
      assert.deepEqual(p, expected[i], `PR #${expected[i]!.number}`);
    }
    const five = first.prs.find((p) => p.number === 5)!;
    assert.equal(five.linked_issues[0]?.title, 'normalize() raises ZeroDivisionError on all-zero input');
    assert.deepEqual(
      five.reviews.map((r) => r.state),
      ['changes_requested', 'approved']
    );
    const six = first.prs.find((p) => p.number === 6)!;
    assert.deepEqual(
      six.skipped_files.map((s) => s.reason),
      ['binary', 'non_utf8']
    );
  });

  it('returns unmerged PRs without fetching their details', () => {
    const p = first.prs.find((x) => x.number === 11)!;
    assert.equal(p.merged, false);
    assert.deepEqual(p.commits, []);
    assert.ok(!firstRequests.some((r) => r.url.includes('/pulls/11/') || r.url.includes('/issues/11')));
  });

  it('handles a PR with 330 files: every page of PR files and commit files', () => {
    const p = first.prs.find((x) => x.number === 12)!;
    assert.equal(p.changed_files.length, 330);
    assert.equal(new Set(p.changed_files.map((f) => f.path)).size, 330);
    assert.equal(p.commits.length, 1, 'merge commit dropped');
    assert.equal(p.commits[0]!.diffs.length, 330);
    const filePages = firstRequests
      .filter((r) => r.url.startsWith('/repos/acme/widgets/pulls/12/files'))
      .map((r) => new URL(r.url, 'http://x').searchParams.get('page') ?? '1');
    assert.deepEqual(filePages, ['1', '2', '3', '4']);
    const commitPages = firstRequests.filter((r) => r.url.startsWith(`/repos/acme/widgets/commits/${hex('b')}`));
    assert.equal(commitPages.length, 2);
    assert.equal(p.relevant_files.length, 50);
    const contentCalls = firstRequests.filter((r) => r.url.startsWith('/repos/acme/widgets/contents/gen/'));
    assert.equal(contentCalls.length, 50, 'truncated files are not fetched');
  });

  it('waits out a primary rate limit until x-ratelimit-reset, then retries', () => {
    const i = firstRequests.findIndex((r) => r.status === 403);
    assert.ok(i >= 0, 'a 403 was served');
    const hit = firstRequests[i]!;
    assert.match(hit.url, /\/pulls\/5\/reviews/);
    const retry = firstRequests.slice(i + 1).find((r) => r.url === hit.url && r.status === 200);
    assert.ok(retry, 'the rate-limited request was retried and succeeded');
    const reset = Number(hit.responseHeaders['x-ratelimit-reset']) * 1000;
    assert.equal(hit.responseHeaders['x-ratelimit-remaining'], '0');
    assert.ok(reset > hit.at);
    assert.ok(retry.at >= reset, `retried at ${retry.at}, reset at ${reset}`);
    assert.ok(firstElapsed >= 1000);
    assert.ok(logLines.some((l) => l.includes('GitHub rate limit hit')));
  });

  it('retries a 502', () => {
    const hits = firstRequests.filter((r) => r.url.startsWith('/repos/acme/widgets/pulls/1/files'));
    // The retry may land in the rate-limit window and be throttled once more before succeeding.
    assert.equal(hits[0]?.status, 502);
    assert.equal(hits.at(-1)?.status, 200);
    assert.equal(hits.filter((r) => r.status === 502).length, 1);
  });

  it('counts quota-costing calls and sends the token without logging it', () => {
    const calls = first.pages.reduce((n, p) => n + p.apiCalls, 0);
    assert.equal(calls, firstRequests.length, 'every request of a cold run costs quota');
    assert.equal(
      first.pages.reduce((n, p) => n + p.cacheHits, 0),
      0
    );
    assert.ok(firstRequests.every((r) => r.headers.authorization === `token ${TOKEN}`));
    assert.ok(logLines.length > 0);
    assert.ok(!logLines.join('').includes(TOKEN), 'token never logged');
  });

  it('a second run is served from the cache: only free 304 revalidations, same records', async () => {
    const before = fake.requests.length;
    const second = await listAll(src, cacheDir);
    const again = fake.requests.slice(before);
    assert.deepEqual(second.prs, first.prs);
    assert.equal(
      second.pages.reduce((n, p) => n + p.apiCalls, 0),
      0
    );
    assert.ok(again.length > 0);
    assert.ok(
      again.every((r) => r.status === 304 && r.headers['if-none-match']),
      'every request is a conditional one answered 304'
    );
    assert.ok(!again.some((r) => isImmutableUrl(r.url)), 'SHA-pinned resources are not even revalidated');
    assert.ok(!again.some((r) => r.url.endsWith('/issues/99')), 'a stable 404 is remembered');
    assert.ok(again.length < firstRequests.length / 2);
    const offline = firstRequests.filter(
      (r) => (r.status === 200 && isImmutableUrl(r.url)) || (r.status === 404 && r.url.endsWith('/issues/99'))
    );
    assert.equal(
      second.pages.reduce((n, p) => n + p.cacheHits, 0),
      again.length + offline.length
    );
  });

  it('honours max_prs', async () => {
    const capped = { ...src, max_prs: 5 };
    const p1 = await listGithubPrs(capped, { cursor: 1, limit: PER_PAGE, token: TOKEN, cacheDir });
    const p2 = await listGithubPrs(capped, { cursor: 2, limit: PER_PAGE, token: TOKEN, cacheDir });
    assert.equal(p1.nextCursor, 2);
    assert.equal(p2.prs.length, 1);
    assert.equal(p2.nextCursor, null);
    const n = fake.requests.length;
    const p3 = await listGithubPrs(capped, { cursor: 3, limit: PER_PAGE, token: TOKEN, cacheDir });
    assert.deepEqual(p3, { prs: [], nextCursor: null, apiCalls: 0, cacheHits: 0, graphqlFallbacks: 0 });
    assert.equal(fake.requests.length, n);
  });
});

describe('isImmutableUrl', () => {
  it('recognises SHA-pinned GitHub URLs only', () => {
    assert.ok(isImmutableUrl(`https://api.github.com/repos/o/r/commits/${hex('a')}`));
    assert.ok(isImmutableUrl(`https://api.github.com/repos/o/r/commits/${hex('a')}?page=2`));
    assert.ok(isImmutableUrl(`https://api.github.com/repos/o/r/contents/a/b.py?ref=${hex('0')}`));
    assert.ok(!isImmutableUrl('https://api.github.com/repos/o/r/contents/a/b.py?ref=main'));
    assert.ok(!isImmutableUrl('https://api.github.com/repos/o/r/commits/main'));
    assert.ok(!isImmutableUrl('https://api.github.com/repos/o/r/pulls/1/commits'));
  });
});

/** A merged PR without commits or files: only its conversation and linked issues matter here. */
const talkPr = (number: number, body: string): PrRecord =>
  PrRecord.parse({
    repo: 'acme/widgets',
    number,
    title: `PR ${number}`,
    body,
    author: 'dave',
    state: 'closed',
    merged: true,
    created_at: `2024-05-${String(number - 20).padStart(2, '0')}T00:00:00Z`,
    merged_at: `2024-05-${String(number - 20).padStart(2, '0')}T12:00:00Z`,
    closed_at: `2024-05-${String(number - 20).padStart(2, '0')}T12:00:00Z`,
    base_sha: hex('d'),
    head_sha: hex('a'),
    merge_commit_sha: hex('e'),
    commits: [],
    changed_files: [],
    relevant_files: [],
  });

const issue = (number: number, comments = 1): LinkedIssue => ({
  number,
  title: `Issue ${number}`,
  body: `Body of issue ${number}`,
  created_at: '2024-04-01T00:00:00Z',
  comments: Array.from({ length: comments }, (_, i) => ({
    author: i % 2 ? 'erin' : 'frank',
    body: `comment ${i} on #${number}`,
    created_at: `2024-04-02T00:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`,
  })),
});

describe('linked issues through GraphQL closingIssuesReferences', () => {
  let dir: string;
  const issues = [
    issue(31, 2),
    issue(32),
    issue(33, 0),
    issue(34, 120),
    ...[40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51].map((n) => issue(n, 0)),
  ];
  const prs = [
    talkPr(21, 'Refactor the parser.'), // closes #31 only per GraphQL (linked in the UI)
    talkPr(22, 'Fixes #32. Also fixes #31.'), // GraphQL: #33, #31 and a foreign issue
    talkPr(23, 'Closes #34'), // GraphQL only; 120 comments
    talkPr(24, 'Big cleanup'), // 12 closing issues: two GraphQL pages
    talkPr(25, 'fixes #31'), // no graphqlClosing entry: the fake lists the body's refs
  ];
  const graphqlClosing = {
    21: [31],
    22: [33, 31, { repo: 'other/lib', number: 5 }, 31],
    23: [34],
    24: [40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51],
  };

  /** Lists the page from `fake` (a new fake with `fakeOpts`, closed afterwards, when not given). */
  async function runOnce(
    fakeOpts: Partial<Parameters<typeof startFakeGithub>[0]>,
    cacheDir: string,
    given?: FakeGithub
  ): Promise<{ res: ListGithubPrsResult; fake: FakeGithub; logs: string }> {
    const fake = given ?? (await startFakeGithub({ repo: 'acme/widgets', prs, issues, graphqlClosing, ...fakeOpts }));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    });
    try {
      const src = GithubSource.parse({ type: 'github', repo: 'acme/widgets', api_url: fake.url });
      const res = await listGithubPrs(src, {
        cursor: 1,
        limit: 10,
        token: TOKEN,
        cacheDir,
        logger: pino({ level: 'debug' }, sink),
      });
      return { res, fake, logs: lines.join('') };
    } finally {
      if (!given) await fake.close();
    }
  }
  const linked = (res: ListGithubPrsResult, n: number): LinkedIssue[] =>
    res.prs.find((p) => p.number === n)!.linked_issues;
  const restIssueCalls = (fake: FakeGithub): string[] =>
    fake.requests.filter((r) => /\/issues\/\d+$/.test(r.url)).map((r) => r.url.replace(/.*\/issues\//, '#'));
  const graphqlCalls = (fake: FakeGithub): FakeRequest[] => fake.requests.filter((r) => r.url === '/graphql');

  let ok: { res: ListGithubPrsResult; fake: FakeGithub; logs: string };
  let shared: FakeGithub;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bottega-graphql-'));
    const fake = await startFakeGithub({ repo: 'acme/widgets', prs, issues, graphqlClosing });
    ok = await runOnce({}, join(dir, 'cache'), fake);
    ok.fake = { ...fake, requests: [...fake.requests] }; // the first run's requests only
    shared = fake;
  });
  after(async () => {
    await shared?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds an issue known only to GraphQL, with title, body and comments', () => {
    assert.deepEqual(linked(ok.res, 21), [issues[0]]);
    assert.equal(ok.res.graphqlFallbacks, 0);
    assert.ok(!restIssueCalls(ok.fake).includes('#31'), 'GraphQL data is used as is');
    const calls = graphqlCalls(ok.fake);
    assert.equal(calls.length, prs.length + 1, 'one query per merged PR, two for the 12-issue PR');
    assert.ok(calls.every((r) => r.method === 'POST' && r.headers.authorization === `token ${TOKEN}`));
    const q = JSON.parse(calls[0]!.body!) as { query: string; variables: Record<string, unknown> };
    assert.match(q.query, /closingIssuesReferences\(first: 10/);
    assert.match(q.query, /comments\(first: 100\)/);
    assert.equal(q.variables.owner, 'acme');
    assert.equal(q.variables.name, 'widgets');
  });

  it('merges GraphQL refs (first) with body refs, without duplicates, same repository only', () => {
    assert.deepEqual(
      linked(ok.res, 22).map((i) => i.number),
      [33, 31, 32]
    );
    assert.deepEqual(linked(ok.res, 22)[2], issues[1], 'the body-only ref is fetched through REST');
    assert.deepEqual(restIssueCalls(ok.fake), ['#32']);
    assert.deepEqual(linked(ok.res, 25), [issues[0]], 'default fake answer = body refs');
  });

  it('fetches comments beyond the first 100 through REST, and pages closing references', () => {
    const [i34] = linked(ok.res, 23);
    assert.equal(i34!.comments.length, 120);
    assert.deepEqual(i34, issues[3]);
    assert.ok(ok.fake.requests.some((r) => r.url.startsWith('/repos/acme/widgets/issues/34/comments')));
    assert.deepEqual(
      linked(ok.res, 24).map((i) => i.number),
      graphqlClosing[24]
    );
  });

  it('revalidates GraphQL answers keyed by the query body: a rerun is all 304s', async () => {
    const before = shared.requests.length;
    const again = await runOnce({}, join(dir, 'cache'), shared);
    assert.deepEqual(again.res.prs, ok.res.prs);
    assert.equal(again.res.apiCalls, 0);
    const calls = shared.requests.slice(before).filter((r) => r.url === '/graphql');
    assert.equal(calls.length, prs.length + 1);
    assert.ok(calls.every((r) => r.status === 304 && r.headers['if-none-match']));
  });

  it('falls back to body parsing when GraphQL is absent (404), counts and logs it', async () => {
    const { res, fake, logs } = await runOnce({ graphqlDisabled: true }, join(dir, 'cache-404'));
    assert.equal(res.graphqlFallbacks, prs.length);
    assert.deepEqual(linked(res, 21), []);
    assert.deepEqual(
      linked(res, 22).map((i) => i.number),
      [32, 31]
    );
    assert.deepEqual(linked(res, 23), [issues[3]]);
    assert.deepEqual(linked(res, 24), []);
    assert.ok(graphqlCalls(fake).length >= 1);
    assert.ok(graphqlCalls(fake).length <= 4, 'later PRs do not ask again once GraphQL answered 404');
    assert.ok(graphqlCalls(fake).every((r) => r.status === 404));
    assert.match(logs, /GraphQL unavailable/);
  });

  it('falls back for one PR whose GraphQL answer carries errors[]', async () => {
    const { res, logs } = await runOnce({ graphqlErrorsFor: [22] }, join(dir, 'cache-errors'));
    assert.equal(res.graphqlFallbacks, 1);
    assert.deepEqual(
      linked(res, 22).map((i) => i.number),
      [32, 31]
    );
    assert.deepEqual(linked(res, 21), [issues[0]]);
    assert.match(logs, /GraphQL closing references failed/);
    assert.match(logs, /FORBIDDEN/);
  });

  it('skips GraphQL without a token (it requires one) and counts the fallback', async () => {
    const fake = await startFakeGithub({ repo: 'acme/widgets', prs, issues, graphqlClosing });
    try {
      const src = GithubSource.parse({ type: 'github', repo: 'acme/widgets', api_url: fake.url });
      const res = await listGithubPrs(src, { cursor: 1, limit: 10, token: undefined, cacheDir: join(dir, 'anon') });
      assert.equal(res.graphqlFallbacks, prs.length);
      assert.equal(graphqlCalls(fake).length, 0);
      assert.deepEqual(linked(res, 25), [issues[0]]);
    } finally {
      await fake.close();
    }
  });
});

describe('createCachingFetch and POST', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bottega-cachepost-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A base fetch answering every request 200 with `etag` (or none), honouring If-None-Match. */
  function stub(etag: string | null): {
    fetch: typeof fetch;
    seen: { url: string; inm: string | null; body: unknown }[];
  } {
    const seen: { url: string; inm: string | null; body: unknown }[] = [];
    const f = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
      const inm = new Headers(init?.headers).get('if-none-match');
      seen.push({ url: String(input), inm, body: init?.body });
      if (etag && inm === etag) return new Response(null, { status: 304 });
      return new Response(JSON.stringify({ data: { n: seen.length } }), {
        status: 200,
        headers: { 'content-type': 'application/json', ...(etag ? { etag } : {}) },
      });
    };
    return { fetch: f as typeof fetch, seen };
  }
  const post = (body: string): RequestInit => ({
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });
  const q1 = JSON.stringify({ query: 'query { viewer { login } }', variables: { a: 1 } });
  const q2 = JSON.stringify({ query: 'query { viewer { login } }', variables: { a: 2 } });

  it('keys GraphQL queries by body, revalidates with the ETag, never serves them unrevalidated', async () => {
    const counters = { apiCalls: 0, cacheHits: 0 };
    const base = stub('"v1"');
    const f = createCachingFetch({ cacheDir: join(dir, 'etag'), counters, baseFetch: base.fetch });
    const url = 'https://api.example.test/graphql';
    const a = await (await f(url, post(q1))).json();
    const b = await (await f(url, post(q2))).json();
    const a2 = await (await f(url, post(q1))).json();
    assert.deepEqual(a, { data: { n: 1 } });
    assert.deepEqual(b, { data: { n: 2 } }, 'another body is another entry');
    assert.deepEqual(a2, a, 'the 304 replays the entry of that body');
    assert.deepEqual(
      base.seen.map((s) => s.inm),
      [null, null, '"v1"']
    );
    assert.deepEqual(counters, { apiCalls: 2, cacheHits: 1 });
  });

  it('always refetches GraphQL without an ETag, and never caches other POSTs or mutations', async () => {
    const counters = { apiCalls: 0, cacheHits: 0 };
    const base = stub(null);
    const f = createCachingFetch({ cacheDir: join(dir, 'none'), counters, baseFetch: base.fetch });
    await f('https://api.example.test/graphql', post(q1));
    const again = await (await f('https://api.example.test/graphql', post(q1))).json();
    assert.deepEqual(again, { data: { n: 2 } }, 'fresh answer, not a stale one');

    const tagged = stub('"v1"');
    const g = createCachingFetch({ cacheDir: join(dir, 'other'), counters, baseFetch: tagged.fetch });
    const mutation = JSON.stringify({ query: 'mutation { addStar(input: {}) { clientMutationId } }' });
    for (let i = 0; i < 2; i++) {
      await g('https://api.example.test/graphql', post(mutation));
      await g('https://api.example.test/repos/o/r/issues', post('{"title":"x"}'));
    }
    assert.ok(
      tagged.seen.every((s) => s.inm === null),
      'no conditional request: nothing was cached'
    );
    assert.deepEqual(counters, { apiCalls: 6, cacheHits: 0 });
  });
});
