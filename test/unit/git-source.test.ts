import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GitSource } from '../../contracts/mine';
import { PrRecord } from '../../contracts/pr';
import { listGitPrs, MAX_PR_COMMITS, parseMergeMessage, SYNTHETIC_PR_BASE } from '../../activities/mine/git-source';
import { MAYA, Repo } from '../../infra/fixtures/git-repo';
import { makeFixtureRepos, type FixtureRepo } from '../../infra/fixtures/make-repos';

/** Pinned so a change of fixture content, or of git's object format, is noticed on any machine. */
const WIDGETS_HEAD = '3156c8298a3dc556f9811ae51d67d432f5b6e48b';
const FLASK_HEAD = '05563a340fe3e97e02705fecafd27dfdf59b4de1';

const show = (repo: string, spec: string): string =>
  execFileSync('git', ['-C', repo, 'show', spec], { encoding: 'utf8' });
const revParse = (repo: string, rev: string): string =>
  execFileSync('git', ['-C', repo, 'rev-parse', rev], { encoding: 'utf8' }).trim();

describe('fixture repos', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bottega-fixture-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are byte-identical across generations (and idempotent in place)', async () => {
    const t0 = Date.now();
    const a = await makeFixtureRepos(join(dir, 'a'));
    assert.ok(Date.now() - t0 < 10_000, 'generated in under 10 s');
    const b = await makeFixtureRepos(join(dir, 'b'));
    await makeFixtureRepos(join(dir, 'a')); // regenerate over an existing directory
    const [wa, fa] = a.repos;
    const [wb, fb] = b.repos;
    assert.equal(wa!.repo, 'acme/widgets');
    assert.equal(fa!.repo, 'pallets/flask');
    const all = (p: string): string =>
      execFileSync('git', ['-C', p, 'rev-list', '--all', '--objects'], { encoding: 'utf8' });
    assert.equal(all(wa!.path), all(wb!.path));
    assert.equal(all(fa!.path), all(fb!.path));
    assert.equal(revParse(wa!.path, 'HEAD'), WIDGETS_HEAD);
    assert.equal(revParse(fa!.path, 'HEAD'), FLASK_HEAD);
    assert.equal(revParse(fb!.path, 'HEAD'), FLASK_HEAD);
  });
});

