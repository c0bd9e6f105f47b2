import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PatchError, applyUnifiedPatch, diffToPatch } from '../../activities/mine/patch';
import {
  SearchReplaceError,
  applySearchReplace,
  buildSearchReplace,
  countOccurrences,
} from '../../activities/mine/search-replace';

/** Builds blocks for before→after through a generated patch and checks the sequential-apply invariant. */
function roundTrip(before: string, after: string, context = 3, maxWiden?: number) {
  const patch = diffToPatch(before, after, context);
  const r = buildSearchReplace(before, patch, maxWiden === undefined ? {} : { maxWiden });
  assert.equal(r.after, after);
  assert.equal(r.after, applyUnifiedPatch(before, patch));
  if (r.blocks.every((b) => b.unique)) assert.equal(applySearchReplace(before, r.blocks), after);
  return r;
}

void test('countOccurrences counts overlapping matches and treats empty needles specially', () => {
  assert.equal(countOccurrences('a\na\na\n', 'a\na\n', 10), 2);
  assert.equal(countOccurrences('abc', 'x'), 0);
  assert.equal(countOccurrences('', ''), 1);
  assert.equal(countOccurrences('x', ''), 2);
});

void test('a unique change needs no widening', () => {
  const r = roundTrip('def f():\n    x = 1\n    return x\n', 'def f():\n    x = 2\n    return x\n');
  assert.deepEqual(r.blocks, [{ search: '    x = 1\n', replace: '    x = 2\n', widened: 0, unique: true }]);
});

void test('repeated `return None` lines are widened until unique', () => {
  const fn = (name: string, body: string): string => `def ${name}(x):\n    if x:\n        ${body}\n    return None\n`;
  const before = ['a', 'b', 'c', 'd'].map((n) => fn(n, 'pass')).join('\n');
  const after = before.replace(
    'def c(x):\n    if x:\n        pass\n    return None\n',
    'def c(x):\n    if x:\n        pass\n    return 0\n'
  );
  const r = roundTrip(before, after);
  assert.equal(r.blocks.length, 1);
  const b = r.blocks[0]!;
  // ±1: "pass\n    return None\n\n" still occurs for a, b and c; ±2 reaches "def d(x):" and is unique.
  assert.equal(b.widened, 2);
  assert.equal(b.unique, true);
  assert.equal(b.search, '    if x:\n        pass\n    return None\n\ndef d(x):\n');
  assert.equal(b.replace, '    if x:\n        pass\n    return 0\n\ndef d(x):\n');
});

void test('widening stops at maxWiden and reports the block as not unique', () => {
  const before = 'x\n'.repeat(10) + 'y\n' + 'x\n'.repeat(10);
  const patch = '@@ -15,3 +15,3 @@\n x\n-x\n+z\n x'; // line 16: the 5th "x" after "y"
  const after = 'x\n'.repeat(10) + 'y\n' + 'x\n'.repeat(4) + 'z\n' + 'x\n'.repeat(5);
  const r = buildSearchReplace(before, patch, { maxWiden: 2 });
  assert.equal(r.after, after);
  assert.deepEqual(
    r.blocks.map((b) => [b.widened, b.unique]),
    [[2, false]]
  );
  assert.throws(
    () => applySearchReplace(before, r.blocks),
    (e: unknown) => e instanceof SearchReplaceError && e.block === 0 && e.occurrences > 1
  );
  // With the default (20) the block widens 5 lines up to "y" and becomes unique.
  const d = buildSearchReplace(before, patch);
  assert.deepEqual(
    d.blocks.map((b) => [b.widened, b.unique]),
    [[5, true]]
  );
  assert.ok(d.blocks[0]!.search.startsWith('y\n'));
  assert.equal(applySearchReplace(before, d.blocks), after);
});

void test('widening is clipped at the file boundaries', () => {
  const r = roundTrip('a\na\n', 'a\nb\n');
  // "a\n" is ambiguous; one line on each side covers the whole file.
  assert.deepEqual(r.blocks, [{ search: 'a\na\n', replace: 'a\nb\n', widened: 1, unique: true }]);
});

void test('insertion at the top anchors on the line below', () => {
  const r = roundTrip('b\nc\n', 'a\nb\nc\n');
  assert.deepEqual(r.blocks, [{ search: 'b\n', replace: 'a\nb\n', widened: 0, unique: true }]);
});

void test('insertion at the bottom and in the middle anchors on the line above', () => {
  assert.deepEqual(roundTrip('a\nb\n', 'a\nb\nc\n').blocks, [
    { search: 'b\n', replace: 'b\nc\n', widened: 0, unique: true },
  ]);
  assert.deepEqual(roundTrip('a\nb\nc\n', 'a\nb\nX\nc\n').blocks, [
    { search: 'b\n', replace: 'b\nX\n', widened: 0, unique: true },
  ]);
});

void test('insertion into an empty file has an empty search', () => {
  const r = roundTrip('', 'a\nb\n');
  assert.deepEqual(r.blocks, [{ search: '', replace: 'a\nb\n', widened: 0, unique: true }]);
  assert.throws(() => applySearchReplace('not empty', r.blocks), SearchReplaceError);
});

