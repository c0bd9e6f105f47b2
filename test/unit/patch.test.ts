import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PatchError,
  applyUnifiedPatch,
  diffToPatch,
  joinLines,
  parseHunks,
  splitLines,
} from '../../activities/mine/patch';

const NO_NL = '\\ No newline at end of file';

void test('splitLines/joinLines round-trip, with and without trailing newline', () => {
  for (const s of ['', 'a', 'a\n', 'a\nb', 'a\nb\n', '\n', '\n\n', 'a\r\nb\r\n', 'a\r\nb']) {
    assert.equal(joinLines(splitLines(s)), s);
  }
  assert.deepEqual(splitLines('a\nb'), [
    { text: 'a', eol: true },
    { text: 'b', eol: false },
  ]);
});

void test('parseHunks reads counts, omitted ",1", sections and no-newline markers', () => {
  const hunks = parseHunks(['@@ -1 +1,2 @@ def f():', '-a', NO_NL, '+a', '+b', NO_NL].join('\n'));
  assert.equal(hunks.length, 1);
  const h = hunks[0]!;
  assert.deepEqual([h.oldStart, h.oldLines, h.newStart, h.newLines, h.section], [1, 1, 1, 2, ' def f():']);
  assert.deepEqual(
    h.lines.map((l) => [l.op, l.text, l.noNewline]),
    [
      ['-', 'a', true],
      ['+', 'a', false],
      ['+', 'b', true],
    ]
  );
  assert.deepEqual(parseHunks(''), []);
});

void test('applies a modification in the middle', () => {
  const before = 'a\nb\nc\nd\ne\nf\ng\n';
  const patch = '@@ -2,5 +2,5 @@\n b\n c\n-d\n+D\n e\n f';
  assert.equal(applyUnifiedPatch(before, patch), 'a\nb\nc\nD\ne\nf\ng\n');
});

void test('applies several hunks, and a trailing newline on the patch text is harmless', () => {
  const before = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join('\n') + '\n';
  const patch = '@@ -1,2 +1,3 @@\n+l0\n l1\n l2\n@@ -19,2 +20,1 @@\n l19\n-l20\n';
  const after = applyUnifiedPatch(before, patch);
  assert.ok(after.startsWith('l0\nl1\n'));
  assert.ok(after.endsWith('l18\nl19\n'));
});

void test('creation of a file from empty content', () => {
  assert.equal(applyUnifiedPatch('', '@@ -0,0 +1,2 @@\n+x = 1\n+y = 2'), 'x = 1\ny = 2\n');
  assert.equal(applyUnifiedPatch('', `@@ -0,0 +1 @@\n+x${'\n' + NO_NL}`), 'x');
});

void test('deletion of every line yields an empty file', () => {
  assert.equal(applyUnifiedPatch('a\nb\n', '@@ -1,2 +0,0 @@\n-a\n-b'), '');
  assert.equal(applyUnifiedPatch('a\nb', `@@ -1,2 +0,0 @@\n-a\n-b\n${NO_NL}`), '');
});

void test('files without trailing newline: adding one, removing one, appending', () => {
  assert.equal(applyUnifiedPatch('a\nb', `@@ -1,2 +1,2 @@\n a\n-b\n${NO_NL}\n+b`), 'a\nb\n');
  assert.equal(applyUnifiedPatch('a\nb\n', `@@ -1,2 +1,2 @@\n a\n-b\n+b\n${NO_NL}`), 'a\nb');
  assert.equal(applyUnifiedPatch('a\nb', `@@ -1,2 +1,3 @@\n a\n-b\n${NO_NL}\n+b\n+c\n${NO_NL}`), 'a\nb\nc');
  // Context line without newline (both sides), change above it.
  assert.equal(applyUnifiedPatch('a\nb', `@@ -1,2 +1,2 @@\n-a\n+A\n b\n${NO_NL}`), 'A\nb');
});

void test('CRLF lines are preserved, including untouched lines', () => {
  const before = 'a\r\nb\r\nc\r\n';
  const patch = '@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r';
  assert.equal(applyUnifiedPatch(before, patch), 'a\r\nB\r\nc\r\n');
  // Header lines of CRLF patches may end in "\r" too.
  assert.equal(applyUnifiedPatch(before, '@@ -2 +2 @@ x\r\n-b\r\n+B\r'), 'a\r\nB\r\nc\r\n');
});

