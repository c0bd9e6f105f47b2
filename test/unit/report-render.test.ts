import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ArtifactRef, ExperimentResult, TrainStageResult } from '../../contracts';
import type { ArmData, ExperimentData, ReportData, RunData, TrainStageData } from '../../report/data';
import { experimentData, lossCurve, MAX_CURVE_POINTS, thin } from '../../report/experiment-data';
import { chart, reportCells, reportJson, reportSvgs, walk, type SvgNode } from '../../report/inspect';
import { renderHtml, renderMarkdown } from '../../report/render';
import { esc, niceTicks } from '../../report/svg';

const HOSTILE = '<script>alert("x")</script>';
const HOSTILE_ATTR = `"><img src=x onerror=alert(1)>'`;

const UI = 'http://localhost:8233/namespaces/default/workflows';

/** A run as collect.ts reads it from Temporal. */
function run(workflowId: string, start: string, ms: number): RunData {
  const close = new Date(Date.parse(start) + ms).toISOString();
  return {
    workflowId,
    runId: `run-of-${workflowId}`,
    start,
    close,
    duration_ms: ms,
    url: `${UI}/${encodeURIComponent(workflowId)}`,
  };
}

/** A completed training stage whose losses are steps 1, 2, … */
function trainStage(id: string, name: string, job: string, tokens: number, losses: number[]): TrainStageData {
  return {
    name,
    state: 'COMPLETED',
    steps: losses.length,
    tokens,
    loss_first: losses[0]!,
    loss_last: losses.at(-1)!,
    curve: losses.map((loss, i) => ({ step: i + 1, loss })),
    job_id: job,
    checkpoint: `/ckpt/${id}/${name}/step-${losses.length}`,
  };
}

/** A synthetic experiment with every stage, hostile reason names included. */
function experiment(id = 'exp-1', scale = 1): ExperimentData {
  return {
    id,
    run: run(id, '2025-03-04T05:06:07.000Z', 3_723_000),
    spec: {
      description: 'two mid-training stages',
      train: {
        model: 'config tiny',
        framework: 'command',
        resources: { nodes: 1, gpus_per_node: 0, mem: '200M' },
        stages: [
          {
            name: 'mt1',
            kind: 'mt',
            data: 'mt1',
            seq_len: 1024,
            init: null,
            hparams: { global_batch: 1024, lr: 8e-5, warmup: 0.05, schedule: 'cosine', masked_loss: false },
          },
          {
            name: 'mt2',
            kind: 'mt',
            data: 'mt1',
            seq_len: 1024,
            init: 'previous',
            hparams: { global_batch: 512, lr: 4e-5, warmup: 0.05, schedule: 'cosine', max_steps: 3 },
          },
        ],
      },
      mix: {
        tokenizer: 'qwen2.5',
        seed: 7,
        stages: [
          {
            name: 'mt1',
            seq_len: 1024,
            requested_tokens: 'all',
            loss_mask: 'none',
            sources: [{ source: 'general_prs', weight: `repeat ${scale}` }],
          },
        ],
      },
      evaluate: { tasks: 'from build', runs: 3, 'sampling.temperature': 0 },
      other: { mine: { sources: 'acme/widgets, acme/gadgets', page_size: 3 } },
    },
    stages: [
      {
        stage: 'mine',
        status: 'ran',
        cacheKey: 'a'.repeat(64),
        producer: `${id}/mine`,
        run: run(`${id}/mine`, '2025-03-04T05:06:08.000Z', 125_000),
      },
      {
        stage: 'mix',
        status: 'cached',
        cacheKey: 'b'.repeat(64),
        producer: 'other/mix',
        run: run('other/mix', '2025-03-01T00:00:00.000Z', 4_200),
      },
    ],
    mine: {
      repos: 3,
      prs_seen: 120,
      prs_kept: 70,
      prs_dropped: { no_issue: 30, [HOSTILE]: 15, [HOSTILE_ATTR]: 5 },
      prs_found: { merge: 100, squash: 20 },
      not_prs: { branch_merge: 7 },
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
        trainStage(id, 'mt1', '41', 3000 * scale, [9.5, 8, 7.25]),
        trainStage(id, 'mt2', '42', 1500, [7.2, 6.5, 6.12345]),
      ],
      final_checkpoint: `/ckpt/${id}/mt2/step-3`,
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
    ...(e ? { experiment: e, run: e.run } : {}),
    ...over,
  });
  const a0 = experiment('sw-00', 1);
  const a1 = experiment('sw-01', 2);
  a1.evaluate = { ...a1.evaluate!, mean: 0.3, ci95: null, ci95_instances: { low: 0.2, high: 0.41, method: 'bs' } };
  return {
    kind: 'sweep',
    id: 'sw',
    sweep: { completed: 2, reused: 0, failed: 1, runs: 1 },
    run: run('sw', '2025-03-04T05:00:00.000Z', 7_200_000),
    arms: [arm(0, 'repeat ×1', a0), arm(1, HOSTILE, a1), arm(2, 'broken')],
    warnings: [],
  };
}