describe('listGitPrs on the fixture repos', () => {
  let dir: string;
  let widgets: FixtureRepo;
  let flask: FixtureRepo;
  let src: GitSource;
  let prs: PrRecord[];
  const byNumber = (n: number): PrRecord => {
    const p = prs.find((x) => x.number === n);
    assert.ok(p, `PR #${n} present`);
    return p;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bottega-git-source-'));
    [widgets, flask] = (await makeFixtureRepos(dir)).repos as [FixtureRepo, FixtureRepo];
    src = GitSource.parse({
      type: 'git',
      repo: widgets.repo,
      path: widgets.path,
      description: widgets.description,
      issues_file: widgets.issuesFile!,
    });
    const res = await listGitPrs(src, { cursor: 0, limit: 100 });
    assert.equal(res.total, 9);
    assert.equal(res.nextCursor, null);
    prs = res.prs;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rebuilds every PR merge, oldest first, with PR numbers', () => {
    assert.deepEqual(
      prs.map((p) => p.number),
      [1, 2, 4, 5, 6, 7, 8, 10]
    );
    for (const p of prs) {
      assert.deepEqual(PrRecord.parse(p), p, `#${p.number} is a valid PrRecord`);
      assert.equal(p.repo, 'acme/widgets');
      assert.equal(p.repo_description, widgets.description);
      assert.equal(p.merged, true);
      assert.equal(p.state, 'closed');
      assert.match(p.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(p.merged_at! > p.created_at);
      assert.equal(p.base_sha, revParse(widgets.path, `${p.merge_commit_sha}^1`));
      assert.equal(p.head_sha, revParse(widgets.path, `${p.merge_commit_sha}^2`));
      // Same commits as git's own range walk.
      const range = execFileSync(
        'git',
        ['-C', widgets.path, 'rev-list', '--reverse', '--topo-order', '--no-merges', `${p.base_sha}..${p.head_sha}`],
        { encoding: 'utf8' }
      );
      assert.deepEqual(
        p.commits.map((c) => c.sha),
        range.split('\n').filter(Boolean),
        `#${p.number} commits`
      );
      // changed_files is the three-dot diff: merge-base → head.
      const names = execFileSync(
        'git',
        ['-C', widgets.path, 'diff', '--name-only', '-M', `${p.base_sha}...${p.head_sha}`],
        { encoding: 'utf8' }
      );
      assert.deepEqual(
        p.changed_files.map((f) => f.path),
        names.split('\n').filter(Boolean),
        `#${p.number} changed files`
      );
    }
  });

  it('PR #1: commits in order, title/body from the merge message, content at the first commit parent', () => {
    const p = byNumber(1);
    assert.equal(p.title, 'Add Rect.area');
    assert.equal(p.body, 'Adds an `area()` method to `Rect`, with a test.');
    assert.equal(p.author, 'alice');
    assert.deepEqual(
      p.commits.map((c) => c.message),
      ['Add Rect.area', 'test area', 'fix']
    );
    assert.equal(p.created_at, p.commits[0]!.authored_at);
    // The third commit rewrites a line the first one added.
    const firstPatch = p.commits[0]!.diffs[0]!.patch!;
    const lastPatch = p.commits[2]!.diffs.find((d) => d.path === 'widgets/shapes.py')!.patch!;
    assert.match(firstPatch, /^@@ /);
    assert.match(firstPatch, /^\+ {8}return self\.width \* self\.height$/m);
    assert.match(lastPatch, /^- {8}return self\.width \* self\.height$/m);

    const parent = p.commits[0]!.parents[0]!;
    assert.notEqual(parent, p.base_sha);
    const shapes = p.relevant_files.find((f) => f.path === 'widgets/shapes.py');
    assert.ok(shapes);
    assert.equal(shapes.content, show(widgets.path, `${parent}:widgets/shapes.py`));
    assert.notEqual(
      shapes.content,
      show(widgets.path, `${p.base_sha}:widgets/shapes.py`),
      'mainline moved after the branch point'
    );
    assert.deepEqual(
      p.changed_files.map((f) => f.path),
      ['tests/test_shapes.py', 'widgets/shapes.py']
    );
  });

  it('PR #2: rename with previous_path, removed file included, added file excluded', () => {
    const p = byNumber(2);
    const renamed = p.changed_files.find((f) => f.status === 'renamed');
    assert.deepEqual(renamed, { path: 'widgets/utils.py', previous_path: 'widgets/helpers.py', status: 'renamed' });
    const commitRename = p.commits[0]!.diffs.find((d) => d.status === 'renamed');
    assert.equal(commitRename?.previous_path, 'widgets/helpers.py');
    assert.match(commitRename!.patch!, /Utilities shared by the package/);
    assert.deepEqual(
      p.changed_files.find((f) => f.path === 'widgets/compat.py'),
      { path: 'widgets/compat.py', previous_path: null, status: 'removed' }
    );
    assert.deepEqual(
      p.changed_files.find((f) => f.path === 'widgets/colors.py'),
      { path: 'widgets/colors.py', previous_path: null, status: 'added' }
    );
    const rel = p.relevant_files.map((f) => f.path);
    assert.ok(rel.includes('widgets/helpers.py'), 'renamed file read under its previous path');
    assert.ok(!rel.includes('widgets/utils.py'));
    assert.ok(rel.includes('widgets/compat.py'), 'removed file included');
    assert.ok(!rel.includes('widgets/colors.py'), 'added file excluded');
    assert.deepEqual(p.skipped_files, []);
    assert.equal(
      p.relevant_files.find((f) => f.path === 'widgets/compat.py')!.content,
      '"""Python 2 shims, kept for old callers."""\nstring_types = (str,)\n'
    );
  });

  it('PR #4: a dependabot PR from a same-repository branch is a bot PR', () => {
    const p = byNumber(4);
    assert.equal(p.author, 'dependabot[bot]');
    assert.equal(p.author_is_bot, true);
    assert.equal(byNumber(1).author_is_bot, false);
  });

  it('PR #5: linked issue #3 with its data; unknown and foreign refs left out', () => {
    const p = byNumber(5);
    assert.deepEqual(
      p.linked_issues.map((i) => i.number),
      [3]
    );
    const issue = p.linked_issues[0]!;
    assert.equal(issue.title, 'normalize() raises ZeroDivisionError on all-zero input');
    assert.equal(issue.created_at, '2024-02-20T10:00:00Z');
    assert.equal(issue.comments.length, 2);
    assert.deepEqual(issue.comments[0], {
      author: 'erin',
      body: 'Can reproduce on 0.1.0.',
      created_at: '2024-02-20T12:00:00Z',
    });
    assert.deepEqual(
      p.changed_files.map((f) => f.path),
      ['tests/test_core.py', 'widgets/core.py']
    );
  });

  it('PR #6: binary and latin-1 files are skipped with a reason, never crash', () => {
    const p = byNumber(6);
    assert.deepEqual(p.skipped_files, [
      { path: 'docs/logo.png', reason: 'binary' },
      { path: 'widgets/data/glossary-latin1.txt', reason: 'non_utf8' },
    ]);
    assert.deepEqual(
      p.relevant_files.map((f) => f.path),
      ['widgets/glossary.py']
    );
    const png = p.commits[0]!.diffs.find((d) => d.path === 'docs/logo.png')!;
    assert.equal(png.binary, true);
    assert.equal(png.patch, null);
    const latin = p.commits[0]!.diffs.find((d) => d.path === 'widgets/data/glossary-latin1.txt')!;
    assert.equal(latin.binary, false);
    assert.match(latin.patch!, /^\+fa\uFFFDade=front$/m, 'non-UTF-8 bytes in patches are replaced');
  });

  it('PR #7 touches no Python file; the release merge is not a PR unless unnumbered merges are asked for', async () => {
    assert.deepEqual(
      byNumber(7).changed_files.map((f) => f.path),
      ['pyproject.toml', 'web/demo.js']
    );
    const all = await listGitPrs(src, { cursor: 0, limit: 100 });
    assert.deepEqual(
      all.notPrs.map((n) => [n.reason, n.number, n.subject]),
      [['unnumbered_merge', null, "Merge branch 'release-1.0'"]]
    );
    const asPr = await listGitPrs({ ...src, unnumbered_merges: 'as_pr' }, { cursor: 0, limit: 100 });
    assert.deepEqual(asPr.notPrs, []);
    const rel = asPr.prs.find((p) => p.number === SYNTHETIC_PR_BASE);
    assert.ok(rel, 'the release merge is PR 1,000,000');
    assert.equal(rel.title, 'release-1.0');
    assert.equal(rel.body, '');
    assert.equal(rel.author, 'Maya Maintainer');
    assert.deepEqual(
      asPr.prs.map((p) => p.number),
      [1, 2, 4, 5, 6, 7, SYNTHETIC_PR_BASE, 8, 10]
    );
  });

  it("PR #8: >5 Python files; the back-merge of main is dropped and its changes are not the PR's", () => {
    const p = byNumber(8);
    assert.equal(p.changed_files.filter((f) => f.path.endsWith('.py')).length, 7);
    assert.ok(!p.changed_files.some((f) => f.path === 'docs/index.md'));
    assert.deepEqual(
      p.commits.map((c) => c.message),
      [
        'Add type hints to core and utils',
        'Type hints for shapes, colors and glossary',
        'Export py.typed marker and type the tests',
      ]
    );
    assert.ok(p.commits.every((c) => c.parents.length === 1));
    // Relevant contents come from the first commit's parent, i.e. before the back-merge.
    const parent = p.commits[0]!.parents[0]!;
    for (const f of p.relevant_files) assert.equal(f.content, show(widgets.path, `${parent}:${f.path}`));
  });

  it('PR #10: "(#N)" messages give the number; author is the first commit author', () => {
    const p = byNumber(10);
    assert.equal(p.title, 'Cache glossary lookups');
    assert.equal(p.body, 'Memoizes `glossary.load()`.');
    assert.equal(p.author, 'frank');
  });

  it('maxRelevantFiles truncates into too_many_files', async () => {
    const res = await listGitPrs(src, { cursor: 7, limit: 1, maxRelevantFiles: 3 });
    const p = res.prs[0]!;
    assert.equal(p.number, 8);
    assert.equal(p.relevant_files.length, 3);
    assert.equal(p.skipped_files.filter((s) => s.reason === 'too_many_files').length, 4);
  });

  it('paging returns every PR exactly once, identical to one big page', async () => {
    for (const limit of [1, 2, 4]) {
      const seen: PrRecord[] = [];
      let cursor: number | null = 0;
      let calls = 0;
      while (cursor !== null) {
        const res = await listGitPrs(src, { cursor, limit });
        assert.equal(res.total, 9);
        assert.ok(res.prs.length + res.notPrs.length <= limit);
        seen.push(...res.prs);
        cursor = res.nextCursor;
        calls++;
      }
      assert.equal(calls, Math.ceil(9 / limit));
      assert.deepEqual(seen, prs, `limit ${limit}`);
    }
    const { pin, ...past } = await listGitPrs(src, { cursor: 9, limit: 5 });
    assert.deepEqual(past, { prs: [], origins: [], notPrs: [], nextCursor: null, total: 9, pullRefsNotMerged: 0 });
    assert.equal(pin.head, revParse(widgets.path, 'HEAD'));
  });

  it('honours max_prs', async () => {
    const res = await listGitPrs({ ...src, max_prs: 4 }, { cursor: 2, limit: 5 });
    assert.equal(res.total, 4);
    assert.deepEqual(
      res.prs.map((p) => p.number),
      [4, 5]
    );
    assert.equal(res.nextCursor, null);
  });

  it('resolves relative paths against baseDir and reads bare mirrors', async () => {
    const rel = await listGitPrs(
      { ...src, path: relative(dir, widgets.path), issues_file: relative(dir, widgets.issuesFile!) },
      { cursor: 0, limit: 100, baseDir: dir }
    );
    assert.deepEqual(rel.prs, prs);
    const bare = join(dir, 'widgets.git');
    execFileSync('git', ['clone', '-q', '--bare', '--no-local', widgets.path, bare]);
    const fromBare = await listGitPrs({ ...src, path: bare, ref: 'main' }, { cursor: 0, limit: 100 });
    assert.deepEqual(fromBare.prs, prs);
  });

  it('is deterministic', async () => {
    assert.deepEqual((await listGitPrs(src, { cursor: 0, limit: 100 })).prs, prs);
  });

  it('reads the second repository', async () => {
    const res = await listGitPrs(GitSource.parse({ type: 'git', repo: flask.repo, path: flask.path }), {
      cursor: 0,
      limit: 10,
    });
    assert.deepEqual(
      res.prs.map((p) => [p.number, p.title, p.author]),
      [
        [1, 'Add Flask.config', 'alice'],
        [2, 'Add a debug flag', 'bob'],
      ]
    );
    assert.deepEqual(res.prs[1]!.linked_issues, []);
  });

  it('fails clearly on a path that is not a git repository, or a bad ref', async () => {
    const plain = join(dir, 'not-a-repo');
    await mkdir(plain, { recursive: true });
    await assert.rejects(
      listGitPrs({ ...src, path: plain }, { cursor: 0, limit: 1 }),
      (e: Error) => e.message.includes(plain) && /not a git repository/.test(e.message)
    );
    // A plain folder inside a work tree is not mistaken for that work tree.
    const inner = join(widgets.path, 'docs');
    await assert.rejects(listGitPrs({ ...src, path: inner }, { cursor: 0, limit: 1 }), /not a git repository/);
    await assert.rejects(
      listGitPrs({ ...src, path: join(dir, 'missing') }, { cursor: 0, limit: 1 }),
      /missing.*not a git repository/
    );
    await assert.rejects(listGitPrs({ ...src, ref: 'no-such-branch' }, { cursor: 0, limit: 1 }), /no-such-branch/);
  });

  it('rejects a malformed issues file with its line number', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"number": 1, "title": "ok", "body": ""}\n{"number": "x"}\n');
    await assert.rejects(listGitPrs({ ...src, issues_file: bad }, { cursor: 0, limit: 1 }), /bad\.jsonl:2/);
  });
});

