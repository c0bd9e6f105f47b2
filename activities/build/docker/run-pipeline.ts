/**
 * Hides container start-up and teardown behind other runs: the runs a caller will ask for are
 * announced in order, and while some run, the next `ahead` are prepared ({@link prepareRun}:
 * created, files copied in, started with the script held). When a run's turn comes its script is
 * released at once; when it ends its container is removed in the background, and {@link
 * RunPipeline.close} waits for every removal. Every run still gets a fresh container of its image.
 */
import { isDeepStrictEqual } from 'node:util';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { prepareRun, type PreparedRun } from './prepared-run';
import type { RunOptions, RunResult } from './run';

/** Options of {@link RunPipeline}. */
export interface RunPipelineOptions {
  /** Containers kept prepared beyond the running ones (0: each is prepared when its turn comes). */
  ahead: number;
  /**
   * Preparations in flight at once (default 2), in announced order: the next turn's container is
   * ready sooner than when all `ahead` compete for the engine at once.
   */
  preparing?: number;
  /** Once aborted nothing more is prepared, and prepared containers are killed and removed. */
  signal?: AbortSignal;
  logger?: Logger;
}

/** What the pipeline did, for benchmarks: milliseconds spent off the runs' critical path. */
export interface RunPipelineStats {
  /** Containers prepared (created + started). */
  prepared: number;
  /** Per prepared container: create, copy, attach and start. */
  prepareMs: number[];
  /** Per removed container: kill and removal, in the background. */
  removeMs: number[];
  /** Prepared containers removed without running (abort, close, changed options). */
  discarded: number;
}

interface Entry {
  key: string;
  opts: RunOptions;
  prepared: Promise<PreparedRun> | null;
}

/** A run's options as compared between announcement and turn (the signal is not part of them). */
const comparable = (o: RunOptions): Omit<RunOptions, 'signal'> => {
  const { signal: _signal, ...rest } = o;
  return rest;
};

/**
 * Runs containers prepared ahead of their turn. Announce the runs ({@link announce}) in the order
 * they will be asked for ({@link run}); a run asked for without an announcement, or with options
 * that differ from the announced ones, is prepared when asked. Call {@link close} before the
 * caller's work ends (also after an abort): it removes what was prepared and not run and waits for
 * the background removals.
 */
export class RunPipeline {
  private readonly queue: Entry[] = [];
  private readonly removals = new Set<Promise<void>>();
  private closed = false;
  private inFlight = 0;
  private readonly onAbort = (): void => this.discardQueued();
  readonly stats: RunPipelineStats = { prepared: 0, prepareMs: [], removeMs: [], discarded: 0 };

  constructor(
    private readonly docker: Docker,
    private readonly opts: RunPipelineOptions
  ) {
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Announces a coming run; it is prepared once fewer than `ahead` prepared runs wait. */
  announce(key: string, opts: RunOptions): void {
    if (this.closed) throw new Error('RunPipeline: announce after close');
    this.queue.push({ key, opts, prepared: null });
    this.pump();
  }

  /**
   * Runs `opts` (in the container prepared for `key` when it was announced with the same options),
   * then removes the container in the background. Rejects as {@link PreparedRun.run} does, and with
   * the signal's reason when aborted before the container started.
   */
  async run(key: string, opts: RunOptions): Promise<RunResult> {
    const i = this.queue.findIndex((e) => e.key === key);
    let entry = i >= 0 ? this.queue.splice(i, 1)[0] : undefined;
    if (entry && !isDeepStrictEqual(comparable(entry.opts), comparable(opts))) {
      this.opts.logger?.warn({ key }, 'run options changed since announced; preparing a new container');
      this.discard(entry);
      entry = undefined;
    }
    const prepared = entry?.prepared ?? this.prepare(opts);
    this.pump();
    const p = await prepared;
    try {
      return await p.run();
    } finally {
      this.track(p.remove());
    }
  }

  /** Removes the prepared containers not run and waits for every background removal. */
  async close(): Promise<void> {
    this.closed = true;
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.discardQueued();
    while (this.removals.size > 0) await Promise.all([...this.removals]);
  }

  private pump(): void {
    if (this.closed || this.opts.signal?.aborted) return;
    // Prepared entries are the queue's first ones (announced order), so this looks at `ahead` at most.
    let ready = 0;
    for (const e of this.queue) {
      if (ready >= this.opts.ahead) break;
      if (!e.prepared) {
        if (this.inFlight >= (this.opts.preparing ?? 2)) break;
        this.inFlight++;
        e.prepared = this.prepare(e.opts);
        void e.prepared.then(
          () => this.prepared(),
          () => this.prepared()
        );
      }
      ready++;
    }
  }

  /** A queued preparation settled: the next one may start. */
  private prepared(): void {
    this.inFlight--;
    this.pump();
  }

  private prepare(opts: RunOptions): Promise<PreparedRun> {
    const t0 = performance.now();
    const p = prepareRun(this.docker, opts);
    p.then(
      () => {
        this.stats.prepared++;
        this.stats.prepareMs.push(performance.now() - t0);
      },
      () => {} // reported to whoever runs it
    );
    return p;
  }

  private track(removal: Promise<void>): void {
    const t0 = performance.now();
    const r = removal.then(() => void this.stats.removeMs.push(performance.now() - t0));
    this.removals.add(r);
    void r.finally(() => this.removals.delete(r));
  }

  private discard(e: Entry): void {
    if (!e.prepared) return;
    this.track(
      e.prepared.then(
        (p) => {
          this.stats.discarded++;
          return p.remove();
        },
        () => {}
      )
    );
  }

  private discardQueued(): void {
    for (const e of this.queue.splice(0)) this.discard(e);
  }
}
