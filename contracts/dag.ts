import { STAGES, type StageName } from './spec';
import { hash53, stableJson } from './sweep-expand';

/**
 * The experiment as a DAG: which stage reads what. Pure (no I/O), so the CLI, the experiment
 * workflow and the sweep workflow compute the same graph from the same spec.
 */

/** One edge: `stage` reads `what` from `from`. */
export interface DagEdge {
  from: StageName;
  to: StageName;
  /** What is read, as the spec names it: `tasks`, `general`, `pass`, `manifests`, `checkpoint`, ... */
  what: string[];
}

/** The graph of an experiment's enabled stages, in a topological order (pipeline order among ties). */
export interface StageGraph {
  /** Enabled stages, each after everything it reads. */
  order: StageName[];
  /** Stages each stage reads from (direct dependencies), in pipeline order. */
  needs: Partial<Record<StageName, StageName[]>>;
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
  evaluate?: { tasks: object; model?: object | undefined } | undefined;
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
  const read = (to: StageName, from: StageName, what: string, path: string, fix: string) => {
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
  if (spec.evaluate) {
    if ('from' in spec.evaluate.tasks)
      read('evaluate', 'build', 'tasks', 'evaluate.tasks.from', 'add `build`, or give tasks.path');
    const m = spec.evaluate.model as { checkpoint?: string } | undefined;
    if (m?.checkpoint === 'train')
      read('evaluate', 'train', 'checkpoint', 'evaluate.model.checkpoint', 'add `train`, or name a model directory');
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
  const enabled = STAGES.filter((s) => spec[s] !== undefined);
  const needs: Partial<Record<StageName, StageName[]>> = {};
  for (const s of enabled) needs[s] = enabled.filter((f) => edges.some((e) => e.from === f && e.to === s));
  // Kahn's algorithm, taking the earliest ready stage in pipeline order each time.
  const order: StageName[] = [];
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

/** Every stage that reads, directly or not, from `stage`. */
export function dependentsOf(graph: StageGraph, stage: StageName): StageName[] {
  const out = new Set<StageName>();
  const visit = (s: StageName) => {
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
): Partial<Record<StageName, string>> {
  const graph = stageGraph(spec);
  const out: Partial<Record<StageName, string>> = {};
  const forced = new Set<StageName>();
  for (const stage of graph.order) {
    const needs = graph.needs[stage]!;
    if (spec.force.includes(stage) || needs.some((n) => forced.has(n))) forced.add(stage);
    const parts = [spec.store, stage, spec[stage], extra[stage] ?? null, needs.map((n) => out[n])];
    out[stage] = `${stage}:${hash53(stableJson(parts) + (forced.has(stage) ? `\0forced:${spec.id}` : ''))}`;
  }
  return out;
}

/** The graph as text: one line per stage with what it reads (`bottega graph`, `run --dry-run`). */
export function formatGraphText(graph: StageGraph): string {
  const lines = graph.order.map((s) => {
    const ins = graph.edges.filter((e) => e.to === s).map((e) => `${e.from}.${e.what.join('+')}`);
    return `${s.padEnd(9)}${ins.length ? `← ${ins.join(', ')}` : '(no stage inputs: starts at once)'}`;
  });
  const roots = graph.order.filter((s) => graph.needs[s]!.length === 0);
  if (roots.length > 1) lines.push(`run side by side from the start: ${roots.join(', ')}`);
  return lines.join('\n');
}

/** The graph as a Mermaid flowchart (`bottega graph --mermaid`); `label` adds text per node (status). */
export function formatGraphMermaid(graph: StageGraph, label: (s: StageName) => string = () => ''): string {
  const lines = ['flowchart LR'];
  for (const s of graph.order) {
    const l = label(s);
    lines.push(`  ${s}["${s}${l ? `<br/>${l.replace(/"/g, '#quot;')}` : ''}"]`);
  }
  for (const e of graph.edges) lines.push(`  ${e.from} -->|${e.what.join(', ')}| ${e.to}`);
  return lines.join('\n');
}
