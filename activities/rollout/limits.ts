import pLimit, { type LimitFunction } from 'p-limit';

/**
 * Process-wide limiters shared by every rollout a worker runs: model calls per endpoint, and the
 * rate of container starts (peers report the engine stalling when many containers start at once).
 */
const endpointLimits = new Map<string, LimitFunction>();

/** The limiter of model calls to `endpoint` (created with `concurrency` on first use). */
export function endpointLimit(endpoint: string, concurrency: number): LimitFunction {
  let l = endpointLimits.get(endpoint);
  if (!l) {
    l = pLimit(concurrency);
    endpointLimits.set(endpoint, l);
  }
  return l;
}

let nextStartAt = 0;

/** Waits for this worker's next container-start slot: at most `perSecond` starts a second. */
export async function containerStartSlot(perSecond: number, now: () => number = Date.now): Promise<void> {
  const gap = 1000 / perSecond;
  const t = now();
  const at = Math.max(t, nextStartAt);
  nextStartAt = at + gap;
  if (at > t) await new Promise((r) => setTimeout(r, at - t));
}
