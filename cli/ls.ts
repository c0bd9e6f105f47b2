import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { SA } from '../contracts';
import { formatSeconds } from '../workflows/train-progress';

/** Filters of `bottega ls`. */
export interface ListFilters {
  /** experiment, sweep, or all (both; the default). Stage children are never listed. */
  type?: 'experiment' | 'sweep' | 'all';
  /** ExperimentId search attribute. */
  id?: string;
  sweep?: string;
  /** running | completed | failed | canceled | terminated | timed_out | continued_as_new. */
  status?: string;
  baseModel?: string;
  datasetVersion?: string;
  /** EvalScore >= this. */
  minScore?: number;
  /** Raw visibility query, appended with AND. */
  query?: string;
  /** At most this many rows (default 50). */
  limit?: number;
}

/** One listed experiment or sweep. */
export interface Row {
  id: string;
  runId: string;
  type: 'experiment' | 'sweep';
  status: string;
  startTime: string;
  closeTime: string | null;
  durationMs: number;
  stage: string | null;
  baseModel: string | null;
  evalScore: number | null;
  sweepId: string | null;
}

const WORKFLOW_TYPES = { experiment: 'experimentWorkflow', sweep: 'sweepWorkflow' } as const;

/** ExecutionStatus values of the visibility query language, by the lower-case names `--status` takes. */
export const STATUSES: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  timed_out: 'TimedOut',
  continued_as_new: 'ContinuedAsNew',
};

/** A visibility-query string literal: single-quoted, quotes and backslashes escaped. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The visibility query for `filters`; throws with a message on a bad status, type or score. */
export function buildListQuery(f: ListFilters): string {
  const type = f.type ?? 'all';
  if (!['experiment', 'sweep', 'all'].includes(type)) throw new Error('--type: expected experiment, sweep or all');
  const parts = [
    type === 'all'
      ? `WorkflowType IN (${Object.values(WORKFLOW_TYPES).map(quote).join(', ')})`
      : `WorkflowType = ${quote(WORKFLOW_TYPES[type])}`,
  ];
  if (f.id !== undefined) parts.push(`${SA.ExperimentId.name} = ${quote(f.id)}`);
  if (f.sweep !== undefined) parts.push(`${SA.SweepId.name} = ${quote(f.sweep)}`);
  if (f.status !== undefined) {
    const s = STATUSES[f.status.toLowerCase().replace(/-/g, '_')];
    if (!s) throw new Error(`--status: expected one of ${Object.keys(STATUSES).join(', ')}`);
    parts.push(`ExecutionStatus = ${quote(s)}`);
  }
  if (f.baseModel !== undefined) parts.push(`${SA.BaseModel.name} = ${quote(f.baseModel)}`);
  if (f.datasetVersion !== undefined) parts.push(`${SA.DatasetVersion.name} = ${quote(f.datasetVersion)}`);
  if (f.minScore !== undefined) {
    if (!Number.isFinite(f.minScore)) throw new Error('--min-score: expected a number');
    parts.push(`${SA.EvalScore.name} >= ${String(f.minScore)}`);
  }
  if (f.query?.trim()) parts.push(`(${f.query})`);
  return parts.join(' AND ');
}

function toRow(w: WorkflowExecutionInfo, now: number): Row {
  const attrs = w.typedSearchAttributes;
  const end = w.closeTime?.getTime() ?? now;
  return {
    id: w.workflowId,
    runId: w.runId,
    type: w.type === WORKFLOW_TYPES.sweep ? 'sweep' : 'experiment',
    status: w.status.name.toLowerCase(),
    startTime: w.startTime.toISOString(),
    closeTime: w.closeTime?.toISOString() ?? null,
    durationMs: Math.max(0, end - w.startTime.getTime()),
    stage: attrs.get(SA.Stage) ?? null,
    baseModel: attrs.get(SA.BaseModel) ?? null,
    evalScore: attrs.get(SA.EvalScore) ?? null,
    sweepId: attrs.get(SA.SweepId) ?? null,
  };
}

/** Experiments and sweeps matching `filters`, newest first, at most `filters.limit` (default 50). */
export async function listExperiments(client: Client, filters: ListFilters = {}): Promise<Row[]> {
  const limit = filters.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit: expected a whole number >= 1');
  const query = buildListQuery(filters);
  const rows: Row[] = [];
  const now = Date.now();
  for await (const w of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    rows.push(toRow(w, now));
    if (rows.length >= limit) break;
  }
  return rows.sort((a, b) => b.startTime.localeCompare(a.startTime));
}

/** `1h02m`, `3m05s`, `12s`. */
export function formatDuration(ms: number): string {
  return formatSeconds(ms / 1000);
}

/** A text table: id, type, status, start time, duration, stage, base model, eval score. */
export function formatList(rows: Row[]): string {
  if (!rows.length) return 'no matching experiments or sweeps';
  const table = [
    ['ID', 'TYPE', 'STATUS', 'STARTED', 'DURATION', 'STAGE', 'BASE MODEL', 'EVAL SCORE'],
    ...rows.map((r) => [
      r.id,
      r.type,
      r.status,
      r.startTime.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      formatDuration(r.durationMs),
      r.stage ?? '-',
      r.baseModel ?? '-',
      r.evalScore === null ? '-' : r.evalScore.toFixed(3),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()
    )
    .join('\n');
}

/** `bottega ls`: prints the table (or JSON); returns the exit code (2 on a bad filter). */
export async function lsCommand(
  client: Client,
  args: ListFilters & { json?: boolean },
  io: { out: (s: string) => void; err: (s: string) => void }
): Promise<number> {
  let rows: Row[];
  try {
    buildListQuery(args);
  } catch (e) {
    io.err((e as Error).message);
    return 2;
  }
  try {
    rows = await listExperiments(client, args);
  } catch (e) {
    io.err(`bottega ls: ${(e as Error).message}`);
    return (e as Error).message.startsWith('--limit') ? 2 : 1;
  }
  io.out(args.json ? JSON.stringify(rows, null, 2) : formatList(rows));
  return 0;
}
