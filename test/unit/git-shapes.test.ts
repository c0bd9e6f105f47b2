import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clearGitDiscoveryCache, listGitPrs, type GitPrPage } from '../../activities/mine/git-source';
import { listAllGitPrs } from '../helpers/git-pages';
import { GitSource } from '../../contracts/mine';
import { makeShapesRepo, type ShapesRepo } from '../../infra/fixtures/make-shapes-repo';

const git = (repo: string, ...args: string[]): string =>
  execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

const listAll = listAllGitPrs;

describe('git source: every PR shape, once, with its own title and body', () => {
  let dir: string;
  let fx: ShapesRepo;
  let src: GitSource;
  let all: GitPrPage;
  const pr = (n: number) => {
    const i = all.prs.findIndex((p) => p.number === n);
    assert.ok(i >= 0, `PR #${n} found`);
    return { pr: all.prs[i]!, origin: all.origins[i]! };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bottega-shapes-'));
    fx = await makeShapesRepo(join(dir, 'shapes'));
    src = GitSource.parse({ type: 'git', repo: fx.repo, path: fx.path });
    all = await listAll(src);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('finds every merged PR exactly once, with its shape, title and body', () => {
    const numbers = all.prs.map((p) => p.number);
    assert.deepEqual(
      [...numbers].sort((a, b) => a - b),
      Object.keys(fx.prs).map(Number)
    );
    assert.equal(new Set(numbers).size, numbers.length, 'no PR twice');
    for (const [n, want] of Object.entries(fx.prs)) {
      const { pr: p, origin } = pr(Number(n));
      assert.equal(origin.shape, want.shape, `#${n} shape`);
      assert.equal(p.title, want.title, `#${n} title`);
      assert.equal(p.body, want.body, `#${n} body`);
      assert.ok(origin.found_as.includes('pull_ref'), `#${n} has its pull ref`);
    }
  });

  it('counts what is not a PR under a reason, and the open pull ref', () => {
    assert.deepEqual(
      all.notPrs.map((n) => [n.reason, n.number, n.subject]),
      [
        ['branch_merge', null, "Merge branch '1.0.x'"],
        ['inside_other_pr', 10, 'Part one'],
        ['not_a_pull_request', 99, 'Bump version (#99)'],
      ]
    );
    assert.equal(all.pullRefsNotMerged, 1, '#12 is open');
    assert.equal(all.total, all.prs.length + all.notPrs.length);
  });

  it('a squash PR is its commit; base and relevant files are at its parent', () => {
    const { pr: p } = pr(2);
    const squash = git(fx.path, 'log', '-1', '--format=%H', '--grep=^Add div (#2)', 'main');
    assert.deepEqual(
      p.commits.map((c) => c.sha),
      [squash]
    );
    assert.equal(p.base_sha, git(fx.path, 'rev-parse', `${squash}^`));
    assert.equal(p.head_sha, squash);
    assert.deepEqual(
      p.changed_files.map((f) => [f.path, f.status]),
      [['ops.py', 'added']]
    );
    assert.equal(p.author, 'bob');
  });

  it('a rebase merge is the run of commits carrying its number', () => {
    const { pr: p } = pr(3);
    assert.deepEqual(
      p.commits.map((c) => c.message),
      ['Add pow (#3)', 'Test pow (#3)']
    );
    assert.equal(p.base_sha, git(fx.path, 'rev-parse', `${p.commits[0]!.sha}^`));
    assert.deepEqual(
      p.changed_files.map((f) => f.path),
      ['power.py', 'test_power.py']
    );
  });

  it('a PR merged into a maintenance branch keeps its own commits, base and message', () => {
    const { pr: p } = pr(4);
    assert.deepEqual(
      p.commits.map((c) => c.message),
      ['Fix sub']
    );
    assert.equal(p.base_sha, git(fx.path, 'rev-parse', `${p.merge_commit_sha}^1`));
    assert.match(git(fx.path, 'log', '-1', '--format=%s', p.merge_commit_sha!), /^Merge pull request #4 /);
    assert.deepEqual(
      p.relevant_files.map((f) => f.path),
      ['calc.py']
    );
    assert.match(p.relevant_files[0]!.content, /def sub\(a, b\):\n {4}return a \+ b/);
  });

  it('a cherry-picked copy is folded into one PR: the first-parent copy wins', () => {
    const { pr: p, origin } = pr(5);
    assert.equal(git(fx.path, 'rev-list', '--first-parent', 'main').split('\n').includes(p.head_sha), true);
    assert.equal(origin.duplicate_commits.length, 1);
    assert.equal(git(fx.path, 'log', '-1', '--format=%s', origin.duplicate_commits[0]!), 'Fix docs typo (#5)');
  });

  it('bots by author identity, never by branch name', () => {
    assert.equal(pr(6).pr.author, 'erin');
    assert.equal(pr(6).pr.author_is_bot, false, 'a human PR on a bot-like branch');
    assert.equal(pr(7).pr.author, 'dependabot[bot]');
    assert.equal(pr(7).pr.author_is_bot, true);
  });

  it('pull refs name merges their messages do not, and fast-forwarded PRs', () => {
    const { pr: p8, origin: o8 } = pr(8);
    assert.deepEqual(o8.found_as, ['merge', 'pull_ref']);
    assert.equal(p8.head_sha, git(fx.path, 'rev-parse', 'refs/pull/8/head'));
    const { pr: p13 } = pr(13);
    assert.equal(p13.head_sha, git(fx.path, 'rev-parse', 'refs/pull/13/head'));
    assert.deepEqual(
      p13.commits.map((c) => c.sha),
      [p13.head_sha]
    );
    assert.equal(p13.merge_commit_sha, null);
    const { pr: p11 } = pr(11);
    assert.deepEqual(
      p11.commits.map((c) => c.message),
      ['Part one', 'Part two']
    );
  });

  it('a PR side file fills in titles, bodies and authors; its linked issues are kept', async () => {
    const side = join(dir, 'prs.jsonl');
    await writeFile(
      side,
      [
        JSON.stringify({
          number: 3,
          title: 'Add pow and its test',
          body: 'Rebased. Fixes #40',
          author: { login: 'carol-gh' },
        }),
        JSON.stringify({ number: 8, title: 'Faster add', body: null, labels: [{ name: 'perf' }], linked_issues: [41] }),
        JSON.stringify({ number: 500, title: 'not in this mirror' }),
      ].join('\n') + '\n'
    );
    const issues = join(dir, 'issues.jsonl');
    await writeFile(
      issues,
      [JSON.stringify({ number: 40, title: 'pow missing' }), JSON.stringify({ number: 41, title: 'add is slow' })].join(
        '\n'
      ) + '\n'
    );
    const withSide = await listAll({ ...src, prs_file: side, issues_file: issues });
    const p3 = withSide.prs.find((p) => p.number === 3)!;
    assert.equal(p3.title, 'Add pow and its test');
    assert.equal(p3.body, 'Rebased. Fixes #40');
    assert.equal(p3.author, 'carol-gh');
    assert.deepEqual(
      p3.linked_issues.map((i) => i.title),
      ['pow missing']
    );
    const p8 = withSide.prs.find((p) => p.number === 8)!;
    assert.equal(p8.title, 'Faster add');
    assert.deepEqual(
      p8.linked_issues.map((i) => i.title),
      ['add is slow']
    );
    assert.equal(withSide.prs.length, all.prs.length, 'side-file PRs absent from the mirror are not invented');

    await writeFile(side, '{"number": 3, "title": 7}\n');
    await assert.rejects(listAll({ ...src, prs_file: side }), new RegExp(`${side}:1: not a PR record: title`));
  });

  it('pages in any size give the same PRs in the same order', async () => {
    for (const limit of [1, 3]) {
      const paged = await listAll(src, limit);
      assert.deepEqual(paged, all, `limit ${limit}`);
    }
  });

  it('later pages list what the first page saw, even when the ref moves or a fetch adds pull refs', async () => {
    const work = join(dir, 'moving');
    execFileSync('git', ['clone', '-q', '--mirror', fx.path, work]);
    const moving = { ...src, path: work };
    const first = await listGitPrs(moving, { cursor: 0, limit: 4 });
    // The ref moves on (a new squash merge) and a fetch brings a new pull ref.
    const tree = git(work, 'rev-parse', 'main^{tree}');
    const next = execFileSync('git', ['-C', work, 'commit-tree', tree, '-p', 'main', '-m', 'Later work (#14)'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'x',
        GIT_AUTHOR_EMAIL: 'x@x',
        GIT_COMMITTER_NAME: 'x',
        GIT_COMMITTER_EMAIL: 'x@x',
      },
    }).trim();
    git(work, 'update-ref', 'refs/heads/main', next);
    git(work, 'update-ref', 'refs/pull/14/head', next);
    const rest: GitPrPage['prs'] = [];
    for (let cursor: number | null = first.nextCursor; cursor !== null;) {
      const page = await listGitPrs(moving, { cursor, limit: 4, pin: first.pin });
      rest.push(...page.prs);
      cursor = page.nextCursor;
    }
    assert.deepEqual(
      [...first.prs, ...rest].map((p) => p.number),
      all.prs.map((p) => p.number),
      'the pinned listing, not the moved ref'
    );
    // A worker that lost its discovery cannot list the same pull refs again: a clear error, no mixed pages.
    clearGitDiscoveryCache();
    await assert.rejects(listGitPrs(moving, { cursor: 4, limit: 4, pin: first.pin }), (e: Error) => {
      assert.match(e.message, /refs\/pull\/\* of .* changed while the stage was listing it/);
      assert.equal((e as { nonRetryable?: boolean }).nonRetryable, true);
      return true;
    });
    const fresh = await listAll(moving);
    assert.ok(
      fresh.prs.some((p) => p.number === 14),
      'a new listing sees the new PR'
    );
  });

  it('without pull refs: merges, squash and rebase merges are still found; (#N) is then taken at its word', async () => {
    const bare = join(dir, 'no-pulls.git');
    execFileSync('git', ['clone', '-q', '--bare', fx.path, bare]);
    assert.equal(git(bare, 'for-each-ref', 'refs/pull/'), '');
    const res = await listAll({ ...src, path: bare });
    assert.deepEqual(
      res.prs.map((p) => p.number).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 11, 99]
    );
    assert.deepEqual(
      res.notPrs.map((n) => [n.reason, n.subject]),
      [
        ['branch_merge', "Merge branch '1.0.x'"],
        ['unnumbered_merge', "Merge branch 'frank/faster-add'"],
      ]
    );
    assert.equal(res.pullRefsNotMerged, 0);
  });
});
