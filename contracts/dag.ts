import { evaluationsOf, type EvaluateSection } from './evaluate-stage';
import { STAGES, type StageName } from './spec';
import { hash53, stableJson } from './sweep-expand';

/**
 * The experiment as a DAG: which stage reads what. Pure (no I/O), so the CLI, the experiment
 * workflow and the sweep workflow compute the same graph from the same spec. A node is a stage
 * name, or `evaluate.<name>` for each of several named evaluations.
 */

/** A node of the graph: a stage, or `evaluate.<name>`. */
export type DagNode = string;

/** The stage a node runs (`evaluate.base` → `evaluate`). */
export function nodeStage(node: DagNode): StageName {
  return node.split('.')[0] as StageName;
}

/** One edge: `to` reads `what` from `from`. */
export interface DagEdge {
  from: DagNode;
  to: DagNode;
  /** What is read, as the spec names it: `tasks`, `general`, `pass`, `manifests`, `checkpoint`, ... */
  what: string[];
}

/** The graph of an experiment's nodes, in a topological order (pipeline order among ties). */
export interface StageGraph {
  /** The nodes, each after everything it reads. */
  order: DagNode[];
  /** Nodes each node reads from (direct dependencies), in pipeline order. */
  needs: Record<DagNode, DagNode[]>;
  edges: DagEdge[];
}

/** A spec problem of the graph: the spec path at fault and what to do. */
export interface DagProblem {
  path: string;
  message: string;
}

/** The parts of a spec the graph depends on (a parsed ExperimentSpec satisfies it). */
export interface DagSpec {
  mine?: { formats: readonly string[]; task_candidates?: boolean } | undefined;
  build?: { tasks: { from_mine: boolean } } | undefined;
  rollout?: unknown;
  mix?: { sources: readonly { from?: string | undefined }[] } | undefined;
  train?: unknown;
  evaluate?: EvaluateSection | undefined;
}

/** The nodes of a spec in pipeline order: its stages, with `evaluate` expanded to its evaluations. */
export function dagNodes(spec: DagSpec): DagNode[] {
  return STAGES.flatMap((s) =>
    s === 'evaluate' ? evaluationsOf(spec.evaluate).map((e) => e.node) : spec[s] === undefined ? [] : [s]
  );
}

/** The config of a node: the stage's section, or the named evaluation's config (without its name). */
export function nodeConfig(spec: DagSpec & Partial<Record<StageName, unknown>>, node: DagNode): unknown {
  const stage = nodeStage(node);
  if (stage !== 'evaluate') return spec[stage];
  return evaluationsOf(spec.evaluate).find((e) => e.node === node)?.config;
}

/** Error thrown by {@link stageGraph}: every problem, each naming its spec path. */
export class DagError extends Error {
  constructor(readonly problems: DagProblem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    this.name = 'DagError';
  }
}

/**
 * What each enabled stage reads, as edges, plus the problems of a reader whose producer is missing:
 * build ← mine (`build.tasks.from_mine`), rollout ← build, mix ← the stages its sources name in
 * `from`, train ← mix, evaluate ← build (`evaluate.tasks.from`) and train (`evaluate.model.checkpoint:
 * train`).
 */
export function stageEdges(spec: DagSpec): { edges: DagEdge[]; problems: DagProblem[] } {
  const edges = new Map<string, DagEdge>();
  const problems: DagProblem[] = [];
  const read = (to: DagNode, from: StageName, what: string, path: string, fix: string) => {
    if (spec[from] === undefined) {
      problems.push({
        path,
        message: `${to} reads ${what} from the ${from} stage, but the experiment has none (${fix})`,
      });
      return;
    }
    const k = `${from}>${to}`;
    const e = edges.get(k) ?? { from, to, what: [] };
    if (!e.what.includes(what)) e.what.push(what);
    edges.set(k, e);
  };
  if (spec.build?.tasks.from_mine)
    read('build', 'mine', 'tasks', 'build.tasks.from_mine', 'add `mine` with task_candidates, or list task files');
  if (spec.rollout !== undefined) read('rollout', 'build', 'tasks', 'rollout', 'add `build`');
  for (const [i, s] of (spec.mix?.sources ?? []).entries()) {
    if (!s.from) continue;
    const [from, what] = s.from.split('.') as [StageName, string];
    read('mix', from, what, `mix.sources.${i}.from`, 'add it, or use a path');
  }
  if (spec.train !== undefined) read('train', 'mix', 'manifests', 'train', 'add `mix`');
  for (const ev of evaluationsOf(spec.evaluate)) {
    if ('from' in ev.config.tasks)
      read(ev.node, 'build', 'tasks', `${ev.path}.tasks.from`, 'add `build`, or give tasks.path');
    const m = ev.config.model;
    if (m && 'checkpoint' in m && m.checkpoint === 'train')
      read(ev.node, 'train', 'checkpoint', `${ev.path}.model.checkpoint`, 'add `train`, or name a model directory');
  }
  return { edges: [...edges.values()], problems };
}

