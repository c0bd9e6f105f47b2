/**
 * Running commands in images: {@link runInContainer} for one-shot scripts in a fresh container (test
 * runs, validation) and {@link execInContainer} for commands in a long-lived one (the agent loop).
 */
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { putFiles, type ContainerFile } from './put-files';
import { abortError, abortWait } from './abort';

export interface RunLimits {
  /** CPU cores (fractional allowed). */
  cpus: number;
  memoryMb: number;
  /** Most processes/threads at once (fork-bomb guard). */
  pids: number;
}

export interface RunOptions {
  image: string;
  /** A bash script, run as `bash -lc script` (login shell: /etc/profile.d puts the venv on PATH). */
  script: string;
  timeoutMs: number;
  limits: RunLimits;
  /** Network access; off by default (`NetworkMode: none`). */
  network?: boolean;
  env?: Record<string, string>;
  /** Working directory (default: the image's, /testbed). */
  workdir?: string;
  /** Output beyond this is elided in the middle (default 8 MiB). */
  maxOutputBytes?: number;
  /**
   * Files placed in the container before it starts (archive API): patches and scripts of any size,
   * which must never travel in `script` (a command-line argument, limited to 128 KiB).
   */
  files?: readonly ContainerFile[];
  /**
   * Cancellation (an activity's `Context.current().cancellationSignal`): once aborted, no container
   * is created or started, and a running one is killed and removed at once; the call then rejects
   * with the signal's reason (Temporal's `CancelledFailure`).
   */
  signal?: AbortSignal;
  /** Labels added to the container's (`bottega.kind=run` is always set). */
  labels?: Record<string, string>;
}

export interface RunResult {
  /** The script's exit status; null when it timed out (the container was killed). */
  exitCode: number | null;
  /** stdout and stderr merged in the order the script wrote them (stderr is joined to stdout). */
  output: string;
  timedOut: boolean;
  durationMs: number;
  /** The (already removed) container's id. */
  containerId: string;
}

/**
 * Runs `script` in a fresh container with resource limits, no network unless asked, and a hard
 * timeout (the container is killed). The container is always removed.
 */
export async function runInContainer(docker: Docker, opts: RunOptions): Promise<RunResult> {
  opts.signal?.throwIfAborted();
  const started = Date.now();
  const sink = new OutputSink(opts.maxOutputBytes ?? 8 * 1024 * 1024);
  const container = await docker.createContainer(runContainerSpec(opts, mergedBash(opts.script)));
  let timedOut = false;
  let exitCode: number | null = null;
  const abort = abortWait(opts.signal);
  try {
    await putFiles(container, opts.files ?? []);
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const ended = streamEnded(stream);
    docker.modem.demuxStream(stream, sink, sink);
    // Cancelled while the container was being created: it is removed below, never started.
    opts.signal?.throwIfAborted();
    await container.start();

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), opts.timeoutMs)));
    const outcome = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, timeout, abort.aborted]);
    clearTimeout(timer);
    if (outcome === 'aborted') {
      // The finally block removes the container (force: killed first) before the rejection.
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw abortError(opts.signal);
    }
    ({ exitCode, timedOut } = await settleRun(container, outcome, sink, opts.timeoutMs, ended));
    (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  } finally {
    abort.dispose();
    await container.remove({ force: true, v: true }).catch(() => {});
  }
  return { exitCode, output: sink.text(), timedOut, durationMs: Date.now() - started, containerId: container.id };
}

/** Resolves when an attach stream has ended, closed or failed. */
export function streamEnded(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
}

/**
 * How a run ended once its race settled on the container's exit or the timeout: on the timeout the
 * container is killed and a note added to the output; on an exit the attach stream gets up to 2 s
 * to flush its last frames (`ended`; null when the output is known complete).
 */
export async function settleRun(
  container: Docker.Container,
  outcome: 'timeout' | { StatusCode: number },
  sink: OutputSink,
  timeoutMs: number,
  ended: Promise<void> | null
): Promise<{ exitCode: number | null; timedOut: boolean }> {
  if (outcome === 'timeout') {
    await container.kill().catch(() => {});
    sink.note(`\n[bottega] killed after ${timeoutMs} ms\n`);
    return { exitCode: null, timedOut: true };
  }
  if (ended) await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
  return { exitCode: outcome.StatusCode, timedOut: false };
}

/**
 * The engine's create request of a {@link runInContainer}-style container running `cmd`: limits,
 * network off unless asked, `bottega.kind=run` label. Shared with {@link prepareRun}.
 */