const nodes = (svg: SvgNode | undefined, pred: (n: SvgNode) => boolean) => (svg ? walk(svg).filter(pred) : []);

describe('report rendering', () => {
  it('writes one self-contained HTML file with well-formed inline SVG and no external reference', () => {
    const html = renderHtml(expReport());
    const hrefs = [...html.matchAll(/<a href="([^"]*)">/g)].map((m) => m[1]!);
    assert.ok(hrefs.length >= 3, 'links to the experiment and its stage runs');
    for (const h of hrefs) assert.ok(h.startsWith(`${UI}/`), `a Web UI link: ${h}`);
    // Beside the links, URLs only in the JSON data block (the run's `url`).
    const unlinked = html.replace(/<a href="[^"]*">/g, '<a>').replace(/<script[\s\S]*<\/script>/, '');
    assert.doesNotMatch(unlinked, /https?:\/\//, 'no other URL anywhere, not even an xmlns');
    assert.doesNotMatch(unlinked, /\s(src|href)=["']/i, 'no linked resource');
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
    assert.equal(v('mine.prs_found.squash'), 20, 'PRs found by shape');
    assert.equal(v('mine.not_prs.branch_merge'), 7, 'commits that are not PRs, by reason');
    assert.equal(v('mine.prs_kept'), 70);
    assert.equal(v('mine.prs_dropped.no_issue'), 30);
    assert.equal(v(`mine.prs_dropped.${HOSTILE}`), 15, 'hostile keys survive escaping');
    assert.equal(v(`mine.prs_dropped.${HOSTILE_ATTR}`), 5);
    assert.equal(cells.get('mine.prs_seen')?.text, '120');
    assert.equal(cells.get('mine.tokens')?.text, '988k', 'tokens: SI, 3 significant digits');
    assert.equal(v('mine.tokens'), 987654, 'the exact value stays in data-value');
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

  it('shows run dates, stage durations (cached ones marked), settings, checkpoints and Web UI links', () => {
    const d = expReport();
    const html = renderHtml(d);
    const cells = reportCells(html);
    const cell = (k: string) => {
      const c = cells.get(k);
      assert.ok(c, `cell ${k}`);
      return c;
    };
    // The experiment's run and each stage's producing run.
    assert.deepEqual(cell('run.start'), { value: '2025-03-04T05:06:07.000Z', text: '2025-03-04 05:06:07 UTC' });
    assert.deepEqual(cell('run.close'), { value: '2025-03-04T06:08:10.000Z', text: '2025-03-04 06:08:10 UTC' });
    assert.deepEqual(cell('run.duration_ms'), { value: '3723000', text: '1h02m' });
    assert.deepEqual(cell('stages.mine.duration_ms'), { value: '125000', text: '2m05s' });
    assert.equal(cell('stages.mine.status').value, 'ran');
    assert.equal(cell('stages.mix.status').value, 'cached');
    assert.deepEqual(cell('stages.mix.duration_ms'), { value: '4200', text: '4s' });
    assert.equal(cell('stages.mix.start').value, '2025-03-01T00:00:00.000Z', 'the producing run’s dates');
    assert.match(html, /<td>other\/mix \(run run-of-other\/mix\)<\/td>/, 'the producing run of a cached stage');
    assert.match(html, /reused from the step cache/);
    for (const id of ['exp-1', 'exp-1/mine', 'other/mix'])
      assert.ok(html.includes(`<a href="${UI}/${encodeURIComponent(id)}">`), `link to ${id}`);
    // Settings: hyperparameters per training stage, the mixture, evaluation, other stages as written.
    assert.equal(Number(cell('spec.train.mt1.lr').value), 8e-5);
    assert.equal(cell('spec.train.mt1.lr').text, '8e-5');
    assert.equal(cell('spec.train.mt2.global_batch').text, '512');
    assert.equal(cell('spec.train.mt2.max_steps').text, '3');
    assert.equal(cells.get('spec.train.mt1.max_steps'), undefined, 'a setting a stage does not have');
    assert.equal(Number(cell('spec.train.mt1.seq_len').value), 1024);
    assert.equal(Number(cell('spec.mix.seed').value), 7);
    assert.match(html, /<td>general_prs repeat 1<\/td>/);
    assert.equal(Number(cell('spec.evaluate.runs').value), 3);
    assert.equal(cell('spec.mine.page_size').text, '3');
    assert.match(html, /<td>config tiny<\/td>/);
    // Checkpoints.
    assert.equal(cell('train.mt1.checkpoint').value, '/ckpt/exp-1/mt1/step-3');
    assert.equal(cell('train.final_checkpoint').value, '/ckpt/exp-1/mt2/step-3');
    // Rounding: losses 3 decimals, tokens SI, rates percent.
    assert.deepEqual(cell('train.mt2.loss_last'), { value: '6.12345', text: '6.123' });
    assert.deepEqual(cell('train.mt1.loss_last'), { value: '7.25', text: '7.250' });
    assert.deepEqual(cell('mix.mt1.tokens'), { value: '614400', text: '614k' });
    assert.equal(cell('evaluate.baselines.base.difference').text, '+12.0 pp');

    // The loss chart: one step axis, mt2 continuing after mt1, a boundary where mt2 starts.
    assert.deepEqual(cell('train.mt2.axis_first'), { value: '4', text: '4' });
    assert.equal(cell('train.mt2.axis_last').value, '6');
    const loss = chart(reportSvgs(html), 'loss');
    const paths = nodes(loss, (n) => n.tag === 'path' && n.attrs.class === 'series');
    assert.deepEqual(
      paths.map((n) => [n.attrs['data-series'], +n.attrs['data-x-first']!, +n.attrs['data-x-last']!]),
      [
        ['mt1', 1, 3],
        ['mt2', 4, 6],
      ]
    );
    const bounds = nodes(loss, (n) => n.attrs.class === 'boundary');
    assert.deepEqual(
      bounds.map((n) => [n.attrs['data-label'], +n.attrs['data-x']!]),
      [['mt2', 4]]
    );

    // The Markdown: the same facts, links as Markdown links.
    const md = renderMarkdown(d);
    assert.ok(md.includes('- Started: 2025-03-04 05:06:07 UTC'));
    assert.ok(md.includes('- Duration: 1h02m'));
    assert.ok(md.includes(`- Temporal Web UI: [exp-1](${UI}/exp-1)`));
    assert.match(
      md,
      /\| mine \| ran \| exp-1\/mine \| 2025-03-04 05:06:08 UTC \| 2025-03-04 05:08:13 UTC \| 2m05s \| a{16} \| \[open\]\(http:\/\/localhost:8233\/namespaces\/default\/workflows\/exp-1%2Fmine\) \|/
    );
    assert.match(md, /\| mix \| cached \| other\/mix \(run run-of-other\/mix\) \| 2025-03-01 00:00:00 UTC \|/);
    assert.match(md, /\| mt1 \| mt \| mt1 \| 1,024 \| model \| 1024 \| 8e-5 \| 0\.05 \| cosine \| false \| – \|/);
    assert.ok(md.includes('- Final checkpoint (the trained model): /ckpt/exp-1/mt2/step-3'));
    assert.match(md, /\| mt2 \| COMPLETED \| 42 \| 3 \| 4 \| 6 \| 1\.5k \| 7\.200 \| 6\.123 \|/);
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
    assert.doesNotMatch(
      md.replace(/\]\(http:\/\/localhost:8233\/[^)\s]*\)/g, ']'),
      /https?:\/\//,
      'URLs only in UI links'
    );
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
      series.map((n) => [n.attrs['data-series'], +n.attrs['data-x-first']!, +n.attrs['data-x-last']!]),
      [
        ['#0 · mt1', 1, 3],
        ['#0 · mt2', 4, 6],
        ['#1 · mt1', 1, 3],
        ['#1 · mt2', 4, 6],
      ],
      'each arm’s stages on one step axis'
    );
    assert.deepEqual(
      nodes(chart(svgs, 'loss-per-arm'), (n) => n.attrs.class === 'boundary').map((n) => n.attrs['data-label']),
      ['#0 · mt2', '#1 · mt2']
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
    assert.match(md, /\| mt1 \| 1\.23M \|/, 'the second arm’s stage tokens, rounded');
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
    for (const st of e2.train!.stages) st.curve = [];
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
    assert.deepEqual(
      d.train!.stages.map((s) => [s.job_id, s.checkpoint]),
      [
        ['7', '/ckpt/final'],
        ['8', '/ckpt2/final'],
      ]
    );
    assert.equal(d.train!.final_checkpoint, '/ckpt/final');
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
