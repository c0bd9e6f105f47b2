import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_MINHASH_PARAMS,
  MinHasher,
  MinHashParamsError,
  type MinHashParams,
} from '../../activities/mix/minhash';
import { buildMinHashWasm, MINHASH_WASM } from '../../infra/build-minhash-wasm';

/** Deterministic LCG in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

const WORDS = [
  'def',
  'return',
  'self.x',
  'Foo()',
  'CamelCase',
  'ALLCAPS',
  'x=1;',
  '{',
  '}',
  'Straße',
  'ΟΔΟΣ',
  'ΣΑΣ',
  'İstanbul',
  'データ',
  'naïve',
  'ÉCOLE',
  '😀x',
  'ǅ',
  'Ωmega',
  'ﬀ',
  'a\u0085b', // NEL is not \s
  'q\u0000r\u001fs',
  '\ud800', // lone surrogates
  'z\udc00',
  '\u007f\u009f\u00a1',
  '[\u0130]',
  // over one 8-unit chunk, and over a 64-unit bitmap window
  'self.assertEqual(response.status_code,',
  'ÄÖÜäöü_long_Σ_word_with_context',
  'x'.repeat(70) + 'Y'.repeat(71),
];
const SPACES = [' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u200a', '\u3000', '\u2028', '\u2029'];
const SPACES_RARE = ['\u1680', '\u202f', '\u205f', '\v\f', '\ufeff'];

/** A random text of `n` words: code-like tokens, random ASCII, and the awkward cases above. */
function randomText(r: () => number, n: number): string {
  let t = r() < 0.3 ? SPACES[Math.floor(r() * SPACES.length)]! : '';
  for (let i = 0; i < n; i++) {
    const x = r();
    let w: string;
    if (x < 0.5) w = WORDS[Math.floor(r() * 9)]!;
    else if (x < 0.8)
      w = Array.from({ length: 1 + Math.floor(r() * 12) }, () => String.fromCharCode(33 + Math.floor(r() * 94))).join(
        ''
      );
    else if (x < 0.95) w = WORDS[Math.floor(r() * WORDS.length)]!;
    else
      w = Array.from({ length: 1 + Math.floor(r() * 4) }, () => String.fromCharCode(Math.floor(r() * 0x10000))).join(
        ''
      );
    t += w;
    t += r() < 0.01 ? SPACES_RARE[Math.floor(r() * SPACES_RARE.length)]! : SPACES[Math.floor(r() * SPACES.length)]!;
  }
  return t;
}

function assertSameSignatures(p: MinHashParams, texts: string[]): void {
  const js = new MinHasher(p, { engine: 'js' });
  const wasm = new MinHasher(p, { engine: 'wasm' });
  assert.equal(js.engine, 'js');
  assert.equal(wasm.engine, 'wasm');
  const a = new Uint32Array(p.numPerm);
  const b = new Uint32Array(p.numPerm);
  texts.forEach((t, i) => {
    const na = js.signatureInto(t, a);
    const nb = wasm.signatureInto(t, b);
    assert.equal(nb, na, `shingle count, text ${i} (${JSON.stringify(t.slice(0, 60))}), params ${JSON.stringify(p)}`);
    assert.deepEqual(b, a, `signature, text ${i} (${JSON.stringify(t.slice(0, 60))}), params ${JSON.stringify(p)}`);
  });
}

