/**
 * When each stage of an experiment ran, from the experiment's workflow history, and what those
 * times say about its graph (`npm run bench -- dag`). Pure: no server calls.
 */
import type { Client } from '@temporalio/client';
import type { StageGraph } from '../contracts/dag';

/** A stage's child workflow as the experiment's history shows it, in ms from the experiment's start. */
export interface StageSpan {
  start: number;
  /** NaN while the history shows no event closing the child. */
  end: number;
}

/** Spans by stage (graph node). */
export type StageSpans = Partial<Record<string, StageSpan>>;

/** One event of a workflow history, as the client fetches it. */
export type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

/** A node of the experiment's graph. */
type Node = StageGraph['order'][number];

/** Milliseconds since the epoch of a protobuf timestamp from the server (`seconds` may be a Long). */
export function timestampMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  const s = t?.seconds as number | { toNumber(): number } | null | undefined;
  return (typeof s === 'object' && s ? s.toNumber() : Number(s ?? 0)) * 1000 + (t?.nanos ?? 0) / 1e6;
}

/**
 * The span of each of `stages`' child workflows (`<experimentId>/<stage>`) in the experiment's
 * history `events`: from its StartChildWorkflowExecutionInitiated event to the event that closed it
 * (completed, failed, cancelled, timed out, terminated), in ms from the history's first event.
 */
export function stageSpans(events: HistoryEvent[], experimentId: string, stages: readonly string[]): StageSpans {
  const t0 = timestampMs(events[0]?.eventTime);
  const stageOf = (workflowId: string | null | undefined): string | undefined => {
    const s = workflowId?.startsWith(`${experimentId}/`) ? workflowId.slice(experimentId.length + 1) : '';
    return stages.includes(s) ? s : undefined;
  };
  const out: StageSpans = {};
  for (const e of events) {
    const at = timestampMs(e.eventTime) - t0;
    const started = stageOf(e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId);
    if (started) out[started] = { start: at, end: NaN };
    const closed =
      e.childWorkflowExecutionCompletedEventAttributes ??
      e.childWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionCanceledEventAttributes ??
      e.childWorkflowExecutionTimedOutEventAttributes ??
      e.childWorkflowExecutionTerminatedEventAttributes;
    const stage = stageOf(closed?.workflowExecution?.workflowId);
    const span = stage === undefined ? undefined : out[stage];
    if (span) span.end = at;
  }
  return out;
}

/** Seconds two spans ran at the same time (0 when they did not, or one is missing or open). */
export function overlapS(a: StageSpan | undefined, b: StageSpan | undefined): number {
  if (!a || !b) return 0;
  const o = Math.min(a.end, b.end) - Math.max(a.start, b.start);
  return Number.isFinite(o) ? Math.max(0, o) / 1000 : 0;
}

/**
 * The graph's longest path with the stage times of `spans`, and the sum of those times: what the
 * stages take one after another, against the least the DAG could take with no contention.
 */
export function criticalPath(
  graph: StageGraph,
  spans: StageSpans
): { sumS: number; criticalS: number; stages: Node[] } {
  const dur = (s: Node) => {
    const span = spans[s];
    return span ? (span.end - span.start) / 1000 : NaN;
  };
  const finish = new Map<Node, { s: number; path: Node[] }>();
  for (const s of graph.order) {
    const needs: Node[] = graph.needs[s] ?? [];
    const before = needs.map((n) => finish.get(n)!).reduce((a, b) => (b.s > a.s ? b : a), { s: 0, path: [] });
    finish.set(s, { s: before.s + dur(s), path: [...before.path, s] });
  }
  const last = [...finish.values()].reduce((a, b) => (b.s > a.s ? b : a), { s: 0, path: [] });
  return { sumS: graph.order.reduce((a, s) => a + dur(s), 0), criticalS: last.s, stages: last.path };
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
