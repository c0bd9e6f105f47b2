import { STAGES, type DagStatus, type StageName } from '../contracts';
import type { ExperimentProgress, StageStatus } from '../workflows/experiment';
import { describeTrainStage, type TrainStageProgress } from '../workflows/train-progress';

/** Done/total counts of one stage, with a unit and extra facts, from its own `progress` query. */
export interface StageCounts {
  done: number;
  /** Null when the stage does not know its total yet. */
  total: number | null;
  unit: string;
  extra: string[];
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The running train job in one phrase, e.g. `mt1 RUNNING 1m05s · step 120/1000 · loss 2.314 ·
 * 5,400 tok/s`: elapsed counts on from the job's start while it runs. Fields a worker of an older
 * version does not send are left out.
 */
export function trainJobPhrase(job: Record<string, unknown>, nowMs: number): string {
  const elapsed = num(job.elapsed);
  if (elapsed === null) return `${String(job.name)} ${String(job.state)}`;
  const p: TrainStageProgress = {
    name: String(job.name),
    state: String(job.state) as TrainStageProgress['state'],
    jobId: typeof job.jobId === 'string' ? job.jobId : null,
    elapsed,
    logTail: [],
    updatedAt: num(job.updatedAt),
    runningSince: num(job.runningSince),
    metrics: job.metrics && typeof job.metrics === 'object' ? (job.metrics as TrainStageProgress['metrics']) : null,
  };
  return describeTrainStage(p, nowMs);
}

/**
 * Reads done/total out of a stage's `progress` query result (workflows/mine.ts, build.ts, ...).
 * Null when the shape is unknown or empty. `nowMs` is the clock for live elapsed times.
 */
export function stageCounts(
  stage: StageName,
  d: Record<string, unknown> | undefined,
  nowMs = Date.now()
): StageCounts | null {
  if (!d) return null;
  switch (stage) {
    case 'mine': {
      const total = num(d.repos);
      if (total === null) return null;
      return {
        done: num(d.reposDone) ?? 0,
        total,
        unit: 'repositories',
        extra: [`${num(d.prsSeen) ?? 0} PRs`, `${num(d.samples) ?? 0} samples`],
      };
    }
    case 'build': {
      const total = num(d.candidates);
      if (total === null) return null;
      return { done: num(d.done) ?? 0, total, unit: 'tasks', extra: [`${num(d.validated) ?? 0} validated`] };
    }
    case 'rollout': {
      const total = num(d.rollouts);
      if (total === null) return null;
      return { done: num(d.done) ?? 0, total, unit: 'rollouts', extra: [`${num(d.passed) ?? 0} passed`] };
    }
    case 'mix': {
      const total = num(d.shards);
      if (total === null) return null;
      const reused = num(d.reused) ?? 0;
      // Shards are planned in the `plan` step: before it the total is unknown.
      const known = d.step !== 'clean' && d.step !== 'plan';
      return {
        done: (num(d.written) ?? 0) + reused,
        total: known ? total : null,
        unit: 'shards',
        extra: [...(typeof d.step === 'string' ? [d.step] : []), ...(reused ? [`${reused} reused`] : [])],
      };
    }
    case 'train': {
      if (!Array.isArray(d.stages)) return null;
      const jobs = d.stages as Record<string, unknown>[];
      const current = num(d.current);
      const job = current === null ? undefined : jobs[current];
      return {
        done: jobs.filter((j) => j.state === 'COMPLETED').length,
        total: jobs.length || null,
        unit: 'jobs',
        extra: job ? [trainJobPhrase(job, nowMs)] : [],
      };
    }
    case 'evaluate': {
      const total = num(d.runs);
      if (total === null) return null;
      const resolved = Array.isArray(d.resolved) ? d.resolved.length : 0;
      return {
        done: num(d.runsDone) ?? 0,
        total: total || null,
        unit: 'runs',
        extra: [...(typeof d.phase === 'string' ? [d.phase] : []), ...(resolved ? [`${resolved} scored`] : [])],
      };
    }
  }
}

/** A bar of `width` cells: filled for `fraction` (0..1), or all light when unknown (null). */
export function bar(fraction: number | null, width = 20): string {
  if (fraction === null) return '░'.repeat(width);
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/** Fraction shown for a stage: its counts while running, full once done, empty before. */
function fractionOf(status: StageStatus, c: StageCounts | null): number | null {
  if (status === 'completed' || status === 'cached') return 1;
  if (status === 'pending' || status === 'not_started') return 0;
  if (!c || c.total === null || c.total === 0) return status === 'failed' || status === 'cancelled' ? 0 : null;
  return c.done / c.total;
}

const DONE: readonly (StageStatus | undefined)[] = ['completed', 'cached'];

/**
 * How a stage's status reads, with the graph's reason when it has one: a pending stage names the
 * stages it still waits for, one that never started the stage it reads from that did not finish.
 */
function statusText(stage: StageName, p: ExperimentProgress): string {
  const status = p.stages[stage]!;
  const needs = p.needs?.[stage] ?? [];
  if (status === 'pending') {
    const waits = needs.filter((n) => !DONE.includes(p.stages[n]));
    return waits.length ? `waiting for ${waits.join(', ')}` : 'pending';
  }
  if (status === 'not_started') {
    const blocked = needs.filter((n) => !DONE.includes(p.stages[n]));
    const why = blocked.map((n) => `${n} ${(p.stages[n] ?? 'pending').replace('_', ' ')}`);
    return why.length ? `not started (${why.join(', ')})` : 'not started';
  }
  return status;
}

const STAGE_COL = Math.max(...STAGES.map((s) => s.length)) + 1;

/**
 * One line per enabled stage, e.g.
 * `mine     [██████████░░░░░░░░░░]  12/24 repositories · 340 samples  running`.
 * `details` holds each stage's last `progress` query result; `width` is the bar's width in cells;
 * `nowMs` is the clock for live elapsed times (a running train job's).
 */
export function renderProgress(
  p: ExperimentProgress,
  details: Partial<Record<StageName, Record<string, unknown>>>,
  width = 20,
  nowMs = Date.now()
): string[] {
  const lines: string[] = [];
  // Independent branches of the graph run side by side: say which, above their lines.
  const running = p.running ?? STAGES.filter((s) => p.stages[s] === 'running' || p.stages[s] === 'planning');
  if (running.length > 1) lines.push(`${running.length} stages running side by side: ${running.join(', ')}`);
  for (const stage of STAGES) {
    const status = p.stages[stage];
    if (status === undefined || status === 'skipped') continue;
    const c = stageCounts(stage, details[stage], nowMs);
    const counts = c
      ? [`${c.done}/${c.total ?? '?'} ${c.unit}`, ...c.extra].join(' · ')
      : status === 'running' || status === 'planning'
        ? '…'
        : '';
    lines.push(
      `${stage.padEnd(STAGE_COL)}[${bar(fractionOf(status, c), width)}]  ${counts ? `${counts}  ` : ''}${statusText(stage, p)}`
    );
  }
  return lines;
}

/** Where {@link ProgressPrinter} writes: one call per frame or line (a newline is appended). */
export interface ProgressPrinterOptions {
  /** Redraw in place with ANSI escapes (stderr is a terminal) or print changed lines only. */
  tty: boolean;
  write: (s: string) => void;
  /** Terminal width: lines are cut to it on a TTY so that a redraw never wraps. */
  columns?: number;
}

/**
 * Prints successive renderings: on a TTY it moves the cursor back over the previous frame and
 * redraws it; otherwise (CI, pipes) it prints only the lines that changed since the last frame.
 */
export class ProgressPrinter {
  private previous: string[] = [];

  constructor(private readonly opts: ProgressPrinterOptions) {}

  /** Shows one frame; nothing is written when it is the same as the previous one. */
  update(lines: string[]): void {
    if (!lines.length) return;
    if (lines.length === this.previous.length && lines.every((l, i) => l === this.previous[i])) return;
    if (this.opts.tty) {
      const cols = this.opts.columns;
      const cut = (l: string) => (cols && cols > 1 && l.length >= cols ? l.slice(0, cols - 1) : l);
      // Cursor up over the last frame, clear to the end of the screen, draw the new frame.
      const up = this.previous.length ? `\x1b[${this.previous.length}A\x1b[0J` : '';
      this.opts.write(up + lines.map((l) => `\x1b[2K${cut(l)}`).join('\n'));
    } else {
      for (const [i, l] of lines.entries()) if (l !== this.previous[i]) this.opts.write(`  ${l}`);
    }
    this.previous = lines;
  }
}

/** A stage's final status as the experiment's graph records it (memo `dag`, ExperimentResult.dag). */
export type FinalStatus = DagStatus;

/** Final statuses from the last `progress` answer, for runs without the memo `dag` (started before the DAG). */
export function finalFromProgress(p: ExperimentProgress): Partial<Record<StageName, FinalStatus>> {
  const map: Partial<Record<StageStatus, FinalStatus>> = {
    completed: 'ran',
    cached: 'cached',
    failed: 'failed',
    cancelled: 'cancelled',
    not_started: 'not_started',
    pending: 'not_started',
    planning: 'running',
    running: 'running',
  };
  const out: Partial<Record<StageName, FinalStatus>> = {};
  for (const s of STAGES) {
    const f = map[p.stages[s] ?? 'skipped'];
    if (f) out[s] = f;
  }
  return out;
}

/**
 * What a failed (or cancelled) experiment did with each stage, one line per stage in pipeline
 * order: `  build     failed`, `  rollout   not started (reads from build)`. Printed by `run
 * --wait` and `retry --wait` after the failure, so the user sees which stages ran, were cached,
 * failed or never started (and that a rerun takes the finished ones from the step cache).
 */
export function formatFinalStages(
  status: Partial<Record<string, FinalStatus>>,
  needs: Partial<Record<string, string[]>> = {}
): string[] {
  // Graph nodes are stages or named evaluations (`evaluate.base`): pipeline order, then by name.
  const rank = (n: string) => (STAGES as readonly string[]).indexOf(n.split('.')[0]!);
  const nodes = Object.keys(status)
    .filter((n) => status[n] !== undefined)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (!nodes.length) return [];
  const col = Math.max(STAGE_COL, ...nodes.map((n) => n.length + 1));
  const lines = nodes.map((s) => {
    const st = status[s]!;
    const blocked = (needs[s] ?? []).filter((n) => status[n] !== 'ran' && status[n] !== 'cached');
    const why = st === 'not_started' && blocked.length ? ` (reads from ${blocked.join(', ')})` : '';
    return `  ${s.padEnd(col)}${st.replace('_', ' ')}${why}`;
  });
  return ['stages:', ...lines];
}
