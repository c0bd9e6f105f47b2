import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
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
  type ExperimentResult,
  type ExperimentSpecInput,
  type MixConfigInput,
  type SweepResult,
} from '../../contracts';
import type { FixtureRepo } from '../../infra/fixtures/make-repos';
import { reportCommand } from '../../cli/report';
import { startSweep } from '../../cli/sweep';
import { chart, reportCells, reportJson, reportSvgs, walk, type SvgNode } from '../../report/inspect';
import { fixtureSpec, startFixtureStack } from '../helpers/stack';

/**
 * `bottega report` on a real mine → mix experiment and a two-arm sweep (real Temporal dev server,
 * real cpu worker): the HTML's tables and charts carry exactly the numbers of the mix manifests
 * and the mine summary, and the command refuses unknown, unfinished and foreign workflows.
 */
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
let repos: FixtureRepo[];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-report-'));
const outDir = join(home, 'reports');

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
    { out: outDir, ...(format ? { format } : {}) },
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
    assert.equal(Number(c.text.replace(/[,%×]/g, '')), Number(c.value), `${k}: text and value agree`);
    return Number(c.value);
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

describe('bottega report (real Temporal dev server)', () => {
  before(async () => {
    ({ env, repos, stop } = await startFixtureStack(home));
  });
  after(async () => stop?.());

  it('reports an experiment with the exact numbers of its mix manifests and mine summary', async () => {
    const id = 'exp-it-report';
    const r = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [spec(id, { mix: MIX })],
    })) as ExperimentResult;
    const { rc, out, err } = await report(id);
    assert.equal(rc, 0, err.join('\n'));
    assert.deepEqual(out, [join(outDir, `${id}.html`), join(outDir, `${id}.md`)]);
    const html = readFileSync(join(outDir, `${id}.html`), 'utf8');
    assert.doesNotMatch(html, /https?:\/\//, 'self-contained');
    assert.equal(reportJson(html).kind, 'experiment');

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

    // The Markdown has the same numbers.
    const md = readFileSync(join(outDir, `${id}.md`), 'utf8');
    assert.ok(md.includes(`| mt1 | ${ms.mt1!.tokens.toLocaleString('en-US')} |`));
    assert.doesNotMatch(md, /https?:\/\//);
  });

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
    assert.doesNotMatch(html, /https?:\/\//);
    const cells = reportCells(html);
    assert.equal(res.arms.length, 2);
    const totals: number[] = [];
    for (const a of res.arms) {
      assert.equal(cells.get(`arms.${a.index}.state`)?.value, a.state);
      const r = (await env.client.workflow.getHandle(a.id).result()) as ExperimentResult;
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
