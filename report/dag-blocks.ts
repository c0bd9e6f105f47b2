import type { Block } from './cells';
import type { ExperimentData } from './data';
import { dagChart, type DagNodeTiming } from './dag-svg';

/**
 * The experiment's stage graph: a drawing (HTML) and one sentence per edge (both formats, so the
 * Markdown report has the graph too). Nothing when the experiment has no graph data.
 */
export function dagBlocks(e: ExperimentData, chartId = ''): Block[] {
  const dag = e.dag;
  if (!dag?.nodes.length) return [];
  // Each stage's duration: that of the run that produced its result (the stages table's).
  const timing: Record<string, DagNodeTiming> = {};
  for (const s of e.stages)
    timing[s.stage] = { duration_ms: s.run?.duration_ms ?? null, producer: s.run?.workflowId ?? s.producer };
  const title = `Stage graph${dag.from === 'spec' ? ' (from the spec: this run predates recorded graphs)' : ''}`;
  const reads = dag.edges.map((x) => `${x.to} ← ${x.from}${x.what.length ? ` (${x.what.join(', ')})` : ''}`);
  const status = dag.nodes.map((n) => `${n.stage} ${n.status.replace('_', ' ')}`);
  return [
    { kind: 'chart', title, svg: dagChart({ id: `${chartId}dag`, title, dag, timing }) },
    {
      kind: 'para',
      text: `Graph: ${reads.length ? reads.join('; ') : 'no stage reads from another'}. Status: ${status.join(', ')}.`,
    },
  ];
}