/**
 * The experiment's graph. Throws {@link DagError} naming the spec path of every reader whose
 * producer is missing, and of every stage on a cycle.
 */
export function stageGraph(spec: DagSpec): StageGraph {
  const { edges, problems } = stageEdges(spec);
  if (problems.length) throw new DagError(problems);
  const enabled = dagNodes(spec);
  const needs: Record<DagNode, DagNode[]> = {};
  for (const s of enabled) needs[s] = enabled.filter((f) => edges.some((e) => e.from === f && e.to === s));
  // Kahn's algorithm, taking the earliest ready node in pipeline order each time.
  const order: DagNode[] = [];
  const left = new Set(enabled);
  while (left.size) {
    const next = enabled.find((s) => left.has(s) && needs[s]!.every((n) => !left.has(n)));
    if (!next) {
      throw new DagError(
        [...left].map((s) => ({
          path: s,
          message: `is on a dependency cycle (${s} reads ${needs[s]!.filter((n) => left.has(n)).join(', ')})`,
        }))
      );
    }
    order.push(next);
    left.delete(next);
  }
  return { order, needs, edges };
}

/** Every node that reads, directly or not, from `stage`. */
export function dependentsOf(graph: StageGraph, stage: DagNode): DagNode[] {
  const out = new Set<DagNode>();
  const visit = (s: DagNode) => {
    for (const d of graph.order)
      if (!out.has(d) && graph.needs[d]!.includes(s)) {
        out.add(d);
        visit(d);
      }
  };
  visit(stage);
  return graph.order.filter((s) => out.has(s));
}

/**
 * The signature of each enabled stage: equal signatures mean equal stage inputs (the stage's
 * config, the configs of the stages it reads from, transitively, and the store), so the step cache
 * serves one arm's result to another. `extra` adds inputs of a stage that are not a stage's output
 * (the build stage's local repositories). A forced stage, and every stage reading from it, gets a
 * signature of its own.
 */
export function dagSignatures(
  spec: { id: string; store: unknown; force: readonly StageName[] } & DagSpec & Partial<Record<StageName, unknown>>,
  extra: Partial<Record<StageName, unknown>> = {}
): Record<DagNode, string> {
  const graph = stageGraph(spec);
  const out: Record<DagNode, string> = {};
  const forced = new Set<DagNode>();
  for (const node of graph.order) {
    const needs = graph.needs[node]!;
    const stage = nodeStage(node);
    if (spec.force.includes(stage) || needs.some((n) => forced.has(n))) forced.add(node);
    const parts = [spec.store, node, nodeConfig(spec, node), extra[stage] ?? null, needs.map((n) => out[n])];
    out[node] = `${node}:${hash53(stableJson(parts) + (forced.has(node) ? `\0forced:${spec.id}` : ''))}`;
  }
  return out;
}

/** The graph as text: one line per stage with what it reads (`bottega graph`, `run --dry-run`). */
export function formatGraphText(graph: StageGraph): string {
  const width = Math.max(9, ...graph.order.map((s) => s.length + 1));
  const lines = graph.order.map((s) => {
    const ins = graph.edges.filter((e) => e.to === s).map((e) => `${e.from}.${e.what.join('+')}`);
    return `${s.padEnd(width)}${ins.length ? `← ${ins.join(', ')}` : '(no stage inputs: starts at once)'}`;
  });
  const roots = graph.order.filter((s) => graph.needs[s]!.length === 0);
  if (roots.length > 1) lines.push(`run side by side from the start: ${roots.join(', ')}`);
  return lines.join('\n');
}

/** The graph as a Mermaid flowchart (`bottega graph --mermaid`); `label` adds text per node (status). */
export function formatGraphMermaid(graph: StageGraph, label: (s: DagNode) => string = () => ''): string {
  // Mermaid ids cannot hold a dot: evaluate.base → evaluate_base (the label keeps the name)
  const id = (n: DagNode) => n.replace(/\./g, '_');
  const lines = ['flowchart LR'];
  for (const s of graph.order) {
    const l = label(s);
    lines.push(`  ${id(s)}["${s}${l ? `<br/>${l.replace(/"/g, '#quot;')}` : ''}"]`);
  }
  for (const e of graph.edges) lines.push(`  ${id(e.from)} -->|${e.what.join(', ')}| ${id(e.to)}`);
  return lines.join('\n');
}
