import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NearDedup } from '../../activities/mix/dedup';
import { DEFAULT_MINHASH_PARAMS, MinHasher, lshThreshold } from '../../activities/mix/minhash';
import { SignatureSpill } from '../../activities/mix/signature-spill';
import { makeMixFixtures } from '../helpers/mix-fixtures';

/** Near dedup confirms LSH candidates by estimated Jaccard; signatures live in a spill file. */
const tmp = mkdtempSync(join(tmpdir(), 'bottega-mix-dedup-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const P = { ...DEFAULT_MINHASH_PARAMS, seed: 1234 };
const THRESHOLD = lshThreshold(P.bands, P.rows);

/** A deterministic pseudo-random signature. */
function randomSig(seed: number): Uint32Array {
  const s = new Uint32Array(P.numPerm);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < s.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s[i] = x >>> 0;
  }
  return s;
}

/** `base` with positions [0, same) kept and the rest replaced by `other`'s values. */
function mix(base: Uint32Array, other: Uint32Array, same: number): Uint32Array {
  const s = Uint32Array.from(other);
  s.set(base.subarray(0, same));
  return s;
}

let dirs = 0;
const dedup = (threshold?: number) => {
  const dir = join(tmp, `d${dirs++}`);
  mkdirp(dir);
  return new NearDedup(P, { dir, threshold });
};
function mkdirp(dir: string) {
  mkdirSync(dir, { recursive: true });
}

describe('mix near dedup: candidates confirmed by estimated Jaccard', () => {
  it('keeps a pair that shares one band but is below the threshold; removes it with threshold 0 (LSH only)', () => {
    const a = randomSig(1);
    const b = mix(a, randomSig(2), P.rows); // band 0 identical, J ≈ 8/128
    const hasher = new MinHasher(P);
    assert.deepEqual(hasher.bandHashes(a)[0], hasher.bandHashes(b)[0], 'the pair shares band 0');
    const d = dedup();
    assert.equal(d.threshold, THRESHOLD);
    assert.equal(d.checkSignature(a, 'a'), null);
    assert.equal(d.checkSignature(b, 'b'), null, 'a band-only candidate is kept');
    d.close();
    const old = dedup(0);
    assert.equal(old.checkSignature(a, 'a'), null);
    assert.deepEqual(old.checkSignature(b, 'b'), { id: 'a', similarity: P.rows / P.numPerm });
    old.close();
  });

  it('removes a candidate at or above the threshold and reports its estimated similarity', () => {
    const a = randomSig(3);
    const d = dedup();
    assert.equal(d.checkSignature(a, 'a'), null);
    const need = Math.ceil(THRESHOLD * P.numPerm); // 91 of 128
    assert.equal(d.checkSignature(mix(a, randomSig(4), need - 1), 'below'), null);
    assert.deepEqual(d.checkSignature(mix(a, randomSig(5), need), 'at'), { id: 'a', similarity: need / P.numPerm });
    assert.deepEqual(d.checkSignature(Uint32Array.from(a), 'same'), { id: 'a', similarity: 1 });
    d.close();
  });

  it('skips unconfirmed and removed candidates and matches the first confirmed one', () => {
    const a = randomSig(6);
    const b = mix(a, randomSig(7), P.rows); // kept: shares only band 0 with a
    const d = dedup();
    assert.equal(d.checkSignature(a, 'a'), null);
    assert.equal(d.checkSignature(b, 'b'), null);
    // shares band 0 with a (J 8/128) and almost everything with b
    const c = mix(b, randomSig(8), 120);
    assert.deepEqual(d.checkSignature(c, 'c'), { id: 'b', similarity: 120 / 128 });
    // c was removed: a copy of c matches b, not c
    assert.deepEqual(d.checkSignature(Uint32Array.from(c), 'c2')?.id, 'b');
    // a kept document forgotten afterwards is never a match
    const e = randomSig(9);
    assert.equal(d.checkSignature(e, 'e'), null);
    d.forgetLast();
    assert.equal(d.checkSignature(Uint32Array.from(e), 'e2'), null);
    d.close();
  });

  it('reads candidates back from disk past the write buffer, and deletes the spill file on close', () => {
    const d = dedup();
    const n = 5000; // > 2048 buffered signatures
    for (let i = 0; i < n; i++) assert.equal(d.checkSignature(randomSig(1000 + i), `doc${i}`), null);
    assert.deepEqual(d.checkSignature(randomSig(1000 + 17), 'again17'), { id: 'doc17', similarity: 1 });
    assert.deepEqual(d.checkSignature(randomSig(1000 + 4990), 'again4990'), { id: 'doc4990', similarity: 1 });
    const file = join(tmp, `d${dirs - 1}`, 'near-signatures.bin');
    assert.ok(existsSync(file));
    d.close();
    assert.ok(!existsSync(file));
  });

  it('SignatureSpill returns what was appended, buffered or flushed', () => {
    const dir = join(tmp, 'spill');
    mkdirp(dir);
    const s = new SignatureSpill(join(dir, 'sigs.bin'), 16, 3);
    const sigs = Array.from({ length: 10 }, (_, i) => randomSig(i + 50).subarray(0, 16));
    sigs.forEach((sig, i) => assert.equal(s.append(sig), i));
    assert.equal(s.size, 10);
    for (const i of [0, 2, 3, 8, 9, 5]) assert.deepEqual(s.read(i), sigs[i]);
    assert.throws(() => s.read(10), /no signature 10/);
    s.close();
  });

  it('the fixtures plant a pair that shares a band below the threshold', () => {
    const fx = makeMixFixtures(join(tmp, 'fx'));
    const [a, b] = fx.planted.bandOnlyPair.map((id) => fx.general.find((s) => s.id === id)!.text);
    const d = dedup();
    assert.equal(d.check(a!, 'a'), null);
    assert.equal(d.check(b!, 'b'), null);
    d.close();
    assert.ok(fx.planted.bandOnlySimilarity < THRESHOLD && fx.planted.bandOnlySimilarity > 0.3);
    const old = dedup(0);
    assert.equal(old.check(a!, 'a'), null);
    assert.deepEqual(old.check(b!, 'b'), { id: 'a', similarity: fx.planted.bandOnlySimilarity }, 'an LSH candidate');
    old.close();
  });
});
