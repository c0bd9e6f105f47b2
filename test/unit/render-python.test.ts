import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrRecord } from '../../contracts/pr';
import { fixture, golden, goldenNames } from '../helpers/golden';
import { diffToPatch } from '../../activities/mine/patch';
import { RenderError, fenceLanguage, fenced, quoted, renderPythonSample } from '../../activities/mine/render-python';

const names = goldenNames;

void test('golden fixtures exist', () => {
  assert.deepEqual(names, ['binary-widen', 'discussion', 'multi-commit', 'rename-add-remove']);
});

for (const name of names) {
  void test(`golden Format A: ${name}`, () => {
    golden(`${name}.python.md`, renderPythonSample(fixture(name)).text);
  });
}

void test('golden stats', () => {
  const stats = Object.fromEntries(names.map((n) => [n, renderPythonSample(fixture(n)).stats]));
  assert.deepEqual(stats, {
    'binary-widen': { commits: 1, edits: 3, widened: 2, nonUnique: 0, skipped: 2 },
    discussion: { commits: 2, edits: 2, widened: 0, nonUnique: 0, skipped: 0 },
    'multi-commit': { commits: 2, edits: 7, widened: 1, nonUnique: 0, skipped: 0 },
    'rename-add-remove': { commits: 2, edits: 8, widened: 0, nonUnique: 0, skipped: 0 },
  });
});

/** A minimal valid record with one Python file and the given commits. */
function pr(overrides: Partial<Record<string, unknown>> = {}): PrRecord {
  return PrRecord.parse({
    repo: 'o/r',
    number: 1,
    title: 'T',
    author: 'a',
    state: 'closed',
    merged: true,
    created_at: '2024-01-01T00:00:00Z',
    base_sha: 'b',
    head_sha: 'h',
    commits: [],
    changed_files: [],
    relevant_files: [{ path: 'm.py', content: 'x = 1\n' }],
    ...overrides,
  });
}

function commit(diffs: unknown[], message = 'msg'): unknown {
  return { sha: 'c'.repeat(40), parents: [], author: 'a', authored_at: '2024-01-01T00:00:00Z', message, diffs };
}

void test('fence language and fence length', () => {
  assert.equal(fenceLanguage('a/b.py'), 'python');
  assert.equal(fenceLanguage('a/b.PYI'), 'python');
  assert.equal(fenceLanguage('b.pyx'), 'python');
  assert.equal(fenceLanguage('README.md'), 'markdown');
  assert.equal(fenceLanguage('doc/index.rst'), 'rst');
  assert.equal(fenceLanguage('requirements.txt'), 'text');
  assert.equal(fenceLanguage('.py'), 'text'); // a dotfile, no extension
  assert.equal(fenced('x\n', 'python'), '```python\nx\n```');
  assert.equal(fenced('x', 'python'), '```python\nx\n```');
  assert.equal(fenced('', 'text'), '```text\n```');
  assert.equal(fenced('a\n```\nb\n', 'markdown'), '````markdown\na\n```\nb\n````');
  assert.equal(fenced('`````', 'text'), '``````text\n`````\n``````');
});

void test('quoted text: newline supplied only when missing, empty stays empty', () => {
  assert.equal(quoted('a\n'), "'''\na\n'''");
  assert.equal(quoted('a'), "'''\na\n'''");
  assert.equal(quoted(''), "'''\n'''");
  assert.equal(quoted('\n'), "'''\n\n'''");
});

void test('the Issue section is omitted without a linked issue and repeated for several', () => {
  const base = { commits: [commit([{ path: 'm.py', status: 'modified', patch: diffToPatch('x = 1\n', 'x = 2\n') }])] };
  assert.ok(!renderPythonSample(pr(base)).text.includes('# Issue'));
  const text = renderPythonSample(
    pr({
      ...base,
      linked_issues: [
        { number: 1, title: 'One', body: 'first' },
        { number: 2, title: 'Two', body: '' },
      ],
    })
  ).text;
  assert.ok(text.includes('# Issue\n## One\nfirst\n\n# Issue\n## Two\n\n# Pull Request\n## T\n\n# Relevant'), text);
});

void test('refined message wins over the original; summary comes first', () => {
  const text = renderPythonSample(
    pr({
      pr_summary: 'Plan.',
      commits: [
        {
          ...(commit(
            [{ path: 'm.py', status: 'modified', patch: diffToPatch('x = 1\n', 'x = 2\n') }],
            'fix'
          ) as object),
          refined_message: 'Set x to 2',
        },
      ],
    })
  ).text;
  assert.ok(
    text.endsWith("# Edits\nPlan.\nSet x to 2\nEdit: m.py\nSearch:\n'''\nx = 1\n'''\nReplace:\n'''\nx = 2\n'''\n"),
    text
  );
});

