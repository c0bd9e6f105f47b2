import type { JobInfo, SlurmBackend } from './backend';
import { rootLogger } from '../logger';

/** Poll cadence in milliseconds. */
export interface PollCadence {
  initialMs: number;
  maxMs: number;
}

interface Waiter {
  resolve: (info: JobInfo | null) => void;
  reject: (err: unknown) => void;
}

/**
 * One poll loop per cluster, shared by every monitor on this worker: each round is a single
 * `squeue`/`sacct` (or REST `jobs`) call for all jobs someone is waiting on. The interval starts
 * at `initialMs`, doubles while no job changes state, up to `maxMs`, and drops back when a state
 * changes or a new job is watched.
 */
export class JobPoller {
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly lastState = new Map<string, string>();
  private intervalMs: number;
  private running = false;
  private wake: (() => void) | undefined;
  /** Poll rounds made (for tests and metrics). */
  rounds = 0;

  constructor(
    private readonly backend: SlurmBackend,
    private readonly cadence: PollCadence
  ) {
    this.intervalMs = cadence.initialMs;
  }

  /** The job's info at the next poll round; null when the scheduler no longer knows it. */
  next(jobId: string): Promise<JobInfo | null> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(jobId, list);
      if (!this.lastState.has(jobId)) {
        // A job not seen before: poll soon rather than after a backed-off interval.
        this.intervalMs = this.cadence.initialMs;
        this.wake?.();
      }
      if (!this.running) void this.loop();
    });
  }

  /** Stops tracking a job's last state (its monitor finished). */
  forget(jobId: string): void {
    this.lastState.delete(jobId);
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
        let changed = false;
        try {
          const infos = await this.backend.poll(ids);
          this.rounds++;
          for (const id of ids) {
            const info = infos.get(id) ?? null;
            const state = info?.state ?? 'GONE';
            if (this.lastState.get(id) !== state) changed = true;
            this.lastState.set(id, state);
            for (const w of batch.get(id)!) w.resolve(info);
          }
        } catch (err) {
          rootLogger.warn({ err, backend: this.backend.key, jobs: ids }, 'slurm poll failed');
          for (const list of batch.values()) for (const w of list) w.reject(err);
        }
        this.intervalMs = changed
          ? this.cadence.initialMs
          : Math.min(this.cadence.maxMs, Math.round(this.intervalMs * 2));
        // Wait for the interval (a new job cuts it short), then for anyone to ask again.
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.intervalMs);
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
