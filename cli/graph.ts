/**
 * `bottega graph SPEC`: the experiment's DAG (which stage reads what from which) as text, a Mermaid
 * flowchart or JSON, from the spec alone: nothing is started and no server is needed. `bottega run
 * SPEC --dry-run` prints the same text.
 */
import { DagError, formatGraphMermaid, formatGraphText, stageGraph, type ExperimentSpec } from '../contracts';
import { loadSpecFile } from './spec-file';

/** Output formats of `bottega graph`. */
export interface GraphFlags {
  mermaid?: boolean;
  json?: boolean;
}

/** The graph of a valid spec in the asked format, or the problems of a graph that cannot be drawn. */
export function graphOutput(
  spec: ExperimentSpec,
  flags: GraphFlags = {}
): { ok: true; text: string } | { ok: false; problems: DagError['problems'] } {
  let graph;
  try {
    graph = stageGraph(spec);
  } catch (e) {
    if (e instanceof DagError) return { ok: false, problems: e.problems };
    throw e;
  }
  if (flags.json) {
    const { order, needs, edges } = graph;
    return { ok: true, text: JSON.stringify({ order, needs, edges }, null, 2) };
  }
  if (flags.mermaid) return { ok: true, text: formatGraphMermaid(graph) };
  return { ok: true, text: formatGraphText(graph) };
}

/**
 * Loads and validates `file` as `bottega run` does, then prints its graph. Returns the exit code: 0,
 * or 2 with one `path: message` line per problem on stderr when the spec or its graph is invalid.
 */
export function graphCommand(
  file: string,
  flags: GraphFlags,
  io: { out: (s: string) => void; err: (s: string) => void }
): number {
  if (flags.json && flags.mermaid) {
    io.err('graph: give at most one of --json and --mermaid');
    return 2;
  }
  const loaded = loadSpecFile(file);
  const r = loaded.ok ? graphOutput(loaded.spec, flags) : loaded;
  if (!r.ok) {
    io.err(`${file}: invalid experiment spec`);
    for (const p of r.problems) io.err(`${p.path}: ${p.message}`);
    return 2;
  }
  io.out(r.text);
  return 0;
}

/**
 * What `bottega run SPEC --dry-run` prints: the experiment id, how its stages are scheduled, the
 * stages `--force`/`force` reruns, and its graph as text. Nothing is started.
 */
export function dryRunText(
  spec: ExperimentSpec
): { ok: true; text: string } | { ok: false; problems: DagError['problems'] } {
  const g = graphOutput(spec);
  if (!g.ok) return g;
  const head =
    `dry run: experiment ${spec.id} would run with schedule: ${spec.schedule}, on_failure: ${spec.on_failure}` +
    (spec.force.length ? `, forcing ${spec.force.join(', ')}` : '') +
    ' (nothing started)';
  return { ok: true, text: `${head}\n${g.text}` };
}
