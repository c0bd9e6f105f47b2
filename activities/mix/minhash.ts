/**
 * MinHash signatures and LSH banding for near-duplicate detection in the mix stage.
 *
 * **Shingles.** A document is normalised (lower-cased with `String.prototype.toLowerCase`,
 * whitespace runs collapsed: words are the maximal runs of non-`\s` characters, `\s` as in
 * JavaScript regular expressions) and cut into word n-grams of {@link MinHashParams.shingleSize}
 * words joined by one space. A non-empty document shorter than that is one shingle of all its
 * words; an empty one has none. {@link shingles} returns these strings; {@link MinHasher.signature}
 * hashes exactly the same set without building them.
 *
 * **Sketch.** One-permutation hashing with optimal densification (Li, Owen & Zhang 2012;
 * Shrivastava 2017) instead of `numPerm` independent permutations: every shingle is hashed once to
 * 64 bits; the top bits pick one of `numPerm` bins and the other 32 bits are the value, and each bin
 * keeps its minimum value. A bin no shingle fell into copies the value of the first non-empty bin
 * on its own seeded probe sequence (the same sequence in every document, so two documents agree
 * on a densified bin exactly when they agree on the bin it copies). The fraction of equal bins is
 * an unbiased estimate of the Jaccard similarity of the two shingle sets, with a variance no larger
 * than that of `numPerm`-permutation MinHash when documents have at least about `numPerm`
 * shingles (bins are sampled without replacement) and close to it below that (Shrivastava 2017).
 * Cost per document is O(characters + shingles + numPerm), not O(shingles × numPerm) as for classic
 * MinHash (PyPI `datasketch`'s `MinHash`, `rensa`'s `RMinHash`); `npm run bench -- mix` compares
 * speed and the pairs found with both.
 *
 * **Hashes.** Each word is lower-cased (ASCII inline, other words with `toLowerCase`) and hashed
 * once over its UTF-16 code units with {@link hashUnits}: four 32-bit lanes that each take two
 * units of every 8-unit chunk (multiply and xor-shift per chunk), combined into two 32-bit hashes
 * with murmur3's finaliser; a shingle's 64-bit hash is a rolling polynomial over its words' hashes
 * (one per lane, bases ≡ 3 mod 4), finalised, so every character is hashed once whatever the
 * shingle size. Everything is 32-bit integer math (`Math.imul`) on typed arrays: no BigInt, no
 * string building, no allocation per shingle (only a non-ASCII word is copied to lower-case it).
 * Signatures are deterministic for a given seed and parameters, across runs and platforms.
 *
 * **Engines.** The same arithmetic runs either in TypeScript or in a small WebAssembly kernel
 * (`minhash.wat`, compiled to the committed `minhash.wasm`; see `minhash-wasm.ts`; SIMD: 8 code
 * units per step to lower-case and find whitespace, one vector step per word of up to 8 units),
 * which needs about a third of the CPU time (`npm run bench -- mix` prints both). The signatures are bit-identical
 * (checked on random texts by test/unit/mix-minhash-wasm.test.ts); the kernel is used when
 * WebAssembly is available (option `engine` / env `BOTTEGA_MINHASH_ENGINE`: `auto`, `wasm` or
 * `js`), and texts with U+FEFF or over 16 M code units take the pure path.
 *
 * **LSH.** The signature is cut into `bands` bands of `rows` values; two documents become
 * candidates when any band is identical, which happens with probability `1 - (1 - J^rows)^bands`
 * for Jaccard similarity `J`; the S-curve's midpoint is about {@link lshThreshold}`(bands, rows)`
 * = `(1/bands)^(1/rows)`. {@link MinHashLsh} finds candidates; confirming them with
 * {@link jaccardEstimate} ≥ the threshold (as the mix stage's near dedup, `dedup.ts`, and
 * `npm run bench -- mix` do) drops most of the candidates below it.
 *
 * **Defaults** ({@link DEFAULT_MINHASH_PARAMS}): 5-word shingles, 128 bins ("permutations"),
 * 16 bands × 8 rows, so the threshold is (1/16)^(1/8) ≈ 0.707: a pair at J = 0.8 becomes a
 * candidate with probability 0.95, at J = 0.9 with 0.9999, at J = 0.5 with 0.06.
 */
