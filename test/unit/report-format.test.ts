import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { count, date, duration, factor, loss, NONE, param, pct, pp, si, tokens } from '../../report/format';
import { continuousCurves, stageSpans } from '../../report/steps';
import { flatten, specData } from '../../report/spec-data';

describe('report number formatting (one rule per kind)', () => {
  it('writes counts with separators, tokens with SI suffixes and 3 significant digits', () => {
    assert.equal(count(1234567), '1,234,567');
    assert.equal(count(0), '0');
    assert.equal(count(null), NONE);
    assert.equal(tokens(987654), '988k');
    assert.equal(tokens(1228800), '1.23M');
    assert.equal(tokens(614400), '614k');
    assert.equal(tokens(999), '999');
    assert.equal(tokens(999_999), '1M', 'rounds up to the next suffix, not 1000k');
    assert.equal(tokens(1000), '1k');
    assert.equal(tokens(2.5e9), '2.5G');
    assert.equal(tokens(undefined), NONE);
    assert.equal(si(0.1234), '0.123');
    assert.equal(si(-1500), '-1.5k');
    assert.equal(si(0), '0');
  });

  it('writes losses with 3 decimals, rates as percent with 1 decimal, differences in points', () => {
    assert.equal(loss(7.25), '7.250');
    assert.equal(loss(6.12345), '6.123');
    assert.equal(loss(Number.NaN), NONE);
    assert.equal(pct(0.22), '22.0%');
    assert.equal(pct(1 / 3), '33.3%');
    assert.equal(pct(0), '0.0%');
    assert.equal(pp(0.12), '+12.0 pp');
    assert.equal(pp(-0.031), '-3.1 pp');
    assert.equal(pp(-0.0001), '0.0 pp');
    assert.equal(factor(2), '×2');
    assert.equal(factor(4 / 3), '×1.33');
  });

  it('writes durations in h/m/s (as bottega ls does) and dates in UTC', () => {
    assert.equal(duration(3_723_000), '1h02m');
    assert.equal(duration(125_000), '2m05s');
    assert.equal(duration(42_000), '42s');
    assert.equal(duration(4_200), '4s');
    assert.equal(duration(0), '0s');
    assert.equal(duration(null), NONE);
    assert.equal(duration(-5), NONE);
    assert.equal(date('2025-03-04T05:06:07.890Z'), '2025-03-04 05:06:07 UTC');
    assert.equal(date(null), NONE);
    assert.equal(date('not a date'), NONE);
  });

  it('writes hyperparameters as given, small ones in exponent form', () => {
    assert.equal(param(8e-5), '8e-5');
    assert.equal(param(0.05), '0.05');
    assert.equal(param(1024), '1024');
    assert.equal(param(0), '0');
    assert.equal(param('cosine'), 'cosine');
    assert.equal(param(false), 'false');
    assert.equal(param(null), NONE);
  });
});

