import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  MineStageResult,
  MixManifest,
  MixStageResult,
  SweepSpec,
  TASK_QUEUES,
  TrainStageResult,
  type ExperimentResult,
  type ExperimentSpecInput,
  type MixConfigInput,
  type SweepResult,
  type TrainConfigInput,
} from '../../contracts';
import type { FixtureRepo } from '../../infra/fixtures/make-repos';
import { workflowUrl } from '../../cli/client';
import { reportCommand } from '../../cli/report';
import { startSweep } from '../../cli/sweep';
import { lossCurve } from '../../report/experiment-data';
import { count, date, duration, loss, tokens } from '../../report/format';
import { chart, reportCells, reportJson, reportSvgs, walk, type SvgNode } from '../../report/inspect';
import { prerequisites } from '../helpers/prereq';
import { fixtureSpec, runWorkers, startFixtureStack } from '../helpers/stack';

/**
 * `bottega report` on real experiments and a two-arm sweep (real Temporal dev server, real cpu
 * worker; the train stage as Slurm jobs on the local cluster): the HTML's tables and charts carry
 * exactly the numbers of the mix manifests, the mine summary and the train metrics, the run dates
 * and durations Temporal reports, the spec's settings, the checkpoints and Web UI links, and the
 * command refuses unknown, unfinished and foreign workflows.
 */
const skip = await prerequisites('temporal');
const slurmSkip = skip || (await prerequisites('slurm'));
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
let repos: FixtureRepo[];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-report-'));
const outDir = join(home, 'reports');
/** The Web UI the report links to (the environment the command reads, as the CLI's is). */
const reportEnv = { ...process.env, TEMPORAL_UI_URL: 'http://temporal-ui.test:8080/' };
/** Workflow ids (and so Slurm job names) unique to this run: jobs of earlier runs stay in squeue. */
const RUN = Date.now().toString(36);

/**
 * A stand-in trainer: `max_steps` (from the stage's hyperparameters) step lines with a falling
 * loss and 1000 tokens each, then a complete checkpoint.
 */
const trainer = join(home, 'steps-trainer.sh');
writeFileSync(
  trainer,
  `#!/bin/bash
ckpt=$1 metrics=$2
steps=$(echo "$3" | grep -o '"max_steps":[0-9]*' | cut -d: -f2)
for i in $(seq 1 "\${steps:-2}"); do echo "{\\"step\\":$i,\\"loss\\":$((40 - 3 * i)).125,\\"tokens\\":1000}" >> "$metrics"; done
mkdir -p "$ckpt/step-$steps" && echo '{}' > "$ckpt/step-$steps/COMPLETE"
`
);

/** Two training stages (4 then 3 steps) of the stand-in trainer, one Slurm job each. */
const TRAIN: TrainConfigInput = {
  resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '200M', time_limit: '10:00' },
  framework: { type: 'command', command: `bash ${trainer} {ckpt_dir} {metrics} {hparams_json}` },
  workdir: join(home, 'slurm'),
  poll: { initial_s: 0.5, max_s: 2, heartbeat_timeout_s: 10, report_every_s: 2 },
  stages: [
    { name: 'mt1', data: 'mt1', init: '/models/base', hparams: { max_steps: 4, lr: 3e-4 } },
    { name: 'mt2', data: 'mt2', init: 'previous', hparams: { max_steps: 3, global_batch: 64 } },
  ],
};

const MIX: MixConfigInput = {
  seed: 7,
  sources: [
    { name: 'general_prs', from: 'mine.general' },
    { name: 'python_prs', from: 'mine.python' },
  ],
  stages: [
    { name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }] },
    { name: 'mt2', seq_len: 1024, sources: [{ source: 'python_prs', repeat: 2 }, { source: 'general_prs' }] },
  ],
};

function spec(id: string, over: Partial<ExperimentSpecInput> = {}): ExperimentSpecInput {
  return fixtureSpec(id, repos, { store: { uri: `file://${join(home, 'artifacts')}` }, ...over });
}

/** Runs the report command, returning its exit code and what it printed. */
async function report(id: string, format?: 'html' | 'md' | 'both') {
  const out: string[] = [];
  const err: string[] = [];
  const rc = await reportCommand(
    env.client,
    id,
    { out: outDir, env: reportEnv, ...(format ? { format } : {}) },
    { out: (s) => out.push(s), err: (s) => err.push(s) }
  );
  return { rc, out, err };
}

