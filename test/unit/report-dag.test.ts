import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExperimentResult, ExperimentSpecInput, StageOutcome } from '../../contracts';
import type { ExperimentData, ReportData } from '../../report/data';
import { dagData } from '../../report/dag-data';
import { experimentData } from '../../report/experiment-data';
import { chart, reportSvgs, walk } from '../../report/inspect';
import { renderHtml, renderMarkdown } from '../../report/render';

/**
 * The report's drawing of the experiment's DAG: a box per stage with its status and the duration
 * of the run that produced it, an arrow per edge; from `ExperimentResult.dag`, or from the spec for
 * runs that predate it.
 */
const outcome = (status: 'ran' | 'cached', stage: string): StageOutcome => ({
  status,
  cacheKey: `key-${stage}`,
  producer: { workflowId: `exp-x/${stage}`, runId: `run-${stage}` },
  result: {},
});

/** A failed-branch experiment as the workflow records it: mine failed, build → rollout ran, mix never started. */
const RESULT: ExperimentResult = {
  experimentId: 'exp-x',
  stages: { build: outcome('ran', 'build'), rollout: outcome('cached', 'rollout') },
  dag: {
    needs: { mix: ['mine', 'rollout'], mine: [], rollout: ['build'], build: [] },
    status: { mine: 'failed', build: 'ran', rollout: 'cached', mix: 'not_started' },
  },
};

const SPEC: ExperimentSpecInput = {
  id: 'exp-x',
  mine: { sources: [{ type: 'github', repo: 'acme/widgets' }], formats: ['general'] },
  build: { tasks: { files: ['/tasks.jsonl'] } },
  rollout: { policy: 'replay-gold' },
  mix: {
    sources: [
      { name: 'g', from: 'mine.general' },
      { name: 'p', from: 'rollout.pass' },
    ],
    stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'g' }, { source: 'p' }] }],
  },
};

/** The report of `e`, rendered, and its DAG chart's stage boxes and arrows. */
function drawn(e: ExperimentData) {
  const d: ReportData = { kind: 'experiment', id: e.id, experiment: e, warnings: [] };
  const html = renderHtml(d);
  const svg = chart(reportSvgs(html), 'dag');
  assert.ok(svg, 'the report has a DAG chart');
  const nodes = walk(svg).filter((n) => n.attrs.class === 'stage');
  const edges = walk(svg).filter((n) => n.attrs.class === 'edge');
  return { html, md: renderMarkdown(d), svg, nodes, edges };
}

describe('report: the experiment DAG', () => {
  it('draws every stage with its status, duration and cache state, and an arrow per edge', async () => {
    const e = await experimentData(RESULT, () => Promise.reject(new Error('no reads')), []);
    e.dag = dagData(RESULT, SPEC); // as collect.ts does once it has read the spec
    const row = (s: string) => e.stages.find((r) => r.stage === s)!;
    const run = (id: string, ms: number) => ({
      workflowId: id,
      runId: 'r',
      start: '2025-01-01T00:00:00.000Z',
      close: new Date(Date.parse('2025-01-01T00:00:00.000Z') + ms).toISOString(),
      duration_ms: ms,
      url: 'http://ui.test/x',
    });
    row('build').run = run('exp-x/build', 125_000);
    row('rollout').run = run('exp-old/rollout', 3_723_000);
    const { nodes, edges, md } = drawn(e);
    // Boxes in the graph's order (mix after both branches), each with its status and duration.
    assert.deepEqual(
      nodes.map((n) => [n.attrs['data-stage'], n.attrs['data-status'], n.attrs['data-duration-ms']]),
      [
        ['mine', 'failed', undefined],
        ['build', 'ran', '125000'],
        ['rollout', 'cached', '3723000'],
        ['mix', 'not_started', undefined],
      ]
    );
    const texts = (stage: string) =>
      walk(nodes.find((n) => n.attrs['data-stage'] === stage)!)
        .filter((n) => n.tag === 'text')
        .map((n) => n.text);
    assert.deepEqual(texts('build'), ['build', 'ran', 'took 2m05s']);
    assert.deepEqual(texts('rollout'), ['rollout', 'cached', 'took 1h02m earlier']);
    assert.deepEqual(texts('mix'), ['mix', 'not started']);
    assert.deepEqual(
      edges.map((x) => [x.attrs['data-from'], x.attrs['data-to'], x.attrs['data-what']]),
      [
        ['build', 'rollout', 'tasks'],
        ['mine', 'mix', 'general'],
        ['rollout', 'mix', 'pass'],
      ]
    );
    // The Markdown report names the chart and states the graph in words.
    assert.match(md, /_Chart: Stage graph \(in the HTML report\)\._/);
    assert.ok(
      md.includes(
        'Graph: rollout ← build (tasks); mix ← mine (general); mix ← rollout (pass). Status: mine failed, build ran, rollout cached, mix not started.'
      ),
      md
    );
  });

  it('draws the graph from the spec for a run recorded before the DAG, statuses from its outcomes', async () => {
    const old: ExperimentResult = {
      experimentId: 'exp-old',
      stages: Object.fromEntries(['mine', 'build', 'rollout', 'mix'].map((s) => [s, outcome('ran', s)])),
    };
    const e = await experimentData(old, () => Promise.reject(new Error('no reads')), []);
    assert.equal(e.dag, undefined, 'no graph without result.dag or the spec');
    e.dag = dagData(old, SPEC);
    assert.equal(e.dag?.from, 'spec');
    const { nodes, edges, svg } = drawn(e);
    assert.deepEqual(
      nodes.map((n) => [n.attrs['data-stage'], n.attrs['data-status']]),
      ['mine', 'build', 'rollout', 'mix'].map((s) => [s, 'ran'])
    );
    assert.equal(edges.length, 3);
    assert.match(svg.attrs['aria-label']!, /from the spec/);
  });

  it('draws named evaluations (nodes evaluate.<name>) after what they read', () => {
    const dag = dagData({
      experimentId: 'exp-ev',
      stages: {},
      dag: {
        needs: { 'evaluate.sft': ['train'], 'evaluate.base': [], train: ['mix'], mix: [] },
        status: { 'evaluate.sft': 'ran', 'evaluate.base': 'cached', train: 'ran', mix: 'cached' },
      },
    });
    assert.deepEqual(
      dag?.nodes.map((n) => n.stage),
      ['mix', 'train', 'evaluate.base', 'evaluate.sft']
    );
    const e: ExperimentData = { id: 'exp-ev', stages: [], midtrain_tokens: null, dag: dag! };
    const { nodes } = drawn(e);
    assert.deepEqual(
      nodes.map((n) => [n.attrs['data-stage'], n.attrs['data-status']]),
      [
        ['mix', 'cached'],
        ['train', 'ran'],
        ['evaluate.base', 'cached'],
        ['evaluate.sft', 'ran'],
      ]
    );
  });

  it('uses the needs of result.dag alone when the spec cannot be read (arrows without labels)', () => {
    const dag = dagData(RESULT, { not: 'a spec' });
    assert.equal(dag?.from, 'result');
    assert.deepEqual(
      dag?.edges.map((x) => [x.from, x.to, x.what]),
      [
        ['build', 'rollout', []],
        ['mine', 'mix', []],
        ['rollout', 'mix', []],
      ]
    );
  });
});
