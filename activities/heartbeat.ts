import { Context } from '@temporalio/activity';

/**
 * Runs `work` while heartbeating `details()` every `everyMs`, so a long wait (a rate-limit
 * back-off, a slow server) keeps the activity alive and still receives cancellation. If the
 * activity is cancelled, this rejects at once with the cancellation instead of waiting for
 * `work` to notice.
 */
export async function withHeartbeats<T>(details: () => unknown, work: Promise<T>, everyMs = 5000): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(details());
  const timer = setInterval(() => ctx.heartbeat(details()), everyMs);
  try {
    return await Promise.race([work, ctx.cancelled]);
  } finally {
    clearInterval(timer);
  }
}
