import type { TrainLiveMetrics } from '../../contracts';

/** Lines of the metrics JSONL read for a live snapshot. */
export const METRICS_TAIL_LINES = 50;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The trainer's latest step from the last lines of its metrics JSONL: step, loss, learning
 * rate and time from the newest step line (numeric `step`; `event` absent or `"step"`),
 * tokens/s averaged over the step lines given, total steps from a `start` line among them.
 * Torn and foreign lines are skipped. Null before the first step.
 */
export function liveMetrics(lines: readonly string[]): TrainLiveMetrics | null {
  const steps: Record<string, unknown>[] = [];
  let total: number | null = null;
  for (const line of lines) {
    let r: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) continue;
      r = parsed as Record<string, unknown>;
    } catch {
      continue; // the line being written, or not JSON
    }
    if (r.event === 'start') total = num(r.total_steps) ?? total;
    if (num(r.step) !== null && (r.event === undefined || r.event === 'step')) steps.push(r);
  }
  const last = steps.at(-1);
  if (!last) return null;
  const rates = steps.map((r) => num(r.tokens_per_s)).filter((x): x is number => x !== null);
  return {
    step: num(last.step)!,
    total_steps: total,
    loss: num(last.loss),
    tokens_per_s: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : null,
    lr: num(last.lr),
    time: num(last.time),
  };
}