void test('deletions have an empty replace; deleting everything empties the file', () => {
  assert.deepEqual(roundTrip('a\nb\nc\n', 'a\nc\n').blocks, [{ search: 'b\n', replace: '', widened: 0, unique: true }]);
  assert.deepEqual(roundTrip('a\nb\n', '').blocks, [{ search: 'a\nb\n', replace: '', widened: 0, unique: true }]);
});

void test('files without a trailing newline', () => {
  // Changing the last line.
  assert.deepEqual(roundTrip('a\nb', 'a\nc').blocks, [{ search: 'b', replace: 'c', widened: 0, unique: true }]);
  // Adding the missing newline.
  assert.deepEqual(roundTrip('a\nb', 'a\nb\n').blocks, [{ search: 'b', replace: 'b\n', widened: 0, unique: true }]);
  // Removing it; "b\n" is unique but "a\nb" must not be matched mid-line.
  const r = roundTrip('ab\nb\n', 'ab\nb');
  assert.deepEqual(r.blocks, [{ search: 'ab\nb\n', replace: 'ab\nb', widened: 1, unique: true }]);
});

void test('CRLF files keep their line endings in blocks', () => {
  const r = roundTrip('a\r\nb\r\nc\r\n', 'a\r\nB\r\nc\r\n');
  assert.deepEqual(r.blocks, [{ search: 'b\r\n', replace: 'B\r\n', widened: 0, unique: true }]);
});

void test('several groups in one hunk apply in sequence against the evolving text', () => {
  const before = 'k = 1\nv = 1\nk = 1\nv = 1\n';
  const after = 'k = 2\nv = 1\nk = 2\nv = 1\n';
  const r = roundTrip(before, after);
  assert.equal(r.blocks.length, 2);
  // First block: "k = 1\n" and then "k = 1\nv = 1\n" are ambiguous; ±2 lines (clipped at the top) is unique.
  assert.deepEqual(r.blocks[0], {
    search: 'k = 1\nv = 1\nk = 1\n',
    replace: 'k = 2\nv = 1\nk = 1\n',
    widened: 2,
    unique: true,
  });
  // After it, the remaining "k = 1\n" is unique.
  assert.deepEqual(r.blocks[1], { search: 'k = 1\n', replace: 'k = 2\n', widened: 0, unique: true });
});

void test('a patch that does not apply throws PatchError', () => {
  assert.throws(() => buildSearchReplace('a\n', '@@ -1 +1 @@\n-b\n+c'), PatchError);
});

void test('property: sequential blocks reproduce the patch on random edits (seeded)', () => {
  let seed = 0x5eed;
  const rand = (n: number): number => {
    // xorshift32, deterministic
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed % n;
  };
  const vocab = ['    return None', '    pass', '', 'def f():', 'x = 1', 'y = 2', '#', 'return', 'None'];
  let total = 0;
  let widenedBlocks = 0;
  for (let iter = 0; iter < 1500; iter++) {
    const n = rand(40);
    const eol = rand(5) === 0 ? '\r\n' : '\n';
    const lines = Array.from({ length: n }, () => vocab[rand(vocab.length)]!);
    const next = lines.slice();
    const edits = 1 + rand(5);
    for (let e = 0; e < edits; e++) {
      const at = rand(next.length + 1);
      const kind = rand(3);
      if (kind === 0) next.splice(at, 0, ...Array.from({ length: 1 + rand(3) }, () => vocab[rand(vocab.length)]!));
      else if (kind === 1) next.splice(at, 1 + rand(3));
      else next.splice(at, 1 + rand(2), `changed ${iter}.${e}`);
    }
    const finalNl = (xs: string[]): string => (xs.length > 0 && rand(4) > 0 ? eol : '');
    const before = lines.join(eol) + finalNl(lines);
    const after = next.join(eol) + finalNl(next);
    const ctx = rand(4);
    const label = JSON.stringify({ iter, before, after, ctx });

    const patch = diffToPatch(before, after, ctx);
    const r = buildSearchReplace(before, patch);
    assert.equal(r.after, after, label);
    // Every block's search occurs in the text it is applied to, line-aligned, and replacing the
    // occurrence we meant (the unique one, when unique) walks from before to after.
    let text = before;
    for (const b of r.blocks) {
      total++;
      if (b.widened > 0) widenedBlocks++;
      assert.ok(b.search === '' ? text === '' : text.includes(b.search), label);
      assert.equal(b.unique, countOccurrences(text, b.search) === 1, label);
      if (b.unique) text = applySearchReplace(text, [b]);
      else break;
    }
    if (r.blocks.every((b) => b.unique)) assert.equal(applySearchReplace(before, r.blocks), after, label);

    // Unlimited widening always ends unique, so application must reproduce the patch exactly.
    const wide = buildSearchReplace(before, patch, { maxWiden: 1000 });
    assert.ok(
      wide.blocks.every((b) => b.unique),
      label
    );
    assert.equal(applySearchReplace(before, wide.blocks), after, label);
  }
  // The vocabulary is small on purpose: make sure the widening path was really exercised.
  assert.ok(total > 2000 && widenedBlocks > 500, `${total} blocks, ${widenedBlocks} widened`);
});
