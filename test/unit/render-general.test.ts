import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrRecord } from '../../contracts/pr';
import { fixture, golden, goldenNames } from '../helpers/golden';
import { renderGeneralSample, reviewThreads } from '../../activities/mine/render-general';

const names = goldenNames;

void test('golden fixtures exist', () => {
  assert.equal(names.length, 4);
});

for (const name of names) {
  void test(`golden Format B: ${name}`, () => {
    golden(`${name}.general.txt`, renderGeneralSample(fixture(name)));
  });
}

function pr(overrides: Partial<Record<string, unknown>> = {}): PrRecord {
  return PrRecord.parse({
    repo: 'o/r',
    repo_description: 'd',
    number: 1,
    title: 'T',
    body: 'B',
    author: 'a',
    state: 'open',
    merged: false,
    created_at: '2024-01-01T00:00:00Z',
    base_sha: 'b',
    head_sha: 'h',
    commits: [],
    changed_files: [],
    relevant_files: [],
    ...overrides,
  });
}

const rc = (id: number | null, in_reply_to: number | null, at: string, body = `c${id}`) => ({
  author: 'u',
  body,
  created_at: at,
  path: 'p.py',
  diff_hunk: '@@ -1 +1 @@\n-a\n+b',
  in_reply_to,
  id,
});

void test('minimal PR: header, opening, status lines', () => {
  assert.equal(
    renderGeneralSample(pr()),
    '# Repository Context\nName: o/r\nDescription: d\n# Relevant Files Context\nResponse:\n<pr> Title: T\na: B\n<pr_status> open\n<pr_is_merged> False\n'
  );
});

void test('review threads group replies under their root, following chains, in time order', () => {
  const threads = reviewThreads([
    rc(3, 1, '2024-01-01T00:03:00Z'),
    rc(1, null, '2024-01-01T00:01:00Z'),
    rc(2, null, '2024-01-01T00:02:00Z'),
    rc(4, 3, '2024-01-01T00:04:00Z'), // reply to a reply
    rc(6, 5, '2024-01-01T00:05:00Z'), // root 5 missing: its own thread
    rc(7, 5, '2024-01-01T00:06:00Z'),
    rc(null, null, '2024-01-01T00:00:00Z', 'no id'),
  ]);
  assert.deepEqual(
    threads.map((t) => t.map((c) => c.body)),
    [['c1', 'c3', 'c4'], ['c2'], ['c6', 'c7'], ['no id']]
  );
});

void test('events sort by time; ties keep type order comment, review, thread, commit; <pr> stays first', () => {
  const at = '2024-01-02T00:00:00Z';
  const text = renderGeneralSample(
    pr({
      commits: [
        { sha: 't', parents: [], author: 'k', authored_at: '2023-12-31T00:00:00Z', message: 'early', diffs: [] },
        { sha: 's', parents: ['t'], author: 'k', authored_at: at, message: 'm', diffs: [] },
      ],
      review_comments: [rc(1, null, at)],
      reviews: [{ author: 'r', body: '', state: 'APPROVED', submitted_at: at }],
      comments: [
        { author: 'x', body: 'later', created_at: '2024-01-03T00:00:00Z' },
        { author: 'x', body: 'tie', created_at: at },
      ],
    })
  );
  const tags = text
    .split('\n')
    .filter((l) => l.startsWith('<'))
    .map((l) => l.split(' ')[0]);
  assert.deepEqual(tags, [
    '<pr>',
    '<pr_commit>', // authored before the PR opened: right after the opening
    '<pr_comment>',
    '<pr_review>',
    '<pr_review_state>',
    '<pr_review_comment>',
    '<pr_diff_hunk>',
    '</pr_diff_hunk>',
    '<pr_commit>',
    '<pr_comment>',
    '<pr_status>',
    '<pr_is_merged>',
  ]);
  assert.ok(text.includes('<pr_review> r:\n<pr_review_state> approved\n'));
});

