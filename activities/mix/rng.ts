/**
 * Seeded randomness for the mix stage: every shuffle and subset choice derives from the spec's
 * seed and a label (stage, source), so the same spec gives byte-identical shards.
 */

/** 32-bit FNV-1a of a string (UTF-16 code units). */
export function fnv1a32(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small, fast PRNG (mulberry32) seeded from `seed` and `label`. */
export class SeededRandom {
  private state: number;

  constructor(seed: number, label: string) {
    this.state = fnv1a32(label, fnv1a32(String(seed))) || 0x9e3779b9;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n), n ≤ 2^32, without modulo bias. */
  below(n: number): number {
    if (n <= 1) return 0;
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher–Yates shuffle of `a` in place, treating it as `a.length / width` records of `width` items. */
  shuffle(a: Uint32Array | number[], width = 1): void {
    const n = Math.floor(a.length / width);
    for (let i = n - 1; i > 0; i--) {
      const j = this.below(i + 1);
      if (j === i) continue;
      for (let k = 0; k < width; k++) {
        const t = a[i * width + k]!;
        a[i * width + k] = a[j * width + k]!;
        a[j * width + k] = t;
      }
    }
  }

  /** A seeded permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }
}
