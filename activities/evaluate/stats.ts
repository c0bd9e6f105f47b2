/**
 * Statistics of an evaluation: resolved rates over k runs, their mean, 95% confidence intervals
 * and differences from baselines. Pure functions (no I/O), deterministic (bootstraps use a fixed
 * seed), so results are reproducible and unit-testable.
 */

/** A 95% confidence interval and how it was computed. */
export interface Interval {
  low: number;
  high: number;
  level: 0.95;
  method: string;
}

/** Two-sided 95% Student-t critical values t(0.975, df) for df = 1..30. */
const T975: readonly number[] = [
  12.706204736, 4.30265273, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252, 2.306004135, 2.262157163,
  2.228138852, 2.20098516, 2.17881283, 2.160368656, 2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.10092204,
  2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.06865761, 2.063898562, 2.059538553, 2.055529439, 2.051830516,
  2.048407142, 2.045229642, 2.042272456,
];
/** t(0.975, df) for larger df; the last is the normal quantile (df = ∞). */
const T975_LARGE: readonly [number, number][] = [
  [30, 2.042272456],
  [40, 2.02107539],
  [60, 2.000297822],
  [120, 1.979930405],
  [Infinity, 1.959963985],
];

/**
 * The 97.5% quantile of Student's t with `df` degrees of freedom (df > 0, may be fractional, as
 * Welch's is): exact table values at integers up to 30; between table points, linear in 1/df
 * (accurate to about 1e-3, ample for an interval's width).
 */
export function tCritical95(df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  if (df < 1) return T975[0]!; // not met by k ≥ 2 runs; conservative
  if (df <= 30) {
    const lo = Math.floor(df);
    const hi = Math.ceil(df);
    if (lo === hi) return T975[lo - 1]!;
    const w = (1 / df - 1 / hi) / (1 / lo - 1 / hi);
    return w * T975[lo - 1]! + (1 - w) * T975[hi - 1]!;
  }
  for (let i = 1; i < T975_LARGE.length; i++) {
    const [d0, t0] = T975_LARGE[i - 1]!;
    const [d1, t1] = T975_LARGE[i]!;
    if (df <= d1) {
      const w = (1 / df - 1 / d1) / (1 / d0 - 1 / d1);
      return w * t0 + (1 - w) * t1;
    }
  }
  return T975_LARGE.at(-1)![1];
}

/** Arithmetic mean (NaN for no values). */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample variance (n − 1 denominator); 0 for fewer than two values. */
export function sampleVariance(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * The t-interval of the mean resolved rate over k runs: mean ± t(0.975, k−1)·s/√k, clamped to
 * [0, 1]. It measures run-to-run (sampling) variation on this task set. Null for k < 2.
 */
export function tInterval(rates: readonly number[]): Interval | null {
  const k = rates.length;
  if (k < 2) return null;
  const m = mean(rates);
  const half = tCritical95(k - 1) * Math.sqrt(sampleVariance(rates) / k);
  return {
    low: clamp01(m - half),
    high: clamp01(m + half),
    level: 0.95,
    method: `Student t-interval over ${k} runs (df = ${k - 1}), clamped to [0, 1]`,
  };
}

/**
 * Welch's interval for the difference of two means over runs (a − b), with the
 * Welch–Satterthwaite degrees of freedom. Null unless both sides have at least two runs. When both
 * variances are 0 the interval is the point difference.
 */
export function welchInterval(a: readonly number[], b: readonly number[]): Interval | null {
  if (a.length < 2 || b.length < 2) return null;
  const va = sampleVariance(a) / a.length;
  const vb = sampleVariance(b) / b.length;
  const d = mean(a) - mean(b);
  const se = Math.sqrt(va + vb);
  const df = se === 0 ? Infinity : (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const half = se === 0 ? 0 : tCritical95(df) * se;
  return {
    low: d - half,
    high: d + half,
    level: 0.95,
    method: `Welch t-interval over runs (${a.length} vs ${b.length}, df = ${Number.isFinite(df) ? df.toFixed(2) : '∞'})`,
  };
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resamples of the instance bootstraps, and their seed. */
export const BOOTSTRAP_RESAMPLES = 10_000;
export const BOOTSTRAP_SEED = 0;

/**
 * Percentile bootstrap over instances: `values[i]` is instance i's score (its resolved fraction
 * over the runs, or a paired difference); instances are resampled with replacement
 * {@link BOOTSTRAP_RESAMPLES} times with a fixed seed, and the 2.5th and 97.5th percentiles of
 * the resampled means are the interval. It measures how much the score depends on which
 * instances were drawn. Null for no instances.
 */
export function bootstrapInterval(
  values: readonly number[],
  opts: { resamples?: number; seed?: number; what?: string } = {}
): Interval | null {
  const n = values.length;
  if (n === 0) return null;
  const resamples = opts.resamples ?? BOOTSTRAP_RESAMPLES;
  const seed = opts.seed ?? BOOTSTRAP_SEED;
  const rand = seededRandom(seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rand() * n)]!;
    means[b] = s / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))]!;
  return {
    low: at(0.025),
    high: at(0.975),
    level: 0.95,
    method: `percentile bootstrap over ${n} ${opts.what ?? 'instances'} (${resamples} resamples, seed ${seed})`,
  };
}

/** Resolved fraction per instance over runs: `resolved[r]` is the set resolved in run r. */
export function perInstanceRates(taskIds: readonly string[], resolved: readonly ReadonlySet<string>[]): number[] {
  return taskIds.map((id) => (resolved.length ? resolved.filter((s) => s.has(id)).length / resolved.length : 0));
}

/** How this evaluation compares with one baseline. */
export interface BaselineStats {
  /** Baseline resolved rate per run, on this evaluation's task set. */
  rates: number[];
  mean: number;
  /** This evaluation's mean minus the baseline's. */
  difference: number;
  /** Welch t-interval over runs when both sides have ≥ 2 runs, else null. */
  ci95_runs: Interval | null;
  /** Paired percentile bootstrap over instances of the per-instance difference (always available). */
  ci95_instances: Interval | null;
}

/**
 * Compares this evaluation's runs with a baseline's, both scored on `taskIds` (a baseline
 * instance counts as resolved only if it is in `taskIds` and in the baseline run's resolved ids).
 */
export function compareWithBaseline(
  taskIds: readonly string[],
  ours: readonly ReadonlySet<string>[],
  theirs: readonly ReadonlySet<string>[]
): BaselineStats {
  const rate = (s: ReadonlySet<string>) =>
    taskIds.length ? taskIds.filter((id) => s.has(id)).length / taskIds.length : 0;
  const a = ours.map(rate);
  const b = theirs.map(rate);
  const pa = perInstanceRates(taskIds, ours);
  const pb = perInstanceRates(taskIds, theirs);
  return {
    rates: b,
    mean: mean(b),
    difference: mean(a) - mean(b),
    ci95_runs: welchInterval(a, b),
    ci95_instances: bootstrapInterval(
      pa.map((x, i) => x - pb[i]!),
      { what: 'instances, paired differences' }
    ),
  };
}
