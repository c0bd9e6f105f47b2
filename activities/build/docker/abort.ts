/**
 * Cancellation helpers for the container runners: an activity passes its
 * `Context.current().cancellationSignal`, and whatever waits on a container races it.
 */

/** A promise that resolves to `'aborted'` when `signal` aborts, and a way to drop the listener. */
export interface AbortWait {
  /** Resolves when the signal aborts (at once when it already has); never settles without a signal. */
  aborted: Promise<'aborted'>;
  /** Removes the listener (call it when the wait is over, so signals do not pile up listeners). */
  dispose(): void;
}

/** Waits for `signal` to abort; without a signal the returned promise never settles. */
export function abortWait(signal: AbortSignal | undefined): AbortWait {
  if (!signal) return { aborted: new Promise<'aborted'>(() => {}), dispose: () => {} };
  let listener: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) return resolve('aborted');
    listener = () => resolve('aborted');
    signal.addEventListener('abort', listener, { once: true });
  });
  return {
    aborted,
    dispose: () => {
      if (listener) signal.removeEventListener('abort', listener);
    },
  };
}

/** What an aborted `signal` stands for: its reason (Temporal's `CancelledFailure`), else an `AbortError`. */
export function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}
