import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bootstrapInterval,
  compareWithBaseline,
  mean,
  perInstanceRates,
  sampleVariance,
  tCritical95,
  tInterval,
  welchInterval,
} from '../../activities/evaluate/stats';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (±${tol})`);

describe('evaluate stats', () => {
  it('t critical values: exact table, interpolation between, normal limit', () => {
    close(tCritical95(1), 12.7062, 1e-4, 'df 1');
    close(tCritical95(3), 3.182446, 1e-6, 'df 3');
    close(tCritical95(29), 2.04523, 1e-5, 'df 29');
    // Between table points (Welch's fractional df): within 1e-3 of the exact quantiles.
    close(tCritical95(5.5), 2.5024, 2e-3, 'df 5.5');
    close(tCritical95(50), 2.008559, 1e-3, 'df 50');
    close(tCritical95(1e9), 1.959964, 1e-4, 'df large');
    assert.throws(() => tCritical95(0), RangeError);
  });

  it('k = 4 runs: mean and t-interval by hand', () => {
    const rates = [0.5, 0.6, 0.55, 0.65];
    close(mean(rates), 0.575, 1e-12, 'mean');
    close(sampleVariance(rates), 0.0125 / 3, 1e-12, 'variance');
    // s = 0.0645497, s/√4 = 0.0322749, t(0.975, 3) = 3.182446 → half-width 0.1027135.
    const ci = tInterval(rates)!;
    close(ci.low, 0.4722865, 1e-6, 'low');
    close(ci.high, 0.6777135, 1e-6, 'high');
    assert.match(ci.method, /t-interval over 4 runs \(df = 3\)/);
    assert.equal(tInterval([0.5]), null, 'one run has no interval over runs');
  });

  it('all runs equal: a zero-width interval; an interval is clamped to [0, 1]', () => {
    assert.deepEqual([tInterval([1, 1, 1, 1])!.low, tInterval([1, 1, 1, 1])!.high], [1, 1]);
    const ci = tInterval([0, 1, 0, 1])!;
    assert.equal(ci.low, 0);
    assert.equal(ci.high, 1);
  });

  it('baseline with 4 runs each: difference of means and Welch interval by hand', () => {
    const a = [0.5, 0.6, 0.55, 0.65];
    const b = [0.4, 0.5, 0.45, 0.45];
    // var(a)/4 = 0.00104167, var(b)/4 = 0.00041667, se = 0.0381881,
    // Welch–Satterthwaite df = 5.069, t(0.975, 5.069) ≈ 2.5605 → half-width ≈ 0.09778.
    const w = welchInterval(a, b)!;
    close(w.low, 0.125 - 0.09778, 1e-3, 'low');
    close(w.high, 0.125 + 0.09778, 1e-3, 'high');
    assert.match(w.method, /df = 5\.07/);
    assert.equal(welchInterval(a, [0.4]), null);
  });

  it('compares on this task set: baseline ids outside it do not count', () => {
    const tasks = ['a', 'b', 'c', 'd'];
    const ours = [new Set(['a', 'b']), new Set(['a', 'b', 'c']), new Set(['a']), new Set(['a', 'b'])];
    const theirs = [new Set(['a', 'x', 'y'])];
    const r = compareWithBaseline(tasks, ours, theirs);
    assert.deepEqual(r.rates, [0.25]);
    assert.equal(r.mean, 0.25);
    // ours: 0.5, 0.75, 0.25, 0.5 → mean 0.5; difference +0.25.
    assert.equal(r.difference, 0.25);
    assert.equal(r.ci95_runs, null, 'one baseline run: no Welch interval');
    const ci = r.ci95_instances!;
    assert.ok(ci.low <= 0.25 && 0.25 <= ci.high, JSON.stringify(ci));
    assert.match(ci.method, /paired/);
  });

  it('per-instance rates and the instance bootstrap: deterministic, brackets the mean', () => {
    const per = perInstanceRates(['a', 'b', 'c'], [new Set(['a']), new Set(['a', 'b'])]);
    assert.deepEqual(per, [1, 0.5, 0]);
    const values = Array.from({ length: 50 }, (_, i) => (i % 4 === 0 ? 0 : 1));
    const x = bootstrapInterval(values)!;
    const y = bootstrapInterval(values)!;
    assert.deepEqual(x, y, 'fixed seed: the same interval every time');
    assert.ok(x.low < mean(values) && mean(values) < x.high);
    // Normal approximation: 0.74 ± 1.96·√(0.74·0.26/50) ≈ [0.62, 0.86].
    close(x.low, 0.62, 0.03, 'low');
    close(x.high, 0.86, 0.03, 'high');
    assert.deepEqual(bootstrapInterval([1, 1, 1]), {
      low: 1,
      high: 1,
      level: 0.95,
      method: 'percentile bootstrap over 3 instances (10000 resamples, seed 0)',
    });
    assert.equal(bootstrapInterval([]), null);
  });
});