void test('commits keep PR (topological) order, each at the latest author time so far', () => {
  const commit = (sha: string, parents: string[], authored_at: string) => ({
    sha,
    parents,
    author: 'k',
    authored_at,
    message: sha,
    diffs: [],
  });
  const text = renderGeneralSample(
    pr({
      commits: [
        commit('c1', [], '2024-01-05T00:00:00Z'),
        commit('c2', ['c1'], '2024-01-02T00:00:00Z'), // amended/rebased: earlier author date, placed at c1's
        commit('c3', ['c2'], '2024-01-06T00:00:00Z'),
        commit('c4', ['c3'], 'not a date'), // unparseable: it and all later commits sort last
        commit('c5', ['c4'], '2024-01-01T00:00:00Z'),
      ],
      comments: [
        { author: 'x', body: 'before all', created_at: '2024-01-01T12:00:00Z' },
        { author: 'x', body: 'after c2 date, before c1', created_at: '2024-01-03T00:00:00Z' },
        { author: 'x', body: 'between c1/c2 and c3', created_at: '2024-01-05T12:00:00Z' },
        { author: 'x', body: 'after c3', created_at: '2024-01-07T00:00:00Z' },
        { author: 'x', body: 'undated', created_at: 'nope' },
      ],
    })
  );
  const events = text
    .split('\n')
    .filter((l) => l.startsWith('<pr_commit>') || l.startsWith('<pr_comment>'))
    .map((l) => l.replace(/^<pr_(commit|comment)> [kx]: /, '$1 '));
  assert.deepEqual(events, [
    'comment before all', // 2024-01-01T12 is after c5's own date but c5 runs at Infinity
    'comment after c2 date, before c1', // c2 is not placed at its own (earlier) author date
    'commit c1',
    'commit c2',
    'comment between c1/c2 and c3',
    'commit c3',
    'comment after c3',
    'comment undated', // unparseable ties at Infinity: comment before commit by type order
    'commit c4',
    'commit c5',
  ]);
});

void test('commit files: renames, binary (no patch element), patch text kept verbatim', () => {
  const text = renderGeneralSample(
    pr({
      commits: [
        {
          sha: 's',
          parents: [],
          author: 'k',
          authored_at: '2024-01-02T00:00:00Z',
          message: 'msg\r\n\r\nbody',
          diffs: [
            { path: 'new.py', previous_path: 'old.py', status: 'renamed', patch: null },
            { path: 'img.png', status: 'modified', patch: null, binary: true },
            { path: 'w.py', status: 'modified', patch: '@@ -1 +1 @@\n-a\r\n+b\r\n' },
          ],
        },
      ],
    })
  );
  assert.ok(
    text.includes(
      '<pr_commit> k: msg\n\nbody\n<commit_file> old.py -> new.py\n<commit_file> img.png\n<commit_file> w.py\n<patch> @@ -1 +1 @@\n-a\r\n+b\r\n</patch>\n'
    ),
    JSON.stringify(text)
  );
});

void test('relevant files appear raw, in order, with a newline supplied when missing', () => {
  const text = renderGeneralSample(
    pr({
      relevant_files: [
        { path: 'a.py', content: 'x = 1' },
        { path: 'b.md', content: '# t\n' },
        { path: 'empty.py', content: '' },
      ],
    })
  );
  assert.ok(text.includes('# Relevant Files Context\n## a.py\nx = 1\n## b.md\n# t\n## empty.py\nResponse:\n'), text);
});

void test('output is valid UTF-8 even with lone surrogates in the input', () => {
  const text = renderGeneralSample(pr({ body: 'x\uD800y', title: '\uDFFF' }));
  assert.equal(Buffer.from(text, 'utf8').toString('utf8'), text);
  assert.ok(text.includes('<pr> Title: \uFFFD\na: x\uFFFDy\n'));
});
