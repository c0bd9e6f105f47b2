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
import { isImmutableUrl } from '../../activities/mine/github-cache';
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
      [4, 4, 3]
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
    assert.deepEqual(p3, { prs: [], nextCursor: null, apiCalls: 0, cacheHits: 0 });
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
