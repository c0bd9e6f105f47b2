/**
 * The train stage's live progress: the `progress` query's shape and its one-line rendering,
 * shared by the workflow (Web UI current details), `bottega run --wait` and `bottega logs`.
 * Pure: no Temporal or Node imports, so both workflow and CLI code may use it.
 */
import type { SlurmJobState, TrainLiveMetrics } from '../contracts';

/** Live state of one training stage. */
export interface TrainStageProgress {
  name: string;
  /** WAITING before submission, then the Slurm state. */
  state: SlurmJobState | 'WAITING';
  jobId: string | null;
  /** Seconds the job's current attempt has run, as of `updatedAt`. */
  elapsed: number;
  logTail: string[];
  /** Workflow time (epoch ms) of the monitor's last report; null before the first. */
  updatedAt: number | null;
  /** While RUNNING: when this attempt started (epoch ms, the report's time less its elapsed). */
  runningSince: number | null;
  /** The trainer's latest step, loss and tokens/s; null before its first step. */
  metrics: TrainLiveMetrics | null;
}

/** Live progress of the train stage. */
export interface TrainProgress {
  stages: TrainStageProgress[];
  /** Index of the running stage, null before the first and after the last. */
  current: number | null;
}

/** `45s`, `3m05s`, `1h02m`, `2d03h`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** `5,400`, `12.3k`, `1.25M`. */
function compact(n: number): string {
  if (n < 10_000) return Math.round(n).toLocaleString('en-US');
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

/** A loss with 4 significant digits (`2.314`, `0.01234`). */
const loss = (x: number) => (Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(4)).toString());

/** `step 120/1000 · loss 2.314 · 5,400 tok/s`; null without metrics. */
export function formatTrainMetrics(m: TrainLiveMetrics | null | undefined): string | null {
  if (!m) return null;
  return [
    `step ${m.step}${m.total_steps ? `/${m.total_steps}` : ''}`,
    ...(m.loss !== null ? [`loss ${loss(m.loss)}`] : []),
    ...(m.tokens_per_s !== null ? [`${compact(m.tokens_per_s)} tok/s`] : []),
  ].join(' · ');
}

/**
 * Seconds a stage's job has run at `nowMs`: counted on from `runningSince` while RUNNING, so a
 * reader sees the clock move between the monitor's reports; else as last reported.
 */
export function liveElapsed(p: Pick<TrainStageProgress, 'state' | 'elapsed' | 'runningSince'>, nowMs: number): number {
  if (p.state !== 'RUNNING' || p.runningSince === null || p.runningSince === undefined) return p.elapsed;
  return Math.max(p.elapsed, Math.floor((nowMs - p.runningSince) / 1000));
}

/** `mt1 RUNNING 1m05s · step 120/1000 · loss 2.314 · 5,400 tok/s` (job id with `withJob`). */
export function describeTrainStage(p: TrainStageProgress, nowMs: number, opts: { withJob?: boolean } = {}): string {
  const head = `${p.name}${opts.withJob && p.jobId ? ` (job ${p.jobId})` : ''} ${p.state}`;
  const ran = p.state === 'WAITING' || (p.state === 'PENDING' && !p.elapsed) ? null : liveElapsed(p, nowMs);
  return [head + (ran !== null ? ` ${formatSeconds(ran)}` : ''), formatTrainMetrics(p.metrics)]
    .filter(Boolean)
    .join(' · ');
}
