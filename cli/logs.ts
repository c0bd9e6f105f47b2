import { existsSync, readFileSync } from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { bottegaHome, stageLogPath } from '../activities/log-files';
import { quote } from './ls';
import { describeTrainStage, type TrainProgress } from '../workflows/train-progress';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type Failure = NonNullable<NonNullable<HistoryEvent['activityTaskFailedEventAttributes']>['failure']>;

/** One line of a stage's timeline, from workflow history. */
export interface TimelineEntry {
  time: string;
  /** Workflow id relative to the stage workflow: '' for the stage itself, else the child's suffix. */
  workflow: string;
  runId: string;
  eventId: number;
  level: 'info' | 'warn' | 'error';
  /** e.g. activity.scheduled, activity.failed, child.started, workflow.failed. */
  kind: string;
  text: string;
}

/** One worker-side structured log line (pino JSON). */
export interface LogLine {
  time: string;
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const LEVEL_RANK: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Rank of a level name (`--level`); throws on an unknown one. */
export function levelRank(name: string): number {
  const r = LEVEL_RANK[name];
  if (r === undefined) throw new Error(`--level: expected one of ${Object.keys(LEVEL_RANK).join(', ')}`);
  return r;
}

const toNum = (v: unknown): number =>
  typeof v === 'number'
    ? v
    : v && typeof (v as { toNumber?: unknown }).toNumber === 'function'
      ? (v as { toNumber(): number }).toNumber()
      : Number(v ?? 0);

function eventTime(e: HistoryEvent): string {
  const t = e.eventTime;
  return new Date(toNum(t?.seconds) * 1000 + Math.floor(toNum(t?.nanos) / 1e6)).toISOString();
}

/** A failure and its causes, outermost first, without repeats. */
export function failureMessage(f: Failure | null | undefined): string {
  const parts: string[] = [];
  for (let c = f; c; c = c.cause) if (c.message && !parts.includes(c.message)) parts.push(c.message);
  return parts.join(': ') || 'no message';
}

/**
 * The timeline of one workflow run: activities scheduled, retried (a started attempt > 1),
 * failed, timed out and completed; children started and how they ended; how the run ended.
 */
export function timelineFromHistory(history: History, workflow: string, runId: string): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const activities = new Map<number, string>();
  const attempts = new Map<number, number>();
  for (const e of history.events ?? []) {
    const base = { time: eventTime(e), workflow, runId, eventId: toNum(e.eventId) };
    const add = (kind: string, text: string, level: TimelineEntry['level'] = 'info') =>
      out.push({ ...base, kind, text, level });
    const act = (id: unknown) => activities.get(toNum(id)) ?? 'activity';
    const att = (id: unknown) => attempts.get(toNum(id)) ?? 1;
    if (e.workflowExecutionStartedEventAttributes) {
      const a = e.workflowExecutionStartedEventAttributes;
      add(
        'workflow.started',
        `workflow ${a.workflowType?.name ?? ''} started` +
          (a.continuedExecutionRunId ? ` (continued as new from run ${a.continuedExecutionRunId})` : '')
      );
    } else if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      activities.set(base.eventId, a.activityType?.name ?? 'activity');
      add('activity.scheduled', `activity ${a.activityType?.name ?? ''} scheduled (id ${a.activityId ?? ''})`);
    } else if (e.activityTaskStartedEventAttributes) {
      const a = e.activityTaskStartedEventAttributes;
      const attempt = a.attempt ?? 1;
      attempts.set(base.eventId, attempt);
      // Retries leave no events of their own: the started event carries the last attempt's number and failure.
      if (attempt > 1)
        add(
          'activity.retried',
          `activity ${act(a.scheduledEventId)} retried: attempt ${attempt}` +
            (a.lastFailure ? ` (previous attempt failed: ${failureMessage(a.lastFailure)})` : ''),
          'warn'
        );
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = e.activityTaskCompletedEventAttributes;
      add('activity.completed', `activity ${act(a.scheduledEventId)} completed (attempt ${att(a.startedEventId)})`);
    } else if (e.activityTaskFailedEventAttributes) {
      const a = e.activityTaskFailedEventAttributes;
      add(
        'activity.failed',
        `activity ${act(a.scheduledEventId)} failed (attempt ${att(a.startedEventId)}): ${failureMessage(a.failure)}`,
        'error'
      );
    } else if (e.activityTaskTimedOutEventAttributes) {
      const a = e.activityTaskTimedOutEventAttributes;
      add(
        'activity.timed_out',
        `activity ${act(a.scheduledEventId)} timed out (attempt ${att(a.startedEventId)}): ${failureMessage(a.failure)}`,
        'error'
      );
    } else if (e.activityTaskCanceledEventAttributes) {
      add(
        'activity.canceled',
        `activity ${act(e.activityTaskCanceledEventAttributes.scheduledEventId)} canceled`,
        'warn'
      );
    } else if (e.childWorkflowExecutionStartedEventAttributes) {
      const a = e.childWorkflowExecutionStartedEventAttributes;
      add('child.started', `child ${a.workflowExecution?.workflowId ?? ''} (${a.workflowType?.name ?? ''}) started`);
    } else if (e.startChildWorkflowExecutionFailedEventAttributes) {
      const a = e.startChildWorkflowExecutionFailedEventAttributes;
      add('child.start_failed', `child ${a.workflowId ?? ''} could not start (cause ${String(a.cause)})`, 'error');
    } else if (e.childWorkflowExecutionCompletedEventAttributes) {
      const a = e.childWorkflowExecutionCompletedEventAttributes;
      add('child.completed', `child ${a.workflowExecution?.workflowId ?? ''} completed`);
    } else if (e.childWorkflowExecutionFailedEventAttributes) {
      const a = e.childWorkflowExecutionFailedEventAttributes;
      add(
        'child.failed',
        `child ${a.workflowExecution?.workflowId ?? ''} failed: ${failureMessage(a.failure)}`,
        'error'
      );
    } else if (e.childWorkflowExecutionTimedOutEventAttributes) {
      const a = e.childWorkflowExecutionTimedOutEventAttributes;
      add('child.timed_out', `child ${a.workflowExecution?.workflowId ?? ''} timed out`, 'error');
    } else if (e.childWorkflowExecutionCanceledEventAttributes) {
      const a = e.childWorkflowExecutionCanceledEventAttributes;
      add('child.canceled', `child ${a.workflowExecution?.workflowId ?? ''} canceled`, 'warn');
    } else if (e.childWorkflowExecutionTerminatedEventAttributes) {
      const a = e.childWorkflowExecutionTerminatedEventAttributes;
      add('child.terminated', `child ${a.workflowExecution?.workflowId ?? ''} terminated`, 'error');
    } else if (e.workflowExecutionCompletedEventAttributes) {
      add('workflow.completed', 'workflow completed');
    } else if (e.workflowExecutionFailedEventAttributes) {
      add(
        'workflow.failed',
        `workflow failed: ${failureMessage(e.workflowExecutionFailedEventAttributes.failure)}`,
        'error'
      );
    } else if (e.workflowExecutionTimedOutEventAttributes) {
      add('workflow.timed_out', 'workflow timed out', 'error');
    } else if (e.workflowExecutionCanceledEventAttributes) {
      add('workflow.canceled', 'workflow canceled', 'warn');
    } else if (e.workflowExecutionTerminatedEventAttributes) {
      const a = e.workflowExecutionTerminatedEventAttributes;
      add('workflow.terminated', `workflow terminated${a.reason ? `: ${a.reason}` : ''}`, 'error');
    } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
      const a = e.workflowExecutionContinuedAsNewEventAttributes;
      add('workflow.continued_as_new', `workflow continued as new (run ${a.newExecutionRunId ?? ''})`);
    }
  }
  return out;
}