/** The manifests of a mix result, read from the store's files. */
function manifests(mix: MixStageResult): Record<string, MixManifest> {
  return Object.fromEntries(
    Object.entries(mix.artifacts.manifests).map(([k, ref]) => [
      k,
      MixManifest.parse(JSON.parse(readFileSync(fileURLToPath(ref.uri), 'utf8'))),
    ])
  );
}

/** Checks every mix number of the report (tables and the tokens chart) against the manifests. */
function checkMix(html: string, ms: Record<string, MixManifest>, keyPrefix: string, chartId: string, rowPrefix = '') {
  const cells = reportCells(html);
  const num = (k: string) => {
    const c = cells.get(keyPrefix + k);
    assert.ok(c, `cell ${keyPrefix + k}`);
    const v = Number(c.value);
    assert.equal(c.text, /tokens/.test(k) ? tokens(v) : count(v), `${k}: shown with the report's rounding`);
    return v;
  };
  const tokensChart: SvgNode | undefined = chart(reportSvgs(html), chartId);
  assert.ok(tokensChart, `chart ${chartId}`);
  assert.ok(Object.keys(ms).length >= 2);
  for (const [stage, m] of Object.entries(ms)) {
    for (const f of [
      'tokens',
      'content_tokens',
      'eos_tokens',
      'pad_tokens',
      'loss_tokens',
      'documents',
      'sequences',
    ] as const)
      assert.equal(num(`mix.${stage}.${f}`), m[f], `${stage}.${f}`);
    for (const [src, s] of Object.entries(m.sources)) {
      assert.equal(num(`mix.${stage}.sources.${src}.tokens_out`), s.tokens_out, `${stage}/${src} tokens`);
      assert.equal(num(`mix.${stage}.sources.${src}.documents_out`), s.documents_out);
    }
    const row: SvgNode | undefined = walk(tokensChart).find((n) => n.attrs['data-row'] === `${rowPrefix}${stage}`);
    assert.ok(row, `row ${stage}`);
    const segs: Record<string, number> = Object.fromEntries(
      walk(row)
        .filter((n) => n.tag === 'rect')
        .map((n) => [n.attrs['data-segment'], Number(n.attrs['data-value'])])
    );
    const expected: Record<string, number> = { '(eos)': m.eos_tokens };
    if (m.pad_tokens > 0) expected['(pad)'] = m.pad_tokens;
    for (const [src, s] of Object.entries(m.sources)) if (s.tokens_out > 0) expected[src] = s.tokens_out;
    assert.deepEqual(segs, expected, `${stage}: tokens per source in the chart`);
    assert.equal(Number(row.attrs['data-total']), m.tokens, `${stage}: the bar adds up to the manifest's tokens`);
  }
}

/**
 * Self-contained: no loaded resource (no src, no CSS fetch, no xmlns); the only links go to the
 * Temporal Web UI the command was given. (A URL may still stand as text, e.g. a setting's value.)
 */
