import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MINHASH_PARAMS,
  MinHasher,
  MinHashLsh,
  MinHashParamsError,
  jaccardEstimate,
  lshCandidateProbability,
  lshThreshold,
  shingles,
  type MinHashParams,
} from '../../activities/mix/minhash';

/** Deterministic LCG in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

const VOCAB = Array.from({ length: 4000 }, (_, i) => `tok${i.toString(36)}${i % 5 === 0 ? '()' : ''}`);

function words(n: number, r: () => number): string[] {
  return Array.from({ length: n }, () => VOCAB[Math.floor(r() * VOCAB.length)]!);
}

function trueJaccard(a: string, b: string, size: number): number {
  const A = new Set(shingles(a, size));
  const B = new Set(shingles(b, size));
  let inter = 0;
  for (const x of A) if (B.has(x)) inter++;
  const union = A.size + B.size - inter;
  return union === 0 ? 1 : inter / union;
}

function sharesBand(h: MinHasher, a: Uint32Array, b: Uint32Array): boolean {
  const x = h.bandHashes(a);
  const y = h.bandHashes(b);
  return x.some((v, i) => v === y[i]);
}

describe('mix minhash', () => {
  const h = new MinHasher(DEFAULT_MINHASH_PARAMS);

  it('shingles normalise case and whitespace, and keep short texts whole', () => {
    assert.deepEqual(shingles('  A b\tC\n\nd  E f ', 5), ['a b c d e', 'b c d e f']);
    assert.deepEqual(shingles('Hello\u00a0World', 5), ['hello world']);
    assert.deepEqual(shingles(' \n ', 5), []);
    assert.deepEqual(shingles('x y z', 1), ['x', 'y', 'z']);
  });

  it('signatures depend on the shingle set only, and on the seed', () => {
    const r = rng(1);
    const text = words(400, r).join(' ');
    const s1 = h.signature(text);
    assert.equal(s1.length, 128);
    assert.deepEqual(h.signature(text), s1);
    assert.deepEqual(new MinHasher({ ...DEFAULT_MINHASH_PARAMS }).signature(text), s1);
    // same normalised words → same shingles → same signature
    assert.deepEqual(h.signature(text.toUpperCase().replace(/ /g, ' \n\t ')), s1);
    assert.notDeepEqual(new MinHasher({ ...DEFAULT_MINHASH_PARAMS, seed: 2 }).signature(text), s1);
    assert.equal(jaccardEstimate(s1, s1), 1);
    // empty texts: all-empty signatures, equal to each other
    assert.deepEqual(h.signature(''), h.signature('   '));
  });

  it('the signature matches the shingle strings it stands for', () => {
    // a permutation of shingles that keeps the set gives the same signature
    const a = 'a b c a b c a b';
    const b = 'a b c a b c a b c a b';
    assert.deepEqual(new Set(shingles(a, 3)), new Set(shingles(b, 3)));
    const h3 = new MinHasher({ ...DEFAULT_MINHASH_PARAMS, shingleSize: 3 });
    assert.deepEqual(h3.signature(a), h3.signature(b));
  });

  it('the signature is that of the normalised words, whatever the case, whitespace and script', () => {
    const r = rng(21);
    const extra = ['Straße', 'ΟΔΟΣ', 'ΣΑΣ', 'İstanbul', 'データ', 'naïve', 'ÉCOLE', '😀x', 'ǅ', 'Ωmega', 'ﬀ'];
    const spaces = [' ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000', '\u2028', '\u1680', '  \v\f'];
    for (let k = 0; k < 50; k++) {
      const ws = Array.from({ length: 5 + Math.floor(r() * 200) }, () =>
        r() < 0.2 ? extra[Math.floor(r() * extra.length)]! : VOCAB[Math.floor(r() * VOCAB.length)]!.toUpperCase()
      );
      let text = r() < 0.5 ? spaces[Math.floor(r() * spaces.length)]! : '';
      for (const w of ws) text += w + spaces[Math.floor(r() * spaces.length)]!;
      const canonical = text
        .toLowerCase()
        .split(/\s+/)
        .filter((w) => w)
        .join(' ');
      assert.deepEqual(h.signature(text), h.signature(canonical), `text ${k}`);
    }
    // U+FEFF is whitespace and case-ignorable: the final-sigma rule sees through it
    assert.deepEqual(h.signature('ΑΣ\ufeffΑ b c d e'), h.signature('ΑΣ\ufeffΑ b c d e'.toLowerCase()));
  });

  it('the estimate tracks the true Jaccard similarity', () => {
    const r = rng(7);
    let se = 0;
    let n = 0;
    for (const rate of [0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4]) {
      for (let k = 0; k < 25; k++) {
        const w = words(200 + Math.floor(r() * 800), r);
        const w2 = w.map((x) => (r() < rate ? VOCAB[Math.floor(r() * VOCAB.length)]! : x));
        const a = w.join(' ');
        const b = w2.join(' ');
        const t = trueJaccard(a, b, 5);
        const e = jaccardEstimate(h.signature(a), h.signature(b));
        // MinHash with k = 128: sd = sqrt(J(1-J)/128) <= 0.044; allow 4.5 sd
        assert.ok(Math.abs(e - t) <= 0.2, `rate ${rate}: estimate ${e} vs true ${t}`);
        se += (e - t) ** 2;
        n++;
      }
    }
    const rmse = Math.sqrt(se / n);
    assert.ok(rmse < 0.045, `rmse ${rmse}`);
  });

  it('short texts (fewer shingles than bins) are still estimated sensibly', () => {
    const r = rng(3);
    let se = 0;
    let n = 0;
    for (let k = 0; k < 60; k++) {
      const w = words(20 + Math.floor(r() * 60), r);
      const w2 = [...w];
      w2[Math.floor(r() * w2.length)] = 'changed';
      const a = w.join(' ');
      const b = w2.join(' ');
      se += (jaccardEstimate(h.signature(a), h.signature(b)) - trueJaccard(a, b, 5)) ** 2;
      n++;
    }
    assert.ok(Math.sqrt(se / n) < 0.1, `rmse ${Math.sqrt(se / n)}`);
  });

  it('a near duplicate (one word changed in 300) shares a band; unrelated texts do not', () => {
    const r = rng(11);
    for (let k = 0; k < 20; k++) {
      const w = words(300, r);
      const w2 = [...w];
      w2[Math.floor(r() * 300)] = 'CHANGED';
      const a = h.signature(w.join(' '));
      const b = h.signature(w2.join(' '));
      assert.ok(sharesBand(h, a, b), `pair ${k} shares no band`);
      assert.ok(jaccardEstimate(a, b) >= lshThreshold(16, 8));
      const c = h.signature(words(300, r).join(' '));
      assert.ok(!sharesBand(h, a, c), `unrelated pair ${k} shares a band`);
      assert.ok(jaccardEstimate(a, c) < 0.1);
    }
  });

  it('the LSH index returns earlier documents that share a band', () => {
    const r = rng(5);
    const base = words(300, r);
    const near = [...base];
    near[150] = 'CHANGED';
    const texts = [base.join(' '), words(300, r).join(' '), near.join(' '), words(300, r).join(' '), base.join(' ')];
    const lsh = new MinHashLsh(h, 2); // small, so it grows
    const got = texts.map((t) => lsh.queryInsert(h.signature(t)));
    assert.deepEqual(got, [[], [], [0], [], [0, 2]]);
    assert.equal(lsh.size, 5);
    for (let i = 0; i < 500; i++) assert.deepEqual(lsh.queryInsert(h.signature(words(50, r).join(' '))), []);
  });

  it('threshold and candidate probability', () => {
    assert.ok(Math.abs(lshThreshold(16, 8) - 0.7071) < 1e-4);
    assert.ok(Math.abs(lshThreshold(20, 5) - 0.5493) < 1e-4);
    assert.ok(lshCandidateProbability(0.9, 16, 8) > 0.999);
    assert.ok(lshCandidateProbability(0.5, 16, 8) < 0.07);
  });

  it('non-power-of-two bins and other band shapes work', () => {
    const p: MinHashParams = { shingleSize: 3, numPerm: 100, bands: 20, rows: 5, seed: 42 };
    const h2 = new MinHasher(p);
    const r = rng(9);
    const w = words(500, r);
    const s = h2.signature(w.join(' '));
    assert.equal(s.length, 100);
    assert.equal(h2.bandHashes(s).length, 20);
    w[10] = 'x';
    assert.ok(jaccardEstimate(s, h2.signature(w.join(' '))) > 0.9);
  });

  it('bad parameters give a clear error', () => {
    assert.throws(
      () => new MinHasher({ ...DEFAULT_MINHASH_PARAMS, bands: 10 }),
      (e: unknown) =>
        e instanceof MinHashParamsError && /bands × rows must equal numPerm.*10 × 8 = 80 ≠ 128/.test(e.message)
    );
    assert.throws(() => new MinHasher({ ...DEFAULT_MINHASH_PARAMS, shingleSize: 0 }), /shingleSize/);
    assert.throws(() => new MinHasher({ ...DEFAULT_MINHASH_PARAMS, numPerm: 1.5 }), /numPerm/);
    assert.throws(() => new MinHasher({ ...DEFAULT_MINHASH_PARAMS, seed: Number.NaN }), /seed/);
    assert.throws(() => jaccardEstimate(new Uint32Array(2), new Uint32Array(3)), /lengths differ/);
  });
});