/** Children started in a history: workflow id and first run id. */
function childrenOf(history: History): { workflowId: string; runId: string }[] {
  return (history.events ?? []).flatMap((e) => {
    const x = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    return x?.workflowId && x.runId ? [{ workflowId: x.workflowId, runId: x.runId }] : [];
  });
}

/** The run a history continued as, if it did. */
const continuedAs = (history: History): string | null => {
  const events = history.events ?? [];
  return events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? null;
};

/** Options of {@link stageTimeline}. */
export interface TimelineOptions {
  /** Also the stage's child workflows (e.g. the mine stage's one per repository), at most this many (default 100). */
  maxChildren?: number;
}

/** What {@link stageTimeline} found. */
export interface StageTimeline {
  workflowId: string;
  /** Runs of the stage workflow itself, oldest first. */
  runs: { runId: string; status: string }[];
  entries: TimelineEntry[];
  /** Whether the latest run of the stage workflow is still open. */
  open: boolean;
  childrenLeftOut: number;
}

/**
 * The timeline of stage workflow `${experimentId}/${stage}`: every run of it (continued-as-new
 * and reruns, found through visibility, or the latest run when visibility lags), and the runs of
 * its child workflows (following continue-as-new in history), sorted by time. Null when the
 * stage workflow does not exist (the stage was cached, skipped or has not started).
 */