function checkSelfContained(html: string) {
  assert.doesNotMatch(html, /\ssrc=["']|@import|url\(|xmlns/i);
  const hrefs = [...html.matchAll(/\shref="([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(hrefs.length > 0, 'Web UI links');
  for (const h of hrefs) assert.ok(h.startsWith('http://temporal-ui.test:8080/namespaces/default/workflows/'), h);
  assert.equal((html.match(/\shref=/g) ?? []).length, (html.match(/<a href=/g) ?? []).length, 'links only');
}

/** Runs an experiment to its end. */
const execute = (s: ExperimentSpecInput) =>
  env.client.workflow.execute('experimentWorkflow', {
    workflowId: s.id,
    taskQueue: TASK_QUEUES.cpu,
    args: [s],
  }) as Promise<ExperimentResult>;

/** A report's cell by key (it must exist). */
function cellOf(cells: ReturnType<typeof reportCells>, key: string) {
  const c = cells.get(key);
  assert.ok(c, `cell ${key}`);
  return c;
}

/**
 * The run dates, durations and Web UI links of an experiment and of every stage's producing run
 * equal what Temporal describes (`k`: the arm's key prefix in a sweep). Returns the experiment's run.
 */
async function checkRuns(html: string, id: string, r: ExperimentResult, k = '') {
  const cells = reportCells(html);
  const runOf = async (workflowId: string, runId?: string) => {
    const d = await env.client.workflow.getHandle(workflowId, runId).describe();
    assert.ok(d.closeTime);
    return {
      runId: d.runId,
      start: d.startTime,
      close: d.closeTime,
      ms: d.closeTime.getTime() - d.startTime.getTime(),
    };
  };
  const exp = await runOf(id);
  const check = (p: string, run: Awaited<ReturnType<typeof runOf>>) => {
    assert.deepEqual(cellOf(cells, `${p}start`), {
      value: run.start.toISOString(),
      text: date(run.start.toISOString()),
    });
    assert.equal(cellOf(cells, `${p}close`).value, run.close.toISOString());
    assert.deepEqual(cellOf(cells, `${p}duration_ms`), { value: String(run.ms), text: duration(run.ms) });
  };
  check(`${k}run.`, exp);
  assert.ok(html.includes(`<a href="${workflowUrl(id, exp.runId, reportEnv)}">`), 'link to the experiment run');
  for (const [stage, o] of Object.entries(r.stages)) {
    const run = await runOf(o.producer.workflowId, o.producer.runId);
    check(`${k}stages.${stage}.`, run);
    assert.equal(cellOf(cells, `${k}stages.${stage}.status`).value, o.status);
    assert.ok(html.includes(`<a href="${workflowUrl(o.producer.workflowId, run.runId, reportEnv)}">`), `${stage} link`);
    if (o.status === 'ran')
      assert.ok(exp.start <= run.start && run.close <= exp.close, `${stage} ran within the experiment`);
  }
  return exp;
}

describe('bottega report (real Temporal dev server)', { skip }, () => {
  let slurm: { stop(): Promise<void> } | undefined;
  before(async () => {
    ({ env, repos, stop } = await startFixtureStack(home));
    if (!slurmSkip) slurm = await runWorkers(env, home, ['slurm']);
  });
  after(async () => {
    await slurm?.stop();
    await stop?.();
  });

  it('reports an experiment with the exact numbers of its mix manifests and mine summary', async () => {
    const id = 'exp-it-report';
    const r = await execute(spec(id, { mix: MIX }));
    const { rc, out, err } = await report(id);
    assert.equal(rc, 0, err.join('\n'));
    assert.deepEqual(out, [join(outDir, `${id}.html`), join(outDir, `${id}.md`)]);
    const html = readFileSync(join(outDir, `${id}.html`), 'utf8');
    checkSelfContained(html);
    assert.equal(reportJson(html).kind, 'experiment');
    const exp = await checkRuns(html, id, r);

    const mix = MixStageResult.parse(r.stages.mix!.result);
    const ms = manifests(mix);
    checkMix(html, ms, '', 'mix-tokens');

    // The mine funnel: table cells and the chart's PR row equal the MineSummary.
    const mine = MineStageResult.parse(r.stages.mine!.result).summary;
    const cells = reportCells(html);
    const num = (k: string) => Number(cells.get(k)?.value);
    assert.equal(num('mine.prs_seen'), mine.prs_seen);
    assert.equal(num('mine.prs_kept'), mine.prs_kept);
    assert.equal(num('mine.samples'), mine.samples);
    assert.equal(num('mine.tokens'), mine.tokens);
    assert.ok(Object.keys(mine.prs_dropped).length > 0, 'the fixtures drop some PRs');
    for (const [reason, n] of Object.entries(mine.prs_dropped)) assert.equal(num(`mine.prs_dropped.${reason}`), n);
    const funnel = chart(reportSvgs(html), 'funnel');
    assert.ok(funnel);
    const prRow = walk(funnel).find((n: SvgNode) => n.attrs['data-row'] === 'mine: PRs')!;
    const segs = Object.fromEntries(
      walk(prRow)
        .filter((n) => n.tag === 'rect')
        .map((n) => [n.attrs['data-segment'], Number(n.attrs['data-value'])])
    );
    assert.deepEqual(
      segs,
      Object.fromEntries(
        [['kept', mine.prs_kept] as const, ...Object.entries(mine.prs_dropped)].filter(([, n]) => n > 0)
      )
    );
    assert.equal(Number(prRow.attrs['data-total']), mine.prs_seen);
    // Cleaning per source, from the mix summary.
    for (const [src, s] of Object.entries(mix.summary.sources))
      assert.equal(num(`mix.cleaning.${src}.documents_kept`), s.documents_kept);

    // The spec's settings: the mixture as written, the mine stage's settings.
    assert.equal(num('spec.mix.seed'), 7);
    assert.equal(num('spec.mix.mt2.seq_len'), 1024);
    assert.match(html, /<td>python_prs repeat 2, general_prs repeat 1<\/td>/);
    assert.equal(num('spec.mine.page_size'), 3);

    // The Markdown has the same numbers, rounded by the same rules, and the same dates and links.
    const md = readFileSync(join(outDir, `${id}.md`), 'utf8');
    assert.ok(md.includes(`| mt1 | ${tokens(ms.mt1!.tokens)} |`));
    assert.ok(md.includes(`- Started: ${date(exp.start.toISOString())}`));
    assert.ok(md.includes(`- Duration: ${duration(exp.ms)}`));
    assert.ok(md.includes(`- Temporal Web UI: [${id}](${workflowUrl(id, exp.runId, reportEnv)})`));
    assert.match(md, /\| mine \| ran \| exp-it-report\/mine \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \|/);
  });

  it(
    'reports training: hyperparameters, checkpoints, one step axis across stages; a rerun marks every stage cached',
    { skip: slurmSkip },
    async () => {
      const id = `exp-it-report-train-${RUN}`;
      const r = await execute(spec(id, { mix: MIX, train: TRAIN }));
      const train = TrainStageResult.parse(r.stages.train!.result);
      const { rc, err } = await report(id);
      assert.equal(rc, 0, err.join('\n'));
      const html = readFileSync(join(outDir, `${id}.html`), 'utf8');
      const md = readFileSync(join(outDir, `${id}.md`), 'utf8');
      checkSelfContained(html);
      await checkRuns(html, id, r);
      const cells = reportCells(html);
      const cell = (k: string) => cellOf(cells, k);

      // The train table: each stage's numbers are its metrics summary's, rounded by the report's rules.
      assert.equal(train.stages.length, 2);
      for (const st of train.stages) {
        const m = st.metrics_summary!;
        const p = `train.${st.name}.`;
        assert.deepEqual(cell(`${p}steps`), { value: String(m.steps), text: count(m.steps) });
        assert.deepEqual(cell(`${p}tokens`), { value: String(m.tokens), text: tokens(m.tokens) });
        assert.deepEqual(cell(`${p}loss_first`), { value: String(m.loss_first), text: loss(m.loss_first) });
        assert.deepEqual(cell(`${p}loss_last`), { value: String(m.loss_last), text: loss(m.loss_last) });
        assert.equal(cell(`${p}checkpoint`).value, st.final_checkpoint);
        assert.ok(md.includes(`| ${st.name} | ${st.final_checkpoint} |`), 'checkpoints in the Markdown');
      }
      assert.equal(cell('train.final_checkpoint').value, train.final_checkpoint);
      assert.equal(train.final_checkpoint, train.stages[1]!.final_checkpoint);
      assert.ok(md.includes(`- Final checkpoint (the trained model): ${train.final_checkpoint}`));

      // One step axis: the trainer numbered each job's steps from 1; mt2 continues after mt1.
      const curves = train.stages.map((st) => lossCurve(readFileSync(fileURLToPath(st.artifacts.metrics.uri), 'utf8')));
      assert.deepEqual(
        curves.map((c) => c.map((p) => p.step)),
        [
          [1, 2, 3, 4],
          [1, 2, 3],
        ]
      );
      const lossChart = chart(reportSvgs(html), 'loss');
      assert.ok(lossChart);
      const paths = walk(lossChart).filter((n) => n.tag === 'path' && n.attrs.class === 'series');
      assert.deepEqual(
        paths.map((n) => [
          n.attrs['data-series'],
          +n.attrs['data-x-first']!,
          +n.attrs['data-x-last']!,
          +n.attrs['data-points']!,
        ]),
        [
          ['mt1', 1, 4, 4],
          ['mt2', 5, 7, 3],
        ]
      );
      paths.forEach((n, i) =>
        assert.equal(Number(n.attrs['data-last']), curves[i]!.at(-1)!.loss, 'last loss of the metrics')
      );
      const bounds = walk(lossChart).filter((n) => n.attrs.class === 'boundary');
      assert.deepEqual(
        bounds.map((n) => [n.attrs['data-label'], +n.attrs['data-x']!]),
        [['mt2', 5]]
      );
      assert.deepEqual([cell('train.mt2.axis_first').value, cell('train.mt2.axis_last').value], ['5', '7']);
      assert.match(md, new RegExp(`\\| mt2 \\| COMPLETED \\| ${train.stages[1]!.jobId} \\| 3 \\| 5 \\| 7 \\| 3k \\|`));

      // The spec's hyperparameters, the recipe's defaults filled in; the mix stage's seq_len.
      assert.deepEqual(cell('spec.train.mt1.lr'), { value: '0.0003', text: '3e-4' });
      assert.deepEqual(cell('spec.train.mt2.lr'), { value: '0.00008', text: '8e-5' }, 'the mid-training default');
      assert.equal(cell('spec.train.mt2.global_batch').text, '64');
      assert.equal(cell('spec.train.mt1.max_steps').text, '4');
      assert.equal(cell('spec.train.mt2.seq_len').value, '1024');
      assert.match(md, /\| mt2 \| mt \| mt2 \| 1,024 \| previous \|/);

      // The same spec again: every stage comes from the step cache, produced by the first run.
      const id2 = `exp-it-report-train-again-${RUN}`;
      const r2 = await execute(spec(id2, { mix: MIX, train: TRAIN }));
      assert.deepEqual(new Set(Object.values(r2.stages).map((o) => o.status)), new Set(['cached']));
      assert.equal((await report(id2)).rc, 0);
      const html2 = readFileSync(join(outDir, `${id2}.html`), 'utf8');
      await checkRuns(html2, id2, r2); // the producing runs' dates and links
      assert.equal(r2.stages.train!.producer.workflowId, `${id}/train`);
      for (const [stage, o] of Object.entries(r2.stages)) {
        assert.deepEqual(o.producer, r.stages[stage]!.producer, `${stage}: the first run's producer`);
        assert.ok(html2.includes(`<td>${o.producer.workflowId} (run ${o.producer.runId})</td>`), `${stage} producer`);
      }
      assert.match(html2, /reused from the step cache/);
      assert.equal(reportCells(html2).get('train.final_checkpoint')?.value, train.final_checkpoint);
    }
  );

  it('reports a sweep: the arms and each arm’s mixture', async () => {
    const base = spec('unused', { mix: MIX }) as Record<string, unknown>;
    delete base.id;
    const sweep = SweepSpec.parse({
      id: 'sw-it-report',
      base,
      grid: { 'mix.stages.1.sources.0.repeat': [1, 3] },
      max_parallel: 2,
    });
    await startSweep(env.client, sweep);
    const res = (await env.client.workflow.getHandle(sweep.id).result()) as SweepResult;
    assert.equal(res.failed, 0);
    const { rc, err } = await report(sweep.id, 'html');
    assert.equal(rc, 0, err.join('\n'));
    const html = readFileSync(join(outDir, `${sweep.id}.html`), 'utf8');
    checkSelfContained(html);
    const cells = reportCells(html);
    const sd = await env.client.workflow.getHandle(sweep.id).describe();
    assert.equal(cells.get('run.start')?.value, sd.startTime.toISOString());
    assert.equal(Number(cells.get('run.duration_ms')?.value), sd.closeTime!.getTime() - sd.startTime.getTime());
    assert.ok(html.includes(`<a href="${workflowUrl(sweep.id, sd.runId, reportEnv)}">`));
    assert.equal(res.arms.length, 2);
    const totals: number[] = [];
    for (const a of res.arms) {
      assert.equal(cells.get(`arms.${a.index}.state`)?.value, a.state);
      const r = (await env.client.workflow.getHandle(a.id).result()) as ExperimentResult;
      // The arm's run in the arms table, and its stages' runs in its group.
      const arm = await checkRuns(html, a.id, r, `arm${a.index}.`);
      assert.equal(cells.get(`arms.${a.index}.start`)?.value, arm.start.toISOString());
      assert.equal(cells.get(`arms.${a.index}.duration_ms`)?.text, duration(arm.ms));
      const ms = manifests(MixStageResult.parse(r.stages.mix!.result));
      checkMix(html, ms, `arm${a.index}.`, 'mix-tokens-per-arm', `#${a.index} · `);
      totals.push(ms.mt2!.tokens);
    }
    assert.notEqual(totals[0], totals[1], 'the arms differ in mt2 tokens');
  });

  it('refuses unknown, unfinished and foreign workflows with exit 1', async () => {
    const unknown = await report('no-such-workflow');
    assert.equal(unknown.rc, 1);
    assert.match(unknown.err.join('\n'), /no workflow with id "no-such-workflow"/);

    // Nobody polls this queue: the experiment stays running.
    const h = await env.client.workflow.start('experimentWorkflow', {
      workflowId: 'exp-it-report-running',
      taskQueue: 'nobody-polls-this',
      args: [spec('exp-it-report-running')],
    });
    const foreign = await env.client.workflow.start('somethingElseWorkflow', {
      workflowId: 'not-an-experiment',
      taskQueue: 'nobody-polls-this',
      args: [],
    });
    try {
      const runningReport = await report('exp-it-report-running');
      assert.equal(runningReport.rc, 1);
      assert.match(runningReport.err.join('\n'), /is running, not completed/);
      const f = await report('not-an-experiment');
      assert.equal(f.rc, 1);
      assert.match(f.err.join('\n'), /is a somethingElseWorkflow, not an experiment or a sweep/);
    } finally {
      await h.terminate();
      await foreign.terminate();
    }
  });
});
