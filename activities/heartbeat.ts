import { Context } from '@temporalio/activity';

/**
 * Runs `work` while heartbeating `details()` every `everyMs`, so a long wait (a rate-limit
 * back-off, a slow server) keeps the activity alive and still receives cancellation. If the
 * activity is cancelled, this rejects with the cancellation instead of waiting for `work` to finish.
 *
 * `settleMs`: work that observes `Context.current().cancellationSignal` (containers killed and
 * removed on abort) gets up to this long to wind down before the rejection, so the activity reports
 * its cancellation only once what it started is gone. 0 (the default) rejects at once.
 */
export async function withHeartbeats<T>(
  details: () => unknown,
  work: Promise<T>,
  everyMs = 5000,
  settleMs = 0
): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(details());
  const timer = setInterval(() => ctx.heartbeat(details()), everyMs);
  try {
    return await Promise.race([work, ctx.cancelled]);
  } catch (err) {
    if (settleMs > 0 && ctx.cancellationSignal.aborted) await settled(work, settleMs);
    throw err;
  } finally {
    clearInterval(timer);
  }
}

/** Waits until `work` settles (either way) or `ms` pass, without keeping the process alive after. */
async function settled(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