describe('parseMergeMessage', () => {
  it('parses the message shapes', () => {
    assert.deepEqual(parseMergeMessage('Merge pull request #12 from user/feat-x\n\nAdd X\n\nLong body\nline 2'), {
      number: 12,
      title: 'Add X',
      body: 'Long body\nline 2',
      headOwner: 'user',
      branch: 'feat-x',
    });
    assert.equal(parseMergeMessage('Merge pull request #12 from user/feat-x').title, 'feat-x');
    assert.deepEqual(parseMergeMessage('Add Y (#34)\n\n* squashed'), {
      number: 34,
      title: 'Add Y',
      body: '* squashed',
      headOwner: null,
      branch: null,
    });
    assert.deepEqual(parseMergeMessage("Merge branch 'topic/z' into main"), {
      number: null,
      title: 'topic/z',
      body: '',
      headOwner: null,
      branch: 'topic/z',
    });
    assert.equal(parseMergeMessage("Merge remote-tracking branch 'origin/dev'").title, 'origin/dev');
    assert.equal(parseMergeMessage('Something else\n\nbody').title, 'Something else');
  });
});

describe('listGitPrs at scale', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bottega-git-scale-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('pages through 2,000 merged PRs quickly', async (t) => {
    // fast-import stream: a main line where each PR is a two-commit branch merged with --no-ff shape.
    const N = 2000;
    const lines: string[] = [];
    let mark = 0;
    const who = (t: number): string => `dev <dev@example.com> ${1_700_000_000 + t} +0000`;
    const blob = (text: string): number => {
      mark++;
      lines.push('blob', `mark :${mark}`, `data ${Buffer.byteLength(text)}`, text);
      return mark;
    };
    const commit = (msg: string, parents: number[], files: [string, number][], t: number): number => {
      mark++;
      lines.push(
        'commit refs/heads/main',
        `mark :${mark}`,
        `author ${who(t)}`,
        `committer ${who(t)}`,
        `data ${Buffer.byteLength(msg)}`,
        msg
      );
      if (parents[0]) lines.push(`from :${parents[0]}`);
      for (const p of parents.slice(1)) lines.push(`merge :${p}`);
      for (const [path, b] of files) lines.push(`M 100644 :${b} ${path}`);
      lines.push('');
      return mark;
    };
    let main = commit('init', [], [['src/f0.py', blob('x = 0\n')]], 0);
    for (let i = 1; i <= N; i++) {
      const path = `src/f${i % 50}.py`;
      const src: [string, number] = [path, blob(`x = ${i}\n`)];
      const test: [string, number] = [`tests/test_${i % 50}.py`, blob(`assert ${i}\n`)];
      const c1 = commit(`change ${i}`, [main], [src], i * 10 + 1);
      const c2 = commit(`tests ${i}`, [c1], [test], i * 10 + 2);
      // The merge's tree is main's plus the branch's two files.
      main = commit(`Merge pull request #${i} from dev/pr-${i}\n\nPR ${i}\n`, [main, c2], [src, test], i * 10 + 3);
    }
    const repo = join(dir, 'big');
    execFileSync('git', ['init', '-q', '--bare', repo]);
    execFileSync('git', ['-C', repo, 'fast-import', '--quiet'], { input: lines.join('\n') + '\n', maxBuffer: 1 << 26 });

    const t0 = Date.now();
    const big = GitSource.parse({ type: 'git', repo: 'dev/big', path: repo, ref: 'main' });
    let cursor: number | null = 0;
    let count = 0;
    let lastNumber = 0;
    while (cursor !== null) {
      const res = await listGitPrs(big, { cursor, limit: 100 });
      for (const p of res.prs) {
        assert.equal(p.number, ++lastNumber);
        assert.equal(p.commits.length, 2);
        assert.equal(p.relevant_files.length, p.number < 50 ? 0 : p.number === 50 ? 1 : 2);
      }
      count += res.prs.length;
      cursor = res.nextCursor;
    }
    const ms = Date.now() - t0;
    assert.equal(count, N);
    assert.ok(ms < 60_000, `listing took ${ms} ms`);
    t.diagnostic(`listed ${N} PRs in ${ms} ms`);
  });
});