describe('one step axis across training stages', () => {
  const curve = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => ({ step: from + i, loss: 10 - i }));

  it('continues each stage after the previous one (steps counted from 1)', () => {
    const spans = stageSpans([
      { name: 'mt1', steps: 3, curve: curve(1, 3) },
      { name: 'mt2', steps: 4, curve: curve(1, 4) },
      { name: 'sft', steps: 2, curve: curve(1, 2) },
    ]);
    assert.deepEqual(
      spans.map((s) => [s.name, s.offset, s.first, s.last]),
      [
        ['mt1', 0, 1, 3],
        ['mt2', 3, 4, 7],
        ['sft', 7, 8, 9],
      ]
    );
  });

  it('mt1 0..N, mt2 from N+1 (steps counted from 0)', () => {
    const spans = stageSpans([
      { name: 'mt1', steps: 5, curve: curve(0, 5) },
      { name: 'mt2', steps: 3, curve: curve(0, 2) },
    ]);
    assert.deepEqual(
      spans.map((s) => [s.first, s.last]),
      [
        [0, 5],
        [6, 8],
      ]
    );
  });

  it('gives a stage without a curve its step count, and one with neither no room', () => {
    const spans = stageSpans([
      { name: 'mt1', steps: 3, curve: curve(1, 3) },
      { name: 'mt2', steps: 10, curve: [] }, // metrics unreadable: the summary's count
      { name: 'mt3', steps: null, curve: [] },
      { name: 'sft', steps: 2, curve: curve(1, 2) },
    ]);
    assert.deepEqual(
      spans.map((s) => [s.first, s.last]),
      [
        [1, 3],
        [4, 13],
        [null, null],
        [14, 15],
      ]
    );
  });

  it('shifts the curves and marks where each later stage starts', () => {
    const { series, boundaries } = continuousCurves(
      [
        { name: 'mt1', steps: 2, curve: curve(1, 2) },
        { name: 'sft', steps: 2, curve: curve(1, 2) },
      ],
      'a · '
    );
    assert.deepEqual(
      series.map((s) => [s.name, s.points.map((p) => p.x)]),
      [
        ['a · mt1', [1, 2]],
        ['a · sft', [3, 4]],
      ]
    );
    assert.deepEqual(series[1]!.points[0]!.y, 10, 'losses untouched');
    assert.deepEqual(boundaries, [{ x: 3, label: 'a · sft' }]);
    assert.deepEqual(continuousCurves([]), { series: [], boundaries: [] });
  });
});

describe('the settings a report shows from a spec', () => {
  it('fills in the recipe’s hyperparameters per training stage and the mix stage’s seq_len', () => {
    const warnings: string[] = [];
    const d = specData(
      {
        id: 'x',
        description: 'demo',
        mine: { sources: [{ type: 'git', repo: 'acme/widgets', path: '/r' }], page_size: 3 },
        mix: {
          sources: [{ name: 'general_prs', from: 'mine.general' }],
          stages: [
            { name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs', repeat: 2 }] },
            { name: 'sft', seq_len: 512, requested_tokens: 5000, sources: [{ source: 'general_prs', ratio: 1 }] },
          ],
        },
        train: {
          model_config: 'tiny',
          framework: { type: 'command', command: 'x' },
          stages: [
            { name: 'mt1', data: 'mt1', hparams: { lr: 3e-3, max_steps: 5 } },
            { name: 'sft', data: 'sft', init: 'previous' },
          ],
        },
        evaluate: { tasks: { path: '/t.jsonl' }, policy: 'replay-gold', runs: 2 },
      },
      warnings,
      'x'
    );
    assert.deepEqual(warnings, []);
    assert.equal(d.description, 'demo');
    assert.equal(d.train!.model, 'config tiny');
    const [mt1, sft] = d.train!.stages;
    assert.deepEqual(
      [mt1!.seq_len, mt1!.hparams.lr, mt1!.hparams.max_steps, mt1!.hparams.global_batch],
      [1024, 3e-3, 5, 1024]
    );
    assert.deepEqual(
      [sft!.kind, sft!.init, sft!.seq_len, sft!.hparams.lr, sft!.hparams.masked_loss],
      ['sft', 'previous', 512, 1e-5, true]
    );
    assert.deepEqual(
      d.mix!.stages.map((s) => s.sources.map((x) => x.weight)),
      [['repeat 2'], ['ratio 1']]
    );
    assert.equal(d.evaluate!.tasks, '/t.jsonl');
    assert.equal(d.evaluate!.runs, 2);
    assert.equal(d.evaluate!['sampling.temperature'], 0);
    assert.deepEqual(d.other.mine, { sources: 'acme/widgets', page_size: 3 });
  });

  it('shows a section that does not parse as written, with a warning', () => {
    const warnings: string[] = [];
    const d = specData({ train: { stages: 'nonsense' } }, warnings, 'x');
    assert.equal(d.train, undefined);
    assert.deepEqual(d.other.train, { stages: 'nonsense' });
    assert.match(warnings[0]!, /train section does not parse/);
    assert.deepEqual(flatten({ a: { b: [1, 2], c: [] }, d: [{ x: 1 }] }), {
      'a.b': '1, 2',
      'a.c': 'none',
      d: '1 entry',
    });
  });
});