import { MinHashWasmKernel } from './minhash-wasm';

/** MinHash and LSH parameters. `bands * rows` must equal `numPerm`. */
export interface MinHashParams {
  /** Words per shingle (default 5). */
  shingleSize: number;
  /** Signature length: bins / "permutations" (default 128). */
  numPerm: number;
  /** LSH bands (default 16). */
  bands: number;
  /** Signature values per band (default 8). */
  rows: number;
  /** Seed of every hash (default 1); the same seed and parameters give the same signatures. */
  seed: number;
}

/**
 * Defaults: 5-word shingles, 128 permutations, 16 bands × 8 rows (Jaccard threshold
 * (1/16)^(1/8) ≈ 0.707), seed 1.
 */
export const DEFAULT_MINHASH_PARAMS: Readonly<MinHashParams> = Object.freeze({
  shingleSize: 5,
  numPerm: 128,
  bands: 16,
  rows: 8,
  seed: 1,
});

/**
 * Which implementation computes signatures: `wasm` the WebAssembly kernel, `js` the pure
 * TypeScript path, `auto` the kernel when it loads, else the pure path. Both give identical
 * signatures.
 */
export type MinHashEngine = 'auto' | 'wasm' | 'js';

/** Options of {@link MinHasher}. */
export interface MinHasherOptions {
  /** Default: env `BOTTEGA_MINHASH_ENGINE`, else `auto`. */
  engine?: MinHashEngine;
}

/** Thrown for inconsistent {@link MinHashParams}. */
export class MinHashParamsError extends Error {
  override name = 'MinHashParamsError';
}

/** Checks `p` and throws a {@link MinHashParamsError} naming the offending field. */
export function validateMinHashParams(p: MinHashParams): void {
  const posInt = (k: keyof MinHashParams, max: number): void => {
    const v = p[k];
    if (!Number.isInteger(v) || v < 1 || v > max)
      throw new MinHashParamsError(`minhash: ${k} must be an integer in [1, ${max}], got ${String(v)}`);
  };
  posInt('shingleSize', 64);
  posInt('numPerm', 1 << 16);
  posInt('bands', 1 << 16);
  posInt('rows', 1 << 16);
  if (!Number.isInteger(p.seed))
    throw new MinHashParamsError(`minhash: seed must be an integer, got ${String(p.seed)}`);
  if (p.bands * p.rows !== p.numPerm)
    throw new MinHashParamsError(
      `minhash: bands × rows must equal numPerm, got ${p.bands} × ${p.rows} = ${p.bands * p.rows} ≠ ${p.numPerm}`
    );
}

/** Word shingles of normalized text (lower-case, whitespace collapsed). */
export function shingles(text: string, size: number): string[] {
  if (!Number.isInteger(size) || size < 1) throw new MinHashParamsError(`minhash: bad shingle size ${size}`);
  const words = text
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w.length > 0);
  if (words.length === 0) return [];
  if (words.length < size) return [words.join(' ')];
  const out: string[] = [];
  for (let i = 0; i + size <= words.length; i++) out.push(words.slice(i, i + size).join(' '));
  return out;
}

/** Approximate Jaccard threshold of (bands, rows): (1/bands)^(1/rows). */
export function lshThreshold(bands: number, rows: number): number {
  return Math.pow(1 / bands, 1 / rows);
}

/** Probability that a pair with Jaccard similarity `j` shares at least one band: 1 - (1 - j^rows)^bands. */
export function lshCandidateProbability(j: number, bands: number, rows: number): number {
  return 1 - Math.pow(1 - Math.pow(j, rows), bands);
}

/** Estimated Jaccard similarity: the fraction of equal signature positions. */
export function jaccardEstimate(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) throw new Error(`jaccardEstimate: signature lengths differ (${a.length} vs ${b.length})`);
  if (a.length === 0) return 0;
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * The word hash: the `len` lower-cased code units in `u` are cut into chunks of 8 (the last
 * padded with zeros); lane `j` (of four, seeded with `seeds[j]`) takes units 2j (low half) and
 * 2j+1 (high half) of every chunk as one 32-bit value `x`: `lane = (lane ^ x) * K[j]` (K =
 * 0xcc9e2d51, 0x1b873593, 0x85ebca6b, 0xc2b2ae35), then
 * `lane ^= lane >>> 15`. The two hashes are murmur3-finalised linear combinations of the lanes
 * and the length, written to `out[0]` and `out[1]`. This is what the WebAssembly kernel computes
 * with one 128-bit vector per chunk (minhash.wat `words`), so a typical word is one vector step
 * instead of a multiply per character.
 */