describe('a PR with more commits than a source lists', () => {
  it('keeps the first 250 commits and marks the PR truncated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bottega-long-pr-'));
    const repo = new Repo(dir);
    await repo.init();
    await repo.commit(MAYA, 'init', { 'a.py': 'x = 0\n' });
    await repo.checkout('long', 'main');
    // One fast-import stream instead of 251 git processes.
    let stream = '';
    for (let i = 1; i <= MAX_PR_COMMITS + 1; i++) {
      stream += `commit refs/heads/long\ncommitter Maya <m@x> ${1_700_000_000 + i} +0000\ndata 4\nc${String(i).padStart(3, '0')}\n`;
      stream += i === 1 ? 'from refs/heads/long^0\n' : '';
      stream += `M 100644 inline a.py\ndata ${`x = ${i}\n`.length}\nx = ${i}\n\n`;
    }
    execFileSync('git', ['-C', dir, 'fast-import', '--quiet'], { input: stream });
    await repo.checkout('main');
    await repo.merge(MAYA, 'long', 'Merge pull request #9 from maya/long\n\nA long PR');
    const src = GitSource.parse({ type: 'git', repo: 'acme/long', path: dir });
    const { prs } = await listGitPrs(src, { cursor: 0, limit: 10 });
    assert.equal(prs.length, 1);
    assert.equal(prs[0]!.commits.length, MAX_PR_COMMITS);
    assert.equal(prs[0]!.commits_truncated, true);
    await rm(dir, { recursive: true, force: true });
  });
});