export function runContainerSpec(opts: RunOptions, cmd: string[]): Docker.ContainerCreateOptions {
  return {
    Image: opts.image,
    Cmd: cmd,
    Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(opts.workdir ? { WorkingDir: opts.workdir } : {}),
    Tty: false,
    AttachStdout: true,
    AttachStderr: true,
    Labels: { ...opts.labels, 'bottega.kind': 'run' },
    HostConfig: {
      NetworkMode: opts.network ? 'bridge' : 'none',
      NanoCpus: Math.round(opts.limits.cpus * 1e9),
      Memory: opts.limits.memoryMb * 1024 * 1024,
      MemorySwap: opts.limits.memoryMb * 1024 * 1024,
      PidsLimit: opts.limits.pids,
    },
  };
}

export interface ExecOptions {
  timeoutMs: number;
  env?: Record<string, string>;
  workdir?: string;
  maxOutputBytes?: number;
  /**
   * Cancellation: once aborted no exec starts, and a running one is detached at once (the call
   * rejects with the signal's reason). The command itself ends with its container, which the
   * caller removes on abort.
   */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Exit status; 124 or 137 after a timeout (coreutils `timeout`), null if it never reported one. */
  exitCode: number | null;
  output: string;
  timedOut: boolean;
  durationMs: number;
}

/**
 * Runs `cmd` through bash in a running container (the exec API), stdout and stderr merged. The
 * command runs under coreutils `timeout` (TERM, then KILL 2 s later), so a runaway command is
 * stopped inside the container; a host-side timer is the last resort.
 */
export async function execInContainer(
  container: Docker.Container,
  cmd: string,
  opts: ExecOptions
): Promise<ExecResult> {
  opts.signal?.throwIfAborted();
  const started = Date.now();
  const sink = new OutputSink(opts.maxOutputBytes ?? 8 * 1024 * 1024);
  const secs = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
  const exec = await container.exec({
    Cmd: ['timeout', '--kill-after=2', `${secs}s`, ...mergedBash(cmd)],
    AttachStdout: true,
    AttachStderr: true,
    Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(opts.workdir ? { WorkingDir: opts.workdir } : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  container.modem.demuxStream(stream, sink, sink);
  let hostTimeout = false;
  const abort = abortWait(opts.signal);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      hostTimeout = true;
      stream.destroy();
      resolve();
    }, opts.timeoutMs + 10_000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
    void abort.aborted.then(() => {
      stream.destroy();
      done();
    });
  });
  abort.dispose();
  opts.signal?.throwIfAborted();
  const info = await exec.inspect().catch(() => null);
  const exitCode = info?.ExitCode ?? null;
  const timedOut = hostTimeout || exitCode === 124 || (exitCode === 137 && Date.now() - started >= opts.timeoutMs);
  return { exitCode, output: sink.text(), timedOut, durationMs: Date.now() - started };
}

/**
 * `bash -lc script` with stderr joined to stdout at the file-descriptor level: the engine reads the
 * two pipes concurrently, so only one pipe keeps the script's own order of output.
 */
function mergedBash(script: string): string[] {
  return ['bash', '-c', 'exec bash -lc "$1" 2>&1', 'bash', script];
}

/** Collects output; beyond `max` bytes keeps the first and last halves. */
export class OutputSink extends Writable {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private dropped = 0;

  constructor(private readonly max: number) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.add(Buffer.from(chunk));
    cb();
  }

  note(text: string): void {
    this.add(Buffer.from(text));
  }

  text(): string {
    const parts = [...this.head];
    if (this.dropped > 0) parts.push(Buffer.from(`\n[... ${this.dropped} bytes elided ...]\n`));
    return Buffer.concat([...parts, ...this.tail]).toString('utf8');
  }

  private add(buf: Buffer): void {
    const half = Math.floor(this.max / 2);
    if (this.headBytes < half) {
      const take = buf.subarray(0, half - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      buf = buf.subarray(take.length);
    }
    if (buf.length === 0) return;
    this.tail.push(buf);
    this.tailBytes += buf.length;
    while (this.tailBytes > half && this.tail.length > 0) {
      const first = this.tail[0]!;
      const excess = this.tailBytes - half;
      if (first.length <= excess) {
        this.tail.shift();
        this.tailBytes -= first.length;
        this.dropped += first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailBytes -= excess;
        this.dropped += excess;
      }
    }
  }
}
