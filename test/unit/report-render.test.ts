import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ArtifactRef, ExperimentResult, TrainStageResult } from '../../contracts';
import type { ArmData, ExperimentData, ReportData } from '../../report/data';
import { experimentData, lossCurve, MAX_CURVE_POINTS, thin } from '../../report/experiment-data';
import { chart, reportCells, reportJson, reportSvgs, walk, type SvgNode } from '../../report/inspect';
import { renderHtml, renderMarkdown } from '../../report/render';
import { esc, niceTicks } from '../../report/svg';

const HOSTILE = '<script>alert("x")</script>';
const HOSTILE_ATTR = `"><img src=x onerror=alert(1)>'`;

/** A synthetic experiment with every stage, hostile reason names included. */
function experiment(id = 'exp-1', scale = 1): ExperimentData {
  return {
    id,
    stages: [
      { stage: 'mine', status: 'ran', cacheKey: 'a'.repeat(64), producer: `${id}-mine` },
      { stage: 'mix', status: 'cached', cacheKey: 'b'.repeat(64), producer: 'other-mix' },
    ],
    mine: {
      repos: 3,
      prs_seen: 120,
      prs_kept: 70,
      prs_dropped: { no_issue: 30, [HOSTILE]: 15, [HOSTILE_ATTR]: 5 },
      samples: 130,
      tokens: 987654,
      formats: {
        general: { eligible: 70, filtered: {}, samples: 70, tokens: 600000, dropped: { too_long: 2 } },
        python: { eligible: 60, filtered: { no_tests: 4 }, samples: 60, tokens: 387654, dropped: {} },
      },
      task_candidates: 12,
    },
    mix: {
      tokenizer: 'qwen2.5',
      sources: {
        general_prs: {
          documents_in: 70,
          tokens_in: 600000,
          removed: { duplicate_exact: { documents: 3, tokens: 9000 } },
          documents_kept: 67,
          tokens_kept: 591000,
        },
      },
      stages: [
        {
          name: 'mt1',
          from: 'manifest',
          seq_len: 1024,
          sequences: 600 * scale,
          tokens: 614400 * scale,
          content_tokens: 591000 * scale,
          eos_tokens: 67 * scale,
          pad_tokens: 23333 * scale,
          loss_tokens: 591067 * scale,
          documents: 67 * scale,
          sources: {
            general_prs: {
              documents_in: 70,
              tokens_in: 600000,
              removed: {},
              documents_out: 67 * scale,
              tokens_out: 591000 * scale,
              repetition: scale,
              share: 1,
            },
          },
        },
      ],
    },
    train: {
      stages: [
        {
          name: 'mt1',
          state: 'COMPLETED',
          steps: 3,
          tokens: 3000 * scale,
          loss_first: 9.5,
          loss_last: 7.25,
          curve: [
            { step: 1, loss: 9.5 },
            { step: 2, loss: 8 },
            { step: 3, loss: 7.25 },
          ],
        },
      ],
    },
    evaluate: {
      model: 'tiny',
      tasks: 50,
      runs: 3,
      resolved_rates: [0.2, 0.24, 0.22],
      mean: 0.22,
      ci95: { low: 0.17, high: 0.27, method: 't' },
      ci95_instances: { low: 0.12, high: 0.33, method: 'bootstrap' },
      baselines: [{ name: 'base', mean: 0.1, difference: 0.12 }],
    },
    midtrain_tokens: 3000 * scale,
  };
}

function expReport(e = experiment()): ReportData {
  return { kind: 'experiment', id: e.id, experiment: e, warnings: [`odd ${HOSTILE}`] };
}

function sweepReport(): Extract<ReportData, { kind: 'sweep' }> {
  const arm = (index: number, name: string, e?: ExperimentData, over: Partial<ArmData> = {}): ArmData => ({
    index,
    id: `sw-${String(index).padStart(2, '0')}`,
    name,
    params: { 'mix.stages.0.sources.0.repeat': index + 1 },
    state: e ? 'completed' : 'failed',
    eval_score: e?.evaluate?.mean ?? null,
    error: e ? null : 'boom',
    ...(e ? { experiment: e } : {}),
    ...over,
  });
  const a0 = experiment('sw-00', 1);
  const a1 = experiment('sw-01', 2);
  a1.evaluate = { ...a1.evaluate!, mean: 0.3, ci95: null, ci95_instances: { low: 0.2, high: 0.41, method: 'bs' } };
  return {
    kind: 'sweep',
    id: 'sw',
    sweep: { completed: 2, reused: 0, failed: 1, runs: 1 },
    arms: [arm(0, 'repeat ×1', a0), arm(1, HOSTILE, a1), arm(2, 'broken')],
    warnings: [],
  };
}