export function hashUnits(u: Uint16Array, len: number, seeds: readonly number[], out: Int32Array): void {
  let v0 = seeds[0]!;
  let v1 = seeds[1]!;
  let v2 = seeds[2]!;
  let v3 = seeds[3]!;
  // whole chunks, then the last (partial or whole) one, whose missing units are zeros
  let c = 0;
  for (; c + 8 < len; c += 8) {
    v0 = Math.imul(v0 ^ (u[c]! | (u[c + 1]! << 16)), 0xcc9e2d51);
    v0 ^= v0 >>> 15;
    v1 = Math.imul(v1 ^ (u[c + 2]! | (u[c + 3]! << 16)), 0x1b873593);
    v1 ^= v1 >>> 15;
    v2 = Math.imul(v2 ^ (u[c + 4]! | (u[c + 5]! << 16)), 0x85ebca6b);
    v2 ^= v2 >>> 15;
    v3 = Math.imul(v3 ^ (u[c + 6]! | (u[c + 7]! << 16)), 0xc2b2ae35);
    v3 ^= v3 >>> 15;
  }
  const r = len - c;
  const x0 = u[c]! | (r > 1 ? u[c + 1]! << 16 : 0);
  const x1 = r > 2 ? u[c + 2]! | (r > 3 ? u[c + 3]! << 16 : 0) : 0;
  const x2 = r > 4 ? u[c + 4]! | (r > 5 ? u[c + 5]! << 16 : 0) : 0;
  const x3 = r > 6 ? u[c + 6]! | (r > 7 ? u[c + 7]! << 16 : 0) : 0;
  v0 = Math.imul(v0 ^ x0, 0xcc9e2d51);
  v0 ^= v0 >>> 15;
  v1 = Math.imul(v1 ^ x1, 0x1b873593);
  v1 ^= v1 >>> 15;
  v2 = Math.imul(v2 ^ x2, 0x85ebca6b);
  v2 ^= v2 >>> 15;
  v3 = Math.imul(v3 ^ x3, 0xc2b2ae35);
  v3 ^= v3 >>> 15;
  out[0] = fmix32(
    (((v0 + Math.imul(v1, 0x9e3779b1)) | 0) + ((Math.imul(v2, 0x85ebca77) + Math.imul(v3, 0xc2b2ae3d)) | 0)) ^ len
  );
  out[1] = fmix32(
    ((((Math.imul(v0, 0x27d4eb2f) + Math.imul(v1, 0x165667b1)) | 0) + ((v2 + Math.imul(v3, 0xd3a2646d)) | 0)) | 0) +
      Math.imul(len, 0x7feb352d)
  );
}

