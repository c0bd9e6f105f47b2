import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { getTokenizer, loadTokenizer, tokenizerJsonPath } from '../../activities/mine/tokenizer';

/**
 * Expected ids produced once with the Rust-backed Python `tokenizers` 0.23.3 on the same file:
 *   Tokenizer.from_file(tokenizerJsonPath('qwen3')).encode(s, add_special_tokens=False).ids
 */
const GOLDEN: Array<[string, number[]]> = [
  ['Hello, world!', [9707, 11, 1879, 0]],
  ['def add(a, b):\n    return a + b\n', [750, 912, 2877, 11, 293, 982, 262, 470, 264, 488, 293, 198]],
  // HF matches added tokens, special ones too, even with add_special_tokens=False.
  ['<|im_start|>user\nhi<|im_end|><|endoftext|>', [151644, 872, 198, 6023, 151645, 151643]],
  // Qwen3-only added tokens (not in Qwen2.5's list); HF on this file gives single ids.
  ['<think>plan</think>', [151667, 10393, 151668]],
  ['中文分词测试：你好，世界。', [104811, 17177, 99689, 81705, 5122, 108386, 3837, 99489, 1773]],
  ['👨\u200d👩\u200d👧 🇺🇸 😀!', [145367, 378, 235, 145233, 378, 235, 145665, 11162, 229, 118, 145383, 90316, 0]],
  ['\tif x:\n\t\t  pass  \n\n\n    \r\n', [743, 856, 510, 7847, 1494, 79226, 6421]],
  // latin-1 mojibake of UTF-8 ("Café “quoted” über"), including the C1 control U+009D
  [
    'Caf\u00c3\u00a9 \u00e2\u20ac\u0153quoted\u00e2\u20ac\u009d \u00c3\u00bcber',
    [34, 2577, 18791, 20043, 27905, 15056, 51722, 63725, 8835, 15056, 126, 251, 73780, 41873, 652],
  ],
  // NFC: decomposed e + U+0301 becomes é; "été" is one token
  ['e\u0301t\u00e9', [38783]],
  // U+0085 is whitespace for Oniguruma (HF's regex engine) but not for JS; U+FEFF the reverse
  ['a\u0085b \ufeffc', [64, 126, 227, 65, 75780, 66]],
  ["I'LL don't we've", [40, 6, 4086, 1513, 944, 582, 3003]],
  ['', []],
  ['   ', [262]],
  ['x = 1234567 + 0.5e-3', [87, 284, 220, 16, 17, 18, 19, 20, 21, 22, 488, 220, 15, 13, 20, 68, 12, 18]],
];

/** Deterministic mixed corpus: code, unicode, whitespace runs, mojibake, added tokens, long runs. */
function corpus(): string[] {
  const atoms = [
    ' ',
    '  ',
    '\t',
    '\n',
    '\r\n',
    '\u0085',
    '\u00a0',
    '\ufeff',
    '\u3000',
    'hello',
    'World',
    "'s",
    "'LL",
    '42',
    '3.14',
    '中文',
    '한국어',
    'é',
    'e\u0301',
    'ﬁ',
    '😀',
    '👨\u200d👩\u200d👧',
    'Ã©',
    'â€™',
    '<|im_end|>',
    '<think>',
    '<|',
    'def ',
    'self.',
    '__init__',
    '        return',
    '#',
    '==',
    '->',
    'ſ',
    'İ',
    '𝔘',
    '\u0000',
  ];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const out: string[] = [];
  for (let i = 0; i < 3000; i++) {
    let s = '';
    for (let j = 1 + rnd(25); j > 0; j--) s += atoms[rnd(atoms.length)];
    out.push(s);
  }
  out.push(
    ' '.repeat(500),
    'a'.repeat(300),
    '='.repeat(200) + '\n',
    'abcdefghij'.repeat(40),
    '😀'.repeat(60),
    'ab'.repeat(333)
  );
  return out;
}