void test('git headers before the first hunk are tolerated', () => {
  const patch = 'diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b';
  assert.equal(applyUnifiedPatch('a\n', patch), 'b\n');
});

void test('an empty context line with its space stripped still counts as context', () => {
  assert.equal(applyUnifiedPatch('a\n\nb\n', '@@ -1,3 +1,3 @@\n a\n\n-b\n+c'), 'a\n\nc\n');
});

void test('mismatched context or removed lines throw PatchError with the hunk index', () => {
  const before = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join('\n') + '\n';
  const err = (fn: () => unknown): PatchError => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof PatchError);
      return e;
    }
    assert.fail('expected a PatchError');
  };
  let e = err(() => applyUnifiedPatch(before, '@@ -1,2 +1,2 @@\n l1\n-l2\n+x\n@@ -10,2 +10,2 @@\n l10\n-WRONG\n+y'));
  assert.equal(e.hunk, 1);
  assert.equal(e.kind, 'mismatch');
  e = err(() => applyUnifiedPatch(before, '@@ -1,2 +1,2 @@\n lX\n-l2\n+x'));
  assert.equal(e.hunk, 0);
  // Beyond the end of the file.
  e = err(() => applyUnifiedPatch('a\n', '@@ -5,1 +5,1 @@\n-a\n+b'));
  assert.equal(e.kind, 'mismatch');
  // Newline-at-EOF disagreement is a mismatch too.
  e = err(() => applyUnifiedPatch('a\n', `@@ -1 +1 @@\n-a\n${NO_NL}\n+b`));
  assert.equal(e.kind, 'mismatch');
  // A `-0,0` hunk is a pure insertion at the top: it has nothing to check, so it applies to any file.
  assert.equal(applyUnifiedPatch('z\n', '@@ -0,0 +1 @@\n+a'), 'a\nz\n');
});

void test('malformed patches throw PatchError of kind malformed', () => {
  for (const p of [
    'garbage',
    '@@ -1,2 +1,2 @@\n a',
    '@@ -1 +1 @@\n*a',
    '@@ -1,2 +1,2 @@\n a\n b\nnot a hunk',
    '@@ -2 +2 @@\n b\n@@ -1 +1 @@\n a',
  ]) {
    assert.throws(
      () => applyUnifiedPatch('a\nb\n', p),
      (e: unknown) => e instanceof PatchError && e.kind === 'malformed',
      p
    );
  }
});

void test('diffToPatch produces git-style patches that applyUnifiedPatch inverts', () => {
  const before = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n';
  const after = 'a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl';
  const patch = diffToPatch(before, after);
  assert.equal(
    patch,
    ['@@ -1,5 +1,5 @@', ' a', '-b', '+B', ' c', ' d', ' e', '@@ -9,3 +9,4 @@', ' i', ' j', ' k', '+l', NO_NL].join('\n')
  );
  assert.equal(applyUnifiedPatch(before, patch), after);
  assert.equal(diffToPatch('', 'x\n'), '@@ -0,0 +1 @@\n+x');
  assert.equal(diffToPatch('x\ny\n', ''), '@@ -1,2 +0,0 @@\n-x\n-y');
  assert.equal(diffToPatch('same\n', 'same\n'), '');
});

void test('diffToPatch/applyUnifiedPatch round-trip on random texts', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const vocab = ['x', 'y', 'z', '', 'return None', '  pass'];
  const gen = (): string => {
    const n = rand(12);
    const lines = Array.from({ length: n }, () => vocab[rand(vocab.length)]!);
    const eol = rand(2) === 0 ? '\n' : '\r\n';
    return lines.join(eol) + (n > 0 && rand(3) > 0 ? eol : '');
  };
  for (let k = 0; k < 500; k++) {
    const a = gen();
    const b = gen();
    const ctx = rand(4);
    assert.equal(applyUnifiedPatch(a, diffToPatch(a, b, ctx)), b, JSON.stringify({ a, b, ctx }));
  }
});