/** Whitespace as JavaScript's `\s`: ASCII 9–13 and 32 are tested inline, the rest here. */
function isWideSpace(c: number): boolean {
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

const EMPTY = 0xffffffff;
const SPACE = -1;
const ENGINES: readonly string[] = ['auto', 'wasm', 'js'];

/** The kernel's code unit table (layout in minhash.wat), built on first use. */
let kernelTable: Int32Array | undefined;

/**
 * Per UTF-16 code unit: -1 whitespace, -2 U+FEFF, -3 a unit whose lower case depends on its
 * context or is not one unit (surrogates, Σ with its final-sigma rule, İ), the lower-case unit for
 * other ASCII, 0x80000000 | the lower-case unit (`toLowerCase`) for other units.
 */
function codeUnitTable(): Int32Array {
  if (kernelTable) return kernelTable;
  const t = new Int32Array(65536);
  for (let c = 0; c < 65536; c++) {
    if (c === 0xfeff) t[c] = -2;
    else if (c === 32 || (c >= 9 && c <= 13) || isWideSpace(c)) t[c] = SPACE;
    else if (c < 128) t[c] = c >= 65 && c <= 90 ? c + 32 : c;
    else if ((c >= 0xd800 && c <= 0xdfff) || c === 0x3a3) t[c] = -3;
    else {
      const l = String.fromCharCode(c).toLowerCase();
      t[c] = l.length === 1 ? l.charCodeAt(0) | 0x80000000 : -3;
    }
  }
  return (kernelTable = t);
}

/** The kernel for `engine`, or undefined for the pure path; throws when `wasm` is asked for and cannot load. */
function pickKernel(engine: string, k: number): MinHashWasmKernel | undefined {
  if (!ENGINES.includes(engine))
    throw new MinHashParamsError(
      `minhash: engine must be one of ${ENGINES.join(', ')} (option engine or env BOTTEGA_MINHASH_ENGINE), got ${engine}`
    );
  if (engine === 'js') return undefined;
  const kernel = MinHashWasmKernel.create(k, codeUnitTable);
  if (kernel instanceof Error) {
    if (engine === 'wasm') throw kernel;
    return undefined;
  }
  return kernel;
}

/** Rolling-hash bases, ≡ 3 (mod 4) so that P - 1 has a single factor of two. */
const PA = 0x01000193;
const PB = 0x85ebca6b;

/**
 * Computes signatures for one parameter set. Not shareable across threads (it reuses scratch
 * buffers), cheap to create.
 */
export class MinHasher {
  /** The parameters, validated. */
  readonly params: Readonly<MinHashParams>;
  private readonly k: number;
  private readonly shift: number; // k a power of two: bin = hi >>> shift; else -1
  private readonly seedA: number;
  private readonly seedB: number;
  /** The word hash's four lane seeds (see {@link hashUnits}). */
  private readonly lanes: readonly [number, number, number, number];
  private readonly seedX: number;
  private readonly seedY: number;
  private readonly seedD: number;
  private readonly seedBand: number;
  private readonly wa: Int32Array;
  private readonly wb: Int32Array;
  private readonly occ: Uint8Array;
  /** Scratch: the units of the word being hashed (grown on demand), and its two hashes. */
  private units: Uint16Array = new Uint16Array(256);
  private readonly wordHash = new Int32Array(2);
  private readonly pas: number; // PA^shingleSize
  private readonly pbs: number;
  private readonly kernel: MinHashWasmKernel | undefined;
  /** The implementation in use: the WebAssembly kernel or the pure TypeScript path. */
  readonly engine: 'wasm' | 'js';

  constructor(p: MinHashParams, opts: MinHasherOptions = {}) {
    validateMinHashParams(p);
    this.kernel = pickKernel(opts.engine ?? (process.env.BOTTEGA_MINHASH_ENGINE || 'auto'), p.numPerm);
    this.engine = this.kernel ? 'wasm' : 'js';
    this.params = Object.freeze({ ...p });
    this.k = p.numPerm;
    this.shift = (p.numPerm & (p.numPerm - 1)) === 0 ? 32 - Math.log2(p.numPerm) : -1;
    const s = p.seed | 0;
    const hi = Math.floor(p.seed / 4294967296) | 0;
    this.seedA = fmix32(s ^ 0x243f6a88 ^ Math.imul(hi, 0x9e3779b1));
    this.seedB = fmix32((s + 0x13198a2e) ^ Math.imul(hi, 0x85ebca77));
    this.lanes = [
      this.seedA | 0,
      this.seedB | 0,
      fmix32(this.seedA ^ 0x3c6ef372) | 0,
      fmix32(this.seedB ^ 0xa54ff53a) | 0,
    ];
    this.seedX = fmix32(this.seedA ^ 0x3707344a);
    this.seedY = fmix32(this.seedB ^ 0x4093822f);
    this.seedD = fmix32(this.seedX ^ 0x299f31d0);
    this.seedBand = fmix32(this.seedY ^ 0x082efa98);
    let ring = 2;
    while (ring <= p.shingleSize) ring *= 2;
    this.wa = new Int32Array(ring);
    this.wb = new Int32Array(ring);
    this.occ = new Uint8Array(p.numPerm);
    let pa = 1;
    let pb = 1;
    for (let j = 0; j < p.shingleSize; j++) {
      pa = Math.imul(pa, PA);
      pb = Math.imul(pb, PB);
    }
    this.pas = pa;
    this.pbs = pb;
  }

  /** The signature of `text` (length `numPerm`). */
  signature(text: string): Uint32Array {
    const out = new Uint32Array(this.k);
    this.signatureInto(text, out);
    return out;
  }

  /**
   * Writes the signature of `text` into `out` (length `numPerm`) and returns the number of
   * shingles hashed, repeats included (0 for an empty text, whose signature is all 0xffffffff).
   */
  signatureInto(text: string, out: Uint32Array): number {
    if (out.length !== this.k) throw new Error(`signatureInto: out has ${out.length} slots, need ${this.k}`);
    // the kernel declines (-1) texts with U+FEFF, which need whole-text lower-casing (below)
    if (this.kernel) {
      const r = this.signatureWasm(this.kernel, text, out);
      if (r >= 0) return r;
    }
    // Lower-casing is done per word (ASCII inline, other words with toLowerCase), which equals
    // lower-casing the whole text: the only context-dependent mapping (final sigma) looks through
    // case-ignorable characters, and the one whitespace character that is case-ignorable is U+FEFF.
    const t = text.indexOf('\ufeff') >= 0 ? text.toLowerCase() : text;
    const n = t.length;
    const size = this.params.shingleSize;
    const occ = this.occ;
    out.fill(EMPTY);
    occ.fill(0);
    let words = 0;
    let shingleCount = 0;
    let i = 0;
    const lanes = this.lanes;
    let units = this.units;
    const seedX = this.seedX;
    const seedY = this.seedY;
    const shift = this.shift;
    const k = this.k;
    const pas = this.pas;
    const pbs = this.pbs;
    let rx = 0;
    let ry = 0;
    // The last word hashes, in a ring of a power-of-two size > shingleSize.
    const wa = this.wa;
    const wb = this.wb;
    const ring = wa.length - 1;
    while (i < n) {
      let c = t.charCodeAt(i);
      // skip whitespace
      if (c === 32 || (c >= 9 && c <= 13) || (c >= 0xa0 && isWideSpace(c))) {
        i++;
        continue;
      }
      // one word: its units, lower-cased (ASCII inline), into the scratch buffer
      const start = i;
      let high = 0;
      let len = 0;
      do {
        if (c >= 65 && c <= 90) c += 32;
        high |= c;
        if (len === units.length) units = this.growUnits();
        units[len++] = c;
        i++;
        if (i >= n) break;
        c = t.charCodeAt(i);
      } while (!(c === 32 || (c >= 9 && c <= 13) || (c >= 0xa0 && isWideSpace(c))));
      // a non-ASCII word: its toLowerCase() instead
      if (high > 127) len = this.setUnits(t.slice(start, i).toLowerCase());
      hashUnits(this.units, len, lanes, this.wordHash);
      const ha = this.wordHash[0]!;
      const hb = this.wordHash[1]!;
      wa[words & ring] = ha;
      wb[words & ring] = hb;
      // rolling polynomial hash of the last `size` word hashes, one per lane
      rx = (Math.imul(rx, PA) + ha) | 0;
      ry = (Math.imul(ry, PB) + hb) | 0;
      if (words >= size) {
        rx = (rx - Math.imul(wa[(words - size) & ring]!, pas)) | 0;
        ry = (ry - Math.imul(wb[(words - size) & ring]!, pbs)) | 0;
      }
      words++;
      if (words >= size) {
        const x = fmix32(rx ^ seedX);
        const y = fmix32(ry ^ seedY);
        const bin = shift >= 0 ? (shift === 32 ? 0 : x >>> shift) : Math.floor((x * k) / 4294967296);
        occ[bin] = 1;
        if (y < out[bin]!) out[bin] = y;
        shingleCount++;
      }
    }
    if (words > 0 && words < size) {
      this.addShingle(0, words, out);
      shingleCount++;
    }
    this.densify(out);
    return shingleCount;
  }

  /** {@link signatureInto} on the WebAssembly kernel; -1 when the kernel declines the text (U+FEFF, too long). */
  private signatureWasm(kernel: MinHashWasmKernel, text: string, out: Uint32Array): number {
    const words = kernel.hashWords(text, this.lanes);
    if (words < 0) return -1;
    // words the kernel cannot lower-case (surrogates, Σ, İ): hashed here over their toLowerCase(), as the pure path does
    for (let i = 0, n = kernel.rehashCount; i < n; i++) {
      const [w, start, end] = kernel.rehashWord(i);
      hashUnits(this.units, this.setUnits(text.slice(start, end).toLowerCase()), this.lanes, this.wordHash);
      kernel.setWord(w, this.wordHash[0]!, this.wordHash[1]!);
    }
    const size = this.params.shingleSize;
    let count: number;
    if (words > 0 && words < size) {
      // one shingle of all the words, hashed as the pure path does
      for (let j = 0; j < words; j++) [this.wa[j], this.wb[j]] = kernel.word(j);
      out.fill(EMPTY);
      this.occ.fill(0);
      this.addShingle(0, words, out);
      count = 1;
    } else
      count = kernel.hashShingles(
        words,
        size,
        { seedX: this.seedX, seedY: this.seedY, pas: this.pas, pbs: this.pbs },
        out,
        this.occ
      );
    this.densify(out);
    return count;
  }

  /** Doubles the word scratch buffer, keeping its contents. */
  private growUnits(): Uint16Array {
    const u = new Uint16Array(this.units.length * 2);
    u.set(this.units);
    return (this.units = u);
  }

  /** Puts the code units of `w` into the word scratch buffer; returns its length. */
  private setUnits(w: string): number {
    while (this.units.length < w.length) this.growUnits();
    const u = this.units;
    for (let j = 0; j < w.length; j++) u[j] = w.charCodeAt(j);
    return w.length;
  }

  /** Hashes the shingle of `count` words starting at word index `first` (short texts: `first + count` ≤ shingleSize) into its bin. */
  private addShingle(first: number, count: number, out: Uint32Array): void {
    const wa = this.wa;
    const wb = this.wb;
    let x = this.seedX;
    let y = this.seedY;
    for (let j = first; j < first + count; j++) {
      x = (Math.imul(rotl(x, 13) ^ wa[j]!, 0xcc9e2d51) + 0xe6546b64) | 0;
      y = (Math.imul(rotl(y, 15) ^ wb[j]!, 0x1b873593) + 0x52dce729) | 0;
    }
    x = fmix32(x ^ count);
    y = fmix32(y ^ Math.imul(count, 0x9e3779b1));
    const bin = this.shift >= 0 ? (this.shift === 32 ? 0 : x >>> this.shift) : Math.floor((x * this.k) / 4294967296);
    this.occ[bin] = 1;
    if (y < out[bin]!) out[bin] = y;
  }

  /** Optimal densification: every empty bin copies the first non-empty bin on its probe sequence. */
  private densify(out: Uint32Array): void {
    const k = this.k;
    const occ = this.occ;
    let filled = 0;
    let last = -1;
    for (let i = 0; i < k; i++)
      if (occ[i]) {
        filled++;
        last = i;
      }
    if (filled === k || filled === 0) return;
    if (filled === 1) {
      out.fill(out[last]!);
      return;
    }
    const seedD = this.seedD;
    for (let i = 0; i < k; i++) {
      if (occ[i]) continue;
      const base = Math.imul(i + 1, 0x9e3779b1) ^ seedD;
      for (let attempt = 1; ; attempt++) {
        const h = fmix32(base + Math.imul(attempt, 0x85ebca77));
        const j = this.shift >= 0 ? (this.shift === 32 ? 0 : h >>> this.shift) : Math.floor((h * k) / 4294967296);
        if (occ[j]) {
          out[i] = out[j]!;
          break;
        }
      }
    }
  }

  /** One 64-bit hash per band. */
  bandHashes(sig: Uint32Array): BigUint64Array {
    const out = new BigUint64Array(this.params.bands);
    this.bandHashesInto(sig, new Uint32Array(out.buffer));
    return out;
  }

  /**
   * The band hashes as pairs of 32-bit words, `out[2b]` the low and `out[2b+1]` the high half of
   * band `b`'s 64-bit hash (the little-endian layout of {@link bandHashes}). The band index is
   * part of the hash, so different bands never share a value by construction.
   */
  bandHashesInto(sig: Uint32Array, out: Uint32Array): void {
    const { bands, rows, numPerm } = this.params;
    if (sig.length !== numPerm) throw new Error(`bandHashes: signature has ${sig.length} values, need ${numPerm}`);
    if (out.length < 2 * bands) throw new Error(`bandHashesInto: out has ${out.length} slots, need ${2 * bands}`);
    const sb = this.seedBand;
    for (let b = 0, p = 0; b < bands; b++) {
      let x = sb ^ Math.imul(b + 1, 0x9e3779b1);
      let y = fmix32(x ^ 0x5bd1e995);
      for (let r = 0; r < rows; r++, p++) {
        const v = sig[p]!;
        x = Math.imul(rotl(x, 13) ^ v, 0xcc9e2d51) + 0xe6546b64;
        y = Math.imul(rotl(y, 17) ^ v, 0x1b873593) + 0x52dce729;
      }
      out[2 * b] = fmix32(x ^ rows);
      out[2 * b + 1] = fmix32(y + Math.imul(b, 0x27d4eb2f));
    }
  }
}

/**
 * An in-memory LSH index over band hashes: documents get sequential ids 0, 1, 2, … in insertion
 * order; {@link queryInsert} returns the earlier documents that share at least one band with a
 * new one and then adds it. Buckets are keyed by 52 bits of each band hash in one open-addressing
 * table (a false bucket match is about 2^-52 per pair and band, and candidates are confirmed by
 * {@link jaccardEstimate} anyway). Memory: about 30 bytes per (document, band).
 */
export class MinHashLsh {
  private readonly hasher: MinHasher;
  private readonly bands: number;
  private readonly bh: Uint32Array;
  private keys: Float64Array;
  private heads: Int32Array;
  private used = 0;
  private mask: number;
  private next: Int32Array; // next[id * bands + b]: previous doc in the same bucket, or -1
  private stamp: Int32Array; // candidate de-duplication
  private n = 0;

  constructor(hasher: MinHasher, expectedDocs = 1024) {
    this.hasher = hasher;
    this.bands = hasher.params.bands;
    this.bh = new Uint32Array(2 * this.bands);
    let cap = 1024;
    while (cap < expectedDocs * this.bands * 2) cap *= 2;
    this.keys = new Float64Array(cap);
    this.heads = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.next = new Int32Array(Math.max(16, expectedDocs) * this.bands);
    this.stamp = new Int32Array(Math.max(16, expectedDocs)).fill(-1);
  }

  /** Documents inserted so far (the next id). */
  get size(): number {
    return this.n;
  }

  /** Ids of earlier documents sharing a band with `sig` (ascending), then inserts `sig` as id {@link size}. */
  queryInsert(sig: Uint32Array): number[] {
    const id = this.n;
    const bands = this.bands;
    if ((id + 1) * bands > this.next.length) {
      const nn = new Int32Array(this.next.length * 2);
      nn.set(this.next);
      this.next = nn;
      const ns = new Int32Array(this.stamp.length * 2).fill(-1);
      ns.set(this.stamp);
      this.stamp = ns;
    }
    if ((this.used + bands) * 2 > this.keys.length) this.grow();
    this.hasher.bandHashesInto(sig, this.bh);
    const out: number[] = [];
    const stamp = this.stamp;
    const next = this.next;
    for (let b = 0; b < bands; b++) {
      const lo = this.bh[2 * b]!;
      const key = lo + (this.bh[2 * b + 1]! & 0xfffff) * 4294967296;
      let slot = lo & this.mask;
      for (;;) {
        const h = this.heads[slot]!;
        if (h < 0) {
          this.keys[slot] = key;
          this.used++;
          break;
        }
        if (this.keys[slot] === key) break;
        slot = (slot + 1) & this.mask;
      }
      for (let d = this.heads[slot]!; d >= 0; d = next[d * bands + b]!) {
        if (stamp[d] !== id) {
          stamp[d] = id;
          out.push(d);
        }
      }
      next[id * bands + b] = this.heads[slot]!;
      this.heads[slot] = id;
    }
    this.n++;
    if (out.length > 1) out.sort((p, q) => p - q);
    return out;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldHeads = this.heads;
    const cap = oldKeys.length * 2;
    this.keys = new Float64Array(cap);
    this.heads = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let s = 0; s < oldKeys.length; s++) {
      const h = oldHeads[s]!;
      if (h < 0) continue;
      const key = oldKeys[s]!;
      let slot = (key % 4294967296) & this.mask;
      while (this.heads[slot]! >= 0) slot = (slot + 1) & this.mask;
      this.keys[slot] = key;
      this.heads[slot] = h;
    }
  }
}