export async function stageTimeline(
  client: Client,
  experimentId: string,
  stage: string,
  opts: TimelineOptions = {}
): Promise<StageTimeline | null> {
  const workflowId = `${experimentId}/${stage}`;
  const runs: { runId: string; status: string; start: number }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = ${quote(workflowId)}` }))
    runs.push({ runId: w.runId, status: w.status.name.toLowerCase(), start: w.startTime.getTime() });
  let open: boolean;
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    open = d.status.name === 'RUNNING';
    if (!runs.some((r) => r.runId === d.runId))
      runs.push({ runId: d.runId, status: d.status.name.toLowerCase(), start: d.startTime.getTime() });
  } catch (e) {
    if ((e as Error).name === 'WorkflowNotFoundError' && !runs.length) return null;
    if ((e as Error).name !== 'WorkflowNotFoundError') throw e;
    open = false;
  }
  runs.sort((a, b) => a.start - b.start);

  const entries: TimelineEntry[] = [];
  const children: { workflowId: string; runId: string }[] = [];
  for (const r of runs) {
    const h = await client.workflow.getHandle(workflowId, r.runId).fetchHistory();
    entries.push(...timelineFromHistory(h, '', r.runId));
    children.push(...childrenOf(h));
  }
  const max = opts.maxChildren ?? 100;
  for (const c of children.slice(0, max)) {
    const name = c.workflowId.startsWith(`${workflowId}/`) ? c.workflowId.slice(workflowId.length + 1) : c.workflowId;
    // Follow the child's continue-as-new chain through its histories.
    for (let runId: string | null = c.runId, n = 0; runId && n < 1000; n++) {
      const h = await client.workflow.getHandle(c.workflowId, runId).fetchHistory();
      entries.push(...timelineFromHistory(h, name, runId));
      runId = continuedAs(h);
    }
  }
  entries.sort((a, b) => a.time.localeCompare(b.time) || (a.workflow === b.workflow ? a.eventId - b.eventId : 0));
  return {
    workflowId,
    runs: runs.map(({ runId, status }) => ({ runId, status })),
    entries,
    open,
    childrenLeftOut: Math.max(0, children.length - max),
  };
}

/** Parses pino JSON lines; lines that are not JSON are kept as their text. */
export function parseLogLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      try {
        const {
          level,
          time,
          msg,
          service: _s,
          experimentId: _e,
          stage: _st,
          pid: _p,
          hostname: _h,
          ...fields
        } = JSON.parse(l) as Record<string, unknown>;
        return {
          time: typeof time === 'number' ? new Date(time).toISOString() : String(time ?? ''),
          level: typeof level === 'number' ? (LEVELS[level] ?? String(level)) : String(level ?? 'info'),
          msg: typeof msg === 'string' ? msg : '',
          fields,
        };
      } catch {
        return { time: '', level: 'info', msg: l, fields: {} };
      }
    });
}

/** The worker-side log lines of an experiment's stage from this host's `$BOTTEGA_HOME` (null: no file). */
export function readStageLogs(
  home: string,
  experimentId: string,
  stage: string
): { path: string; lines: LogLine[] | null } {
  const path = stageLogPath(home, experimentId, stage);
  return { path, lines: existsSync(path) ? parseLogLines(readFileSync(path, 'utf8')) : null };
}

/** `12:03:04.123 WARN  [0-acme__lib] activity minePage failed ...` */
export function formatEntry(e: TimelineEntry): string {
  return `${e.time.slice(11, 23)} ${e.level.toUpperCase().padEnd(5)} ${e.workflow ? `[${e.workflow}] ` : ''}${e.text}`;
}

/** `12:03:04.123 INFO  page mined  activity=minePage repo=acme/lib` */
export function formatLogLine(l: LogLine): string {
  const fields = Object.entries(l.fields)
    .map(([k, v]) => {
      const s = typeof v === 'string' ? v : JSON.stringify(v);
      return `${k}=${s.length > 200 ? `${s.slice(0, 197)}...` : s}`;
    })
    .join(' ');
  return `${l.time.slice(11, 23)} ${l.level.toUpperCase().padEnd(5)} ${l.msg}${fields ? `  ${fields}` : ''}`;
}

/**
 * The train stage's live status from its `progress` query: one line per job submitted so far
 * (`mt1 (job 34) RUNNING 1m05s · step 120/1000 · loss 2.314 · 5,400 tok/s`).
 */
export function trainStatusLines(p: TrainProgress, nowMs: number): string[] {
  return p.stages.filter((s) => s.state !== 'WAITING').map((s) => describeTrainStage(s, nowMs, { withJob: true }));
}

/**
 * The lines of `next` (a log's last lines) not already shown in `prev` (its earlier last
 * lines): what follows the longest end of `prev` that `next` starts with. All of `next` when
 * they do not overlap (the log moved on by more than a tail, or was rewritten).
 */
export function newTailLines(prev: readonly string[], next: readonly string[]): string[] {
  for (let k = Math.min(prev.length, next.length); k > 0; k--) {
    let same = true;
    for (let j = 0; j < k && same; j++) same = prev[prev.length - k + j] === next[j];
    if (same) return next.slice(k);
  }
  return [...next];
}

/** Prints the train stage's live status (when it changed) and the job's new log lines. */
function printLive(
  out: (s: string) => void,
  status: string[],
  before: string[],
  tail: string[],
  jobId: string | null,
  once: boolean
): void {
  const time = new Date().toISOString().slice(11, 23);
  if (once) {
    out('');
    out('live progress (train workflow query):');
    for (const l of status) out(`  ${l}`);
    if (tail.length) out(`job ${jobId} log (last ${tail.length} lines):`);
    for (const l of tail) out(`  ${l}`);
    return;
  }
  for (const [i, l] of status.entries()) if (l !== before[i]) out(`${time} LIVE  ${l}`);
  for (const l of tail) out(`${time} JOB   [${jobId}] ${l}`);
}

/** The train stage's progress query, or null (closed, no worker, old version). */
async function trainProgress(client: Client, experimentId: string): Promise<TrainProgress | null> {
  const q = client.workflow.getHandle(`${experimentId}/train`).query<TrainProgress>('progress');
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 5000).unref());
  const p = await Promise.race([q.catch(() => null), timeout]);
  return p && Array.isArray(p.stages) ? p : null;
}

/** Arguments of `bottega logs`. */
export interface LogsArgs {
  id: string;
  stage: string;
  follow?: boolean;
  json?: boolean;
  /** Minimum level of timeline entries and log lines shown (default info... everything from trace). */
  level?: string;
  /** Where the log files are (default `$BOTTEGA_HOME`, else `.bottega`). */
  home?: string;
  /** Poll interval of --follow, ms (default 2000). */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `bottega logs ID STAGE`: the stage workflow's timeline, then the worker-side log lines from
 * this host's `$BOTTEGA_HOME/logs/experiments/<id>/<stage>.jsonl` (written on the host of the
 * worker that ran the stage). For a running train stage, also its live status from the
 * `progress` query (job state, elapsed time, step, loss, tokens/s) and the job log's last lines.
 * With `follow`, polls until the stage workflow closes, printing only what is new (as JSON lines
 * with `json`). Returns the exit code.
 */
export async function logsCommand(
  client: Client,
  args: LogsArgs,
  io: { out: (s: string) => void; err: (s: string) => void }
): Promise<number> {
  let min: number;
  try {
    min = args.level ? levelRank(args.level) : 0;
  } catch (e) {
    io.err((e as Error).message);
    return 2;
  }
  const home = args.home ?? bottegaHome();
  const seen = new Set<string>();
  let logCount = 0;
  let saidWaiting = false;
  let saidNoFile = false;
  let saidHeader = false;
  // The train stage's live status and job log lines last shown (--follow prints what changed).
  let lastStatus: string[] = [];
  let lastTail: { jobId: string | null; lines: string[] } = { jobId: null, lines: [] };
  for (;;) {
    const t = await stageTimeline(client, args.id, args.stage);
    const logs = readStageLogs(home, args.id, args.stage);
    const live = args.stage === 'train' && t?.open ? await trainProgress(client, args.id) : null;
    const now = Date.now();
    const status = live ? trainStatusLines(live, now) : [];
    const job = live && live.current !== null ? live.stages[live.current] : undefined;
    const jobTail = job ? newTailLines(lastTail.jobId === job.jobId ? lastTail.lines : [], job.logTail) : [];
    if (job) lastTail = { jobId: job.jobId, lines: job.logTail };
    if (!t && !args.follow) {
      io.err(
        `no stage workflow ${args.id}/${args.stage}: the stage was cached, is not in the spec, or has not started yet`
      );
      if (!logs.lines) return 1;
    }
    const entries = (t?.entries ?? []).filter((e) => LEVEL_RANK[e.level]! >= min);
    const fresh = entries.filter((e) => !seen.has(`${e.workflow}|${e.runId}|${e.eventId}`));
    for (const e of fresh) seen.add(`${e.workflow}|${e.runId}|${e.eventId}`);
    const lines = logs.lines ?? [];
    const newLines = lines.slice(logCount).filter((l) => (LEVEL_RANK[l.level] ?? 30) >= min);
    logCount = lines.length;

    if (args.json && !args.follow) {
      io.out(
        JSON.stringify(
          {
            workflowId: t?.workflowId ?? `${args.id}/${args.stage}`,
            runs: t?.runs ?? [],
            timeline: entries,
            logFile: logs.path,
            logLines: logs.lines && newLines,
            ...(live ? { progress: live } : {}),
          },
          null,
          2
        )
      );
      return 0;
    }
    if (args.json) {
      for (const e of fresh) io.out(JSON.stringify({ type: 'event', ...e }));
      for (const l of newLines) io.out(JSON.stringify({ type: 'log', ...l }));
      if (live && status.join('\n') !== lastStatus.join('\n'))
        io.out(JSON.stringify({ type: 'progress', time: new Date(now).toISOString(), ...live }));
    } else {
      if (t && !saidHeader) {
        io.out(`timeline of ${t.workflowId} (${t.runs.length} run${t.runs.length === 1 ? '' : 's'}):`);
        saidHeader = true;
      }
      for (const e of fresh) io.out(formatEntry(e));
      if (t?.childrenLeftOut) io.out(`(${t.childrenLeftOut} more child workflows not shown)`);
      if (!args.follow) io.out('');
      if (!logs.lines && !saidNoFile) {
        io.out(
          `no worker log file at ${logs.path} (log files are written on the host of the worker that ran the stage; set BOTTEGA_HOME or --home to where they are)`
        );
        saidNoFile = true;
      } else if (logs.lines && !args.follow) io.out(`worker log lines (${logs.path}):`);
      for (const l of newLines) io.out(formatLogLine(l));
      if (live) printLive(io.out, status, lastStatus, jobTail, job?.jobId ?? null, !args.follow);
    }
    lastStatus = status;
    if (!args.follow) return 0;
    if (!t) {
      // Not started yet: wait, unless the experiment itself has ended (then it never will).
      const exp = await client.workflow
        .getHandle(args.id)
        .describe()
        .catch(() => null);
      if (!exp || exp.status.name !== 'RUNNING') {
        io.err(`no stage workflow ${args.id}/${args.stage}, and experiment ${args.id} is not running`);
        return 1;
      }
      if (!saidWaiting) io.err(`waiting for stage workflow ${args.id}/${args.stage} to start...`);
      saidWaiting = true;
    } else if (!t.open) return 0;
    await sleep(args.pollMs ?? 2000);
  }
}