describe('mix minhash: WebAssembly kernel', () => {
  it('the committed minhash.wasm is minhash.wat rebuilt (run `npm run build:wasm` after editing the .wat)', async () => {
    const built = await buildMinHashWasm();
    assert.ok(
      Buffer.from(built).equals(readFileSync(MINHASH_WASM)),
      'activities/mix/minhash.wasm is stale: run `npm run build:wasm`'
    );
  });

  it('gives signatures and shingle counts bit-identical to the pure path on random texts', () => {
    const r = rng(0x5eed);
    const texts: string[] = ['', ' ', '\ufeff', 'x', 'A b', 'a b c d', 'a b c d e', 'ΑΣ\ufeffΑ b c d e f'];
    // U+FEFF (whitespace, and case-ignorable: the kernel hands such texts to the pure path) anywhere in a word
    for (const t of [
      'abc\ufeffDEF g h i j k',
      '\ufeffABC d e f g h',
      'é\ufeffX a b c d e',
      'a b c d e f\ufeff',
      'ΣΑΣ\ufeff',
    ])
      texts.push(t, t.repeat(5));
    for (let i = 0; i < 1500; i++) texts.push(randomText(r, Math.floor(r() < 0.3 ? r() * 8 : r() * 600)));
    assertSameSignatures(DEFAULT_MINHASH_PARAMS, texts);
    // other shapes: non-power-of-two bins, one bin, 1-word and long shingles, other seeds
    const shapes: MinHashParams[] = [
      { shingleSize: 1, numPerm: 64, bands: 8, rows: 8, seed: 7 },
      { shingleSize: 3, numPerm: 100, bands: 20, rows: 5, seed: 42 },
      { shingleSize: 8, numPerm: 256, bands: 32, rows: 8, seed: 2 ** 40 + 3 },
      { shingleSize: 13, numPerm: 1, bands: 1, rows: 1, seed: -5 },
      { shingleSize: 2, numPerm: 96, bands: 12, rows: 8, seed: 0 },
    ];
    for (const p of shapes) assertSameSignatures(p, texts.slice(0, 300));
  });

  it('handles texts that grow its memory, then small ones again', () => {
    const r = rng(77);
    const big = randomText(r, 400_000);
    assert.ok(big.length > 1_500_000);
    assertSameSignatures(DEFAULT_MINHASH_PARAMS, [randomText(r, 50), big, randomText(r, 50), big.slice(0, 1000)]);
    // over 16 M code units: the pure path, same result
    const huge = big.repeat(Math.ceil((1 << 24) / big.length) + 1);
    assert.ok(huge.length > 1 << 24);
    assertSameSignatures(DEFAULT_MINHASH_PARAMS, [huge, big]);
  });

  it('without WebAssembly (node --jitless), auto falls back to the pure path with a warning, same signatures', () => {
    const text = randomText(rng(3), 300);
    const script = `import('../../activities/mix/minhash.ts').then((m) => {
      const h = new m.MinHasher(m.DEFAULT_MINHASH_PARAMS);
      process.stderr.write(JSON.stringify({ engine: h.engine, sig: [...h.signature(${JSON.stringify(text)})] }));
    })`;
    const r = spawnSync(process.execPath, ['--jitless', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      encoding: 'utf8',
      env: { ...process.env, BOTTEGA_MINHASH_ENGINE: '', BOTTEGA_LOG_FILE: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stderr) as { engine: string; sig: number[] };
    assert.equal(got.engine, 'js');
    assert.deepEqual(got.sig, [...new MinHasher(DEFAULT_MINHASH_PARAMS, { engine: 'wasm' }).signature(text)]);
    assert.match(r.stdout, /WebAssembly kernel unavailable, using the pure TypeScript path/);
  });

  it('the engine is chosen by option or BOTTEGA_MINHASH_ENGINE, and a bad name is a clear error', () => {
    assert.equal(new MinHasher(DEFAULT_MINHASH_PARAMS).engine, 'wasm');
    const old = process.env.BOTTEGA_MINHASH_ENGINE;
    try {
      process.env.BOTTEGA_MINHASH_ENGINE = 'js';
      assert.equal(new MinHasher(DEFAULT_MINHASH_PARAMS).engine, 'js');
      assert.equal(new MinHasher(DEFAULT_MINHASH_PARAMS, { engine: 'auto' }).engine, 'wasm');
      process.env.BOTTEGA_MINHASH_ENGINE = 'simd';
      assert.throws(
        () => new MinHasher(DEFAULT_MINHASH_PARAMS),
        (e: unknown) =>
          e instanceof MinHashParamsError &&
          /engine must be one of auto, wasm, js .*BOTTEGA_MINHASH_ENGINE.*simd/.test(e.message)
      );
    } finally {
      if (old === undefined) delete process.env.BOTTEGA_MINHASH_ENGINE;
      else process.env.BOTTEGA_MINHASH_ENGINE = old;
    }
  });
});
