/** Poll cadence in milliseconds. */
export interface PollCadence {
  initialMs: number;
  maxMs: number;
}

/** The poll interval as a fraction of the time since a job's last state change. */
export const POLL_AGE_FRACTION = 0.1;
/** Interval while a job's end (or start) is imminent: its exit-code file or log appeared. */
export const HURRY_MS = 500;

/**
 * The wait before the next `squeue` poll of a job whose state last changed `sinceChangeMs` ago:
 * a tenth of that, between `initialMs` and `maxMs`. A job is so noticed ending within about 10%
 * of its run time (at most `maxMs` late), and a cluster of long jobs is polled rarely.
 */
export function pollDelayMs(sinceChangeMs: number, c: PollCadence): number {
  return Math.round(Math.min(c.maxMs, Math.max(c.initialMs, sinceChangeMs * POLL_AGE_FRACTION)));
}