const nodes = (svg: SvgNode | undefined, pred: (n: SvgNode) => boolean) => (svg ? walk(svg).filter(pred) : []);

describe('report rendering', () => {
  it('writes one self-contained HTML file with well-formed inline SVG and no external reference', () => {
    const html = renderHtml(expReport());
    assert.doesNotMatch(html, /https?:\/\//, 'no URL anywhere, not even an xmlns');
    assert.doesNotMatch(html, /\s(src|href)=["']/i, 'no linked resource');
    assert.doesNotMatch(html, /@import|url\(/, 'no CSS fetch');
    const svgs = reportSvgs(html); // throws on malformed XML
    assert.deepEqual(
      svgs.map((s) => s.attrs['data-chart']),
      ['funnel', 'mix-tokens', 'loss', 'resolved']
    );
    for (const s of svgs) assert.match(s.attrs.viewBox ?? '', /^0 0 \d+(\.\d)? \d+(\.\d)?$/);
    assert.equal((html.match(/<script/g) ?? []).length, 1, 'only the JSON data block');
    assert.deepEqual(reportJson(html), expReport());
  });

  it('puts the numbers in tables and charts under stable keys', () => {
    const d = expReport();
    const html = renderHtml(d);
    const cells = reportCells(html);
    const v = (k: string) => Number(cells.get(k)?.value);
    assert.equal(v('mine.prs_seen'), 120);
    assert.equal(v('mine.prs_kept'), 70);
    assert.equal(v('mine.prs_dropped.no_issue'), 30);
    assert.equal(v(`mine.prs_dropped.${HOSTILE}`), 15, 'hostile keys survive escaping');
    assert.equal(v(`mine.prs_dropped.${HOSTILE_ATTR}`), 5);
    assert.equal(cells.get('mine.prs_seen')?.text, '120');
    assert.equal(cells.get('mine.tokens')?.text, '987,654');
    assert.equal(v('mix.mt1.sources.general_prs.tokens_out'), 591000);
    assert.equal(v('mix.mt1.tokens'), 614400);
    assert.equal(v('mix.cleaning.general_prs.documents_kept'), 67);
    assert.equal(v('train.mt1.loss_last'), 7.25);
    assert.equal(v('evaluate.ci95.low'), 0.17);
    assert.equal(v('evaluate.ci95_instances.high'), 0.33);
    assert.equal(cells.get('evaluate.mean')?.text, '22.0%');

    const svgs = reportSvgs(html);
    // Funnel: the PR row's segments are kept + each drop reason and add up to prs_seen.
    const prRow = nodes(chart(svgs, 'funnel'), (n) => n.attrs['data-row'] === 'mine: PRs')[0]!;
    const segs = walk(prRow).filter((n) => n.tag === 'rect');
    assert.deepEqual(Object.fromEntries(segs.map((s) => [s.attrs['data-segment'], Number(s.attrs['data-value'])])), {
      kept: 70,
      no_issue: 30,
      [HOSTILE]: 15,
      [HOSTILE_ATTR]: 5,
    });
    assert.equal(Number(prRow.attrs['data-total']), 120);
    // Tokens per source: sources plus eos and pad add up to the stage's tokens.
    const mt1 = nodes(chart(svgs, 'mix-tokens'), (n) => n.attrs['data-row'] === 'mt1')[0]!;
    assert.equal(Number(mt1.attrs['data-total']), 614400);
    // Loss curve and evaluation intervals.
    const loss = nodes(chart(svgs, 'loss'), (n) => n.attrs['data-series'] === 'mt1' && n.tag === 'path')[0]!;
    assert.equal(loss.attrs['data-points'], '3');
    assert.equal(Number(loss.attrs['data-last']), 7.25);
    const est = nodes(chart(svgs, 'resolved'), (n) => n.tag === 'g' && n.attrs.class === 'estimate');
    const byLabel = Object.fromEntries(est.map((n) => [n.attrs['data-label'], n.attrs]));
    assert.equal(Number(byLabel['over runs']?.['data-low']), 0.17);
    assert.equal(Number(byLabel['over runs']?.['data-high']), 0.27);
    assert.equal(Number(byLabel['over instances']?.['data-low']), 0.12);
    assert.equal(Number(byLabel['run 2']?.['data-value']), 0.24);
    assert.equal(Number(byLabel['baseline base']?.['data-value']), 0.1);
  });

  it('escapes hostile names in HTML, SVG and Markdown', () => {
    const html = renderHtml(sweepReport());
    assert.ok(!html.includes(HOSTILE), 'no raw hostile markup');
    assert.ok(!html.includes('<img'), 'no injected element');
    assert.ok(html.includes(esc(HOSTILE)));
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    reportSvgs(html);
    const svgText = reportSvgs(html)
      .flatMap(walk)
      .map((n) => n.attrs['data-label'])
      .filter(Boolean);
    assert.ok(
      svgText.some((t) => t!.includes(HOSTILE)),
      'the arm name reads back intact from the SVG'
    );
    const md = renderMarkdown(sweepReport());
    assert.ok(!md.includes(HOSTILE));
    assert.ok(md.includes('&lt;script&gt;'));
    assert.doesNotMatch(md, /https?:\/\//);
  });

  it('renders a sweep: arms table, resolved rate per arm with intervals, tokens and loss per arm', () => {
    const d = sweepReport();
    const html = renderHtml(d);
    const cells = reportCells(html);
    assert.equal(cells.get('arms.0.state')?.value, 'completed');
    assert.equal(cells.get('arms.2.state')?.value, 'failed');
    assert.equal(Number(cells.get('arms.1.score')?.value), 0.3);
    assert.equal(Number(cells.get('arms.1.midtrain_tokens')?.value), 6000);
    assert.equal(cells.get('arms.2.score'), undefined, 'a failed arm has no score');
    // Every arm's experiment, keyed by arm.
    assert.equal(Number(cells.get('arm1.mix.mt1.tokens')?.value), 2 * 614400);
    assert.equal(Number(cells.get('arm0.mine.prs_seen')?.value), 120);

    const svgs = reportSvgs(html);
    const ids = svgs.map((s) => s.attrs['data-chart']);
    for (const id of ['resolved-per-arm', 'resolved-vs-tokens', 'mix-tokens-per-arm', 'loss-per-arm'])
      assert.ok(ids.includes(id), `has ${id}`);
    const est = nodes(chart(svgs, 'resolved-per-arm'), (n) => n.attrs.class === 'estimate');
    assert.deepEqual(
      est.map((n) => [n.attrs['data-label'], +n.attrs['data-low']!, +n.attrs['data-high']!]),
      [
        ['#0 repeat ×1', 0.17, 0.27], // over runs
        [`#1 ${HOSTILE}`, 0.2, 0.41], // one run: over instances
      ]
    );
    const vs = nodes(chart(svgs, 'resolved-vs-tokens'), (n) => n.attrs.class === 'estimate');
    assert.deepEqual(
      vs.map((n) => +n.attrs['data-x']!),
      [3000, 6000]
    );
    const series = nodes(chart(svgs, 'loss-per-arm'), (n) => n.tag === 'path' && n.attrs.class === 'series');
    assert.deepEqual(
      series.map((n) => n.attrs['data-series']),
      ['#0 · mt1', '#1 · mt1']
    );
    const rows = nodes(chart(svgs, 'mix-tokens-per-arm'), (n) => n.tag === 'g' && n.attrs.class === 'row');
    assert.deepEqual(
      rows.map((r) => +r.attrs['data-total']!),
      [614400, 2 * 614400]
    );

    // Arms with the same training tokens: no tokens plot.
    const same = sweepReport();
    same.arms[1]!.experiment!.midtrain_tokens = 3000;
    assert.ok(!reportSvgs(renderHtml(same)).some((s) => s.attrs['data-chart'] === 'resolved-vs-tokens'));

    const md = renderMarkdown(d);
    assert.match(md, /\| # \| arm \| params \| state \| resolved rate \|/);
    assert.match(md, /\| 0 \| repeat ×1 \| .* \| completed \| 22\.0% \|/);
    assert.match(md, /1,228,800/, 'the second arm’s stage tokens');
  });

  it('is deterministic', () => {
    assert.equal(renderHtml(sweepReport()), renderHtml(structuredClone(sweepReport())));
    assert.equal(renderMarkdown(expReport()), renderMarkdown(structuredClone(expReport())));
  });

  it('renders an experiment with only some stages, and empty charts stay well-formed', () => {
    const e: ExperimentData = { id: 'bare', stages: [], midtrain_tokens: null };
    const html = renderHtml({ kind: 'experiment', id: 'bare', experiment: e, warnings: [] });
    assert.deepEqual(reportSvgs(html), []);
    const e2 = experiment();
    e2.train!.stages[0]!.curve = [];
    e2.mine!.prs_dropped = {};
    const svgs = reportSvgs(renderHtml(expReport(e2)));
    assert.ok(!svgs.some((s) => s.attrs['data-chart'] === 'loss'), 'no loss plot without points');
  });
});

const ref = (uri: string): ArtifactRef => ({
  uri,
  sha256: '0'.repeat(64),
  bytes: 1,
  records: null,
  schemaVersion: 1,
});

describe('report data from an experiment result', () => {
  it('reads train loss curves from the metrics JSONL, skipping foreign and torn lines', async () => {
    const metrics = [
      JSON.stringify({ event: 'start', step: 0 }),
      ...Array.from({ length: 5 }, (_, i) => JSON.stringify({ step: i + 1, loss: 10 - i, tokens: 100 })),
      'not json',
      JSON.stringify({ step: 6, loss: null }),
      '{"step": 7, "lo',
    ].join('\n');
    const train: TrainStageResult = {
      final_checkpoint: '/ckpt/final',
      stages: [
        {
          name: 'mt1',
          jobId: '7',
          state: 'COMPLETED',
          checkpoint_dir: '/ckpt',
          final_checkpoint: '/ckpt/final',
          metrics_summary: { steps: 5, tokens: 500, loss_first: 10, loss_last: 6, tokens_per_s: null },
          artifacts: {
            script: ref('file:///x/script'),
            inputs: ref('file:///x/inputs'),
            checkpoints: ref('file:///x/ckpts'),
            metrics: ref('file:///x/metrics.jsonl'),
            log: ref('file:///x/log'),
          },
        },
        {
          name: 'sft',
          jobId: '8',
          state: 'COMPLETED',
          checkpoint_dir: '/ckpt2',
          final_checkpoint: '/ckpt2/final',
          metrics_summary: { steps: 1, tokens: 50, loss_first: 2, loss_last: 2, tokens_per_s: null },
          artifacts: {
            script: ref('file:///y/script'),
            inputs: ref('file:///y/inputs'),
            checkpoints: ref('file:///y/ckpts'),
            metrics: ref('file:///y/missing.jsonl'),
            log: ref('file:///y/log'),
          },
        },
      ],
    };
    const result: ExperimentResult = {
      experimentId: 'e',
      stages: {
        train: { status: 'ran', cacheKey: 'k', producer: { workflowId: 'e-train', runId: 'r' }, result: train },
      },
    };
    const read = async (uri: string) => {
      if (uri === 'file:///x/metrics.jsonl') return Buffer.from(metrics);
      throw new Error(`ENOENT ${uri}`);
    };
    const warnings: string[] = [];
    const d = await experimentData(result, read, warnings);
    assert.deepEqual(
      d.train!.stages[0]!.curve,
      [1, 2, 3, 4, 5].map((s) => ({ step: s, loss: 11 - s }))
    );
    assert.deepEqual(d.train!.stages[1]!.curve, []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /sft.*missing\.jsonl/);
    assert.equal(d.midtrain_tokens, 500, 'the SFT stage is not mid-training');
    const svg = chart(reportSvgs(renderHtml({ kind: 'experiment', id: 'e', experiment: d, warnings })), 'loss');
    assert.ok(svg);
  });

  it('reports a stage result of an unexpected shape as a warning', async () => {
    const warnings: string[] = [];
    const d = await experimentData(
      {
        experimentId: 'e',
        stages: { mine: { status: 'ran', cacheKey: 'k', producer: { workflowId: 'm', runId: 'r' }, result: { x: 1 } } },
      },
      async () => Buffer.from(''),
      warnings
    );
    assert.equal(d.mine, undefined);
    assert.match(warnings[0]!, /mine stage's result has an unexpected shape/);
  });

  it('thins long curves evenly, keeping the first and last points', () => {
    const jsonl = Array.from({ length: 1001 }, (_, i) => JSON.stringify({ step: i, loss: i })).join('\n');
    const c = lossCurve(jsonl);
    assert.ok(c.length <= MAX_CURVE_POINTS);
    assert.equal(c[0]!.step, 0);
    assert.equal(c.at(-1)!.step, 1000);
    assert.deepEqual(thin([1, 2, 3], 5), [1, 2, 3]);
  });

  it('picks round axis ticks covering the data', () => {
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = niceTicks(3.2, 9.7);
    assert.ok(t[0]! <= 3.2 && t.at(-1)! >= 9.7);
    assert.ok(niceTicks(5, 5).length >= 2);
  });
});
