import type { JobInfo, SlurmBackend } from './backend';
import { HURRY_MS, pollDelayMs, type PollCadence } from './cadence';
import { rootLogger } from '../logger';

export type { PollCadence } from './cadence';

interface Waiter {
  resolve: (info: JobInfo | null) => void;
  reject: (err: unknown) => void;
}

/** What the poller remembers of a job between rounds. */
interface Tracked {
  state: string;
  /** When the state last changed (or the job was first seen), ms. */
  changedAt: number;
  /** Poll every {@link HURRY_MS} until then (its monitor saw the exit-code file appear). */
  hurryUntil: number;
}

/**
 * One poll loop per cluster, shared by every monitor on this worker: each round is a single
 * `squeue`/`sacct` (or REST `jobs`) call for all jobs someone is waiting on. The wait between
 * rounds is the shortest {@link pollDelayMs} of those jobs: `initialMs` right after a state
 * change, growing with the time the state has lasted, up to `maxMs`. A new job, or
 * {@link hurry}, cuts the wait short.
 */
export class JobPoller {
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly tracked = new Map<string, Tracked>();
  private running = false;
  private wake: (() => void) | undefined;
  /** Poll rounds made (for tests and metrics). */
  rounds = 0;

  constructor(
    private readonly backend: SlurmBackend,
    private readonly cadence: PollCadence,
    private readonly now: () => number = Date.now
  ) {}

  /** The job's info at the next poll round; null when the scheduler no longer knows it. */
  next(jobId: string): Promise<JobInfo | null> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(jobId, list);
      // A job not seen before: poll now rather than after a backed-off interval.
      if (!this.tracked.has(jobId)) this.wake?.();
      if (!this.running) void this.loop();
    });
  }

  /**
   * Polls now, and every {@link HURRY_MS} for `forMs` or until the job's state changes: its end
   * or start is imminent (the exit-code file or the log appeared).
   */
  hurry(jobId: string, forMs = 30_000): void {
    const t = this.tracked.get(jobId);
    if (t) t.hurryUntil = this.now() + forMs;
    this.wake?.();
  }

  /** Stops tracking a job (its monitor finished). */
  forget(jobId: string): void {
    this.tracked.delete(jobId);
  }

  /** The wait after a round that polled `ids`. */
  private delayFor(ids: readonly string[]): number {
    const now = this.now();
    let ms = this.cadence.maxMs;
    for (const id of ids) {
      const t = this.tracked.get(id);
      if (!t) return this.cadence.initialMs;
      ms = Math.min(ms, t.hurryUntil > now ? HURRY_MS : pollDelayMs(now - t.changedAt, this.cadence));
    }
    return ms;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      // Let monitors that ask in the same turn of the event loop share the first call.
      await new Promise((r) => setImmediate(r));
      while (this.waiters.size) {
        const batch = new Map(this.waiters);
        this.waiters.clear();
        const ids = [...batch.keys()];
        try {
          const infos = await this.backend.poll(ids);
          this.rounds++;
          const now = this.now();
          for (const id of ids) {
            const info = infos.get(id) ?? null;
            const state = info?.state ?? 'GONE';
            const t = this.tracked.get(id);
            if (!t) this.tracked.set(id, { state, changedAt: now, hurryUntil: 0 });
            // A change ends the hurry, except into COMPLETING: the end is a moment away.
            else if (t.state !== state)
              Object.assign(t, { state, changedAt: now, hurryUntil: state === 'COMPLETING' ? t.hurryUntil : 0 });
            for (const w of batch.get(id)!) w.resolve(info);
          }
        } catch (err) {
          rootLogger.warn({ err, backend: this.backend.key, jobs: ids }, 'slurm poll failed');
          for (const list of batch.values()) for (const w of list) w.reject(err);
        }
        // Wait for the interval (a new job or a hurry cuts it short), then for anyone to ask again.
        const ms = this.delayFor(ids);
        await new Promise<void>((r) => {
          const t = setTimeout(r, ms);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.wake = undefined;
      }
    } finally {
      this.running = false;
    }
  }
}