void test('a patch that does not apply is a RenderError(patch_mismatch)', () => {
  const bad = pr({ commits: [commit([{ path: 'm.py', status: 'modified', patch: '@@ -1 +1 @@\n-y = 1\n+y = 2' }])] });
  assert.throws(
    () => renderPythonSample(bad),
    (e: unknown) => e instanceof RenderError && e.reason === 'patch_mismatch' && /m\.py/.test(e.message)
  );
  const malformed = pr({ commits: [commit([{ path: 'm.py', status: 'modified', patch: 'nonsense' }])] });
  assert.throws(
    () => renderPythonSample(malformed),
    (e: unknown) => e instanceof RenderError && e.reason === 'patch_malformed'
  );
});

void test('a later commit must match the state earlier commits left (replay, not base)', () => {
  // Commit 2's patch is relative to commit 1's result; applied to the base it would not match.
  const p = pr({
    commits: [
      commit([{ path: 'm.py', status: 'modified', patch: diffToPatch('x = 1\n', 'x = 2\n') }]),
      commit([{ path: 'm.py', status: 'modified', patch: diffToPatch('x = 2\n', 'x = 3\n') }]),
    ],
  });
  const { text, stats } = renderPythonSample(p);
  assert.equal(stats.edits, 2);
  assert.ok(text.includes("Search:\n'''\nx = 2\n'''\nReplace:\n'''\nx = 3\n'''"));
  // Out of order it fails.
  const swapped = pr({ commits: [...p.commits].reverse() });
  assert.throws(() => renderPythonSample(swapped), RenderError);
});

void test('binary, patch-less and unknown-content diffs are skipped and counted; the file stays unknown', () => {
  const { stats } = renderPythonSample(
    pr({
      commits: [
        commit([
          { path: 'm.py', status: 'modified', patch: diffToPatch('x = 1\n', 'x = 2\n') },
          { path: 'img.png', status: 'modified', patch: null, binary: true },
          { path: 'huge.py', status: 'modified', patch: '@@ -1 +1 @@\n-a\n+b' },
          { path: 'new.bin', status: 'added', patch: null, binary: true },
        ]),
        commit([{ path: 'img.png', status: 'modified', patch: '@@ -1 +1 @@\n-a\n+b' }]),
      ],
    })
  );
  assert.deepEqual(stats, { commits: 2, edits: 1, widened: 0, nonUnique: 0, skipped: 4 });
});

void test('no renderable edit at all is a RenderError(no_edits)', () => {
  const p = pr({ commits: [commit([{ path: 'img.png', status: 'modified', patch: null, binary: true }])] });
  assert.throws(
    () => renderPythonSample(p),
    (e: unknown) => e instanceof RenderError && e.reason === 'no_edits'
  );
});

void test('text is sanitised to well-formed UTF-16/UTF-8; CRLF prose becomes LF, code keeps it', () => {
  const { text } = renderPythonSample(
    pr({
      title: 'bad \uD800 title',
      body: 'line1\r\nline2\r\n',
      relevant_files: [{ path: 'w.py', content: 'a = "\uDC00"\r\n' }],
      commits: [commit([{ path: 'w.py', status: 'modified', patch: '@@ -1 +1 @@\n-a = "\uDC00"\r\n+a = 1\r' }])],
    })
  );
  assert.equal(Buffer.from(text, 'utf8').toString('utf8'), text); // survives a UTF-8 round trip
  assert.ok(text.includes('## bad \uFFFD title\nline1\nline2\n\n'));
  assert.ok(text.includes('```python\na = "\uFFFD"\r\n```'));
  assert.ok(text.includes("Search:\n'''\na = \"\uFFFD\"\r\n'''\nReplace:\n'''\na = 1\r\n'''"));
});

void test('a deleted file can be re-created later in the PR', () => {
  const { text } = renderPythonSample(
    pr({
      commits: [
        commit([{ path: 'm.py', status: 'removed', patch: diffToPatch('x = 1\n', '') }]),
        commit([{ path: 'm.py', status: 'added', patch: diffToPatch('', 'y = 1\n') }]),
        commit([{ path: 'm.py', status: 'modified', patch: diffToPatch('y = 1\n', 'y = 2\n') }]),
      ],
    })
  );
  assert.ok(text.includes("Delete: m.py\nmsg\nCreate: m.py\n'''\ny = 1\n'''\nmsg\nEdit: m.py\n"), text);
});