void describe('tokenizer qwen2.5', () => {
  void it('matches HF tokenizers ids on known strings', async () => {
    const tk = await getTokenizer('qwen3');
    for (const [text, ids] of GOLDEN) {
      assert.deepEqual(tk.encode(text), ids, JSON.stringify(text));
      assert.equal(tk.count(text), ids.length, JSON.stringify(text));
    }
  });

  void it('is memoised and exposes metadata', async () => {
    const [a, b] = await Promise.all([getTokenizer('qwen3'), getTokenizer('qwen3')]);
    assert.equal(a, b);
    assert.equal(a.name, 'qwen3');
    assert.equal(a.vocabSize, 151_669);
    const path = tokenizerJsonPath('qwen3');
    assert.ok(isAbsolute(path) && path.endsWith('tokenizer.json'));
    assert.equal(a.fingerprint, createHash('sha256').update(readFileSync(path)).digest('hex'));
    assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  });

  void it('counts unicode, emoji, CJK and whitespace-heavy code', async () => {
    const tk = await getTokenizer('qwen3');
    assert.equal(tk.count('😀'), 1);
    assert.equal(tk.count('🇺🇸'), 2); // HF: [145526, 145383]
    assert.equal(tk.count('你好，世界'), 3);
    // indentation runs: 4 spaces = 1 token, the trailing space run before a word splits off
    assert.deepEqual(tk.encode('    x'), [262, 856]);
    assert.equal(tk.count('if a:\n        return b\n'), tk.encode('if a:\n        return b\n').length);
    assert.equal(tk.count(''), 0);
  });

  void it('never adds BOS/EOS; lone surrogates encode as U+FFFD', async () => {
    const tk = await getTokenizer('qwen3');
    assert.deepEqual(tk.encode('hello'), [14990]);
    assert.deepEqual(tk.encode('a\ud800b'), tk.encode('a\ufffdb'));
  });

  void it('cached scanner encoding equals a fresh uncached regex encoder (and a tiny rotating cache)', async () => {
    const cached = await getTokenizer('qwen3');
    // reference: no cache, the pre-tokenizer regex itself instead of the hand-written scanner
    const fresh = loadTokenizer('qwen3', { cacheSize: 0, pretokenizer: 'regex' });
    const uncachedScan = loadTokenizer('qwen3', { cacheSize: 0 });
    const tiny = loadTokenizer('qwen3', { cacheSize: 3 });
    assert.equal(fresh.fingerprint, cached.fingerprint);
    const texts = corpus();
    for (let pass = 0; pass < 2; pass++) {
      for (const t of texts) {
        const want = fresh.encode(t);
        assert.deepEqual(cached.encode(t), want, JSON.stringify(t));
        assert.deepEqual(tiny.encode(t), want, JSON.stringify(t));
        if (pass === 0) assert.deepEqual(uncachedScan.encode(t), want, JSON.stringify(t));
        assert.equal(cached.count(t), want.length);
      }
    }
  });

  void it('is independent of how text is split around added tokens', async () => {
    const tk = await getTokenizer('qwen3');
    const a = tk.encode('x<|im_start|>y');
    assert.deepEqual(a, [...tk.encode('x'), 151644, ...tk.encode('y')]);
    // a partial marker is plain text
    assert.ok(!tk.encode('<|im_start').includes(151644));
  });
});

void describe('qwen2.5 versus qwen3', () => {
  void it('qwen2.5 lacks the four Qwen3-only added tokens (ids from HF tokenizers on the same files)', async () => {
    const q25 = await getTokenizer('qwen2.5');
    const q3 = await getTokenizer('qwen3');
    assert.equal(q25.vocabSize, 151665);
    assert.equal(q3.vocabSize, 151669);
    const text = '<think>x</think><tool_call>';
    assert.deepEqual(q25.encode(text), [13708, 766, 28257, 522, 26865, 29, 151657]);
    assert.deepEqual(q3.encode(text), [151667, 87, 151668, 151657]);
    assert.notEqual(q25.fingerprint, q3.fingerprint);
    // Same BPE: ordinary text encodes identically.
    assert.deepEqual(q25.encode('def f(x):\n    return x + 1\n'), q3.encode('def f(x):\n    return x + 1\n'));
  });
});
