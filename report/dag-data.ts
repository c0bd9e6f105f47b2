import {
  DagError,
  ExperimentSpec,
  STAGES,
  stageGraph,
  type DagStatus,
  type ExperimentResult,
  type StageGraph,
} from '../contracts';
import type { DagData } from './data';

/**
 * Graph nodes (stages, or named evaluations such as `evaluate.base`) in an order where each comes
 * after all it reads; ties in pipeline order, then by name.
 */
function topoOrder(needs: Record<string, string[]>): string[] {
  const rank = (n: string) => (STAGES as readonly string[]).indexOf(n.split('.')[0]!);
  const left = Object.keys(needs).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
  const order: string[] = [];
  while (left.length) {
    const i = left.findIndex((s) => (needs[s] ?? []).every((n) => !left.includes(n)));
    // A cycle cannot come from the workflow; draw what is left in pipeline order rather than fail.
    order.push(...left.splice(i < 0 ? 0 : i, 1));
  }
  return order;
}

/** The graph of the spec an experiment was started with; undefined when it does not parse. */
function specGraph(input: unknown): StageGraph | undefined {
  const spec = ExperimentSpec.safeParse(input);
  if (!spec.success) return undefined;
  try {
    return stageGraph(spec.data);
  } catch (e) {
    if (e instanceof DagError) return undefined;
    throw e;
  }
}

/**
 * The experiment's DAG for the report: the stages each stage read from and what happened to each,
 * from `result.dag` (recorded by the run), else from the spec the run was started with (`specInput`,
 * runs from before the DAG), each stage's status then being its outcome. What each edge carries
 * (`tasks`, `manifests`, ...) comes from the spec when it can be read. Undefined when neither the
 * result nor the spec gives a graph.
 */
export function dagData(result: ExperimentResult, specInput?: unknown): DagData | undefined {
  const graph = specInput === undefined ? undefined : specGraph(specInput);
  const what = (from: string, to: string) => graph?.edges.find((e) => e.from === from && e.to === to)?.what ?? [];
  if (result.dag) {
    const needs = result.dag.needs;
    const order = topoOrder(needs);
    return {
      from: 'result',
      nodes: order.map((stage) => ({
        stage,
        status: result.dag!.status[stage] ?? 'not_started',
        needs: needs[stage] ?? [],
      })),
      edges: order.flatMap((to) => (needs[to] ?? []).map((from) => ({ from, to, what: what(from, to) }))),
    };
  }
  if (!graph) return undefined;
  return {
    from: 'spec',
    nodes: graph.order.map((stage) => ({
      stage,
      status: (result.stages[stage]?.status ?? 'not_started') satisfies DagStatus,
      needs: graph.needs[stage] ?? [],
    })),
    edges: graph.edges.map((e) => ({ from: e.from, to: e.to, what: [...e.what] })),
  };
}
