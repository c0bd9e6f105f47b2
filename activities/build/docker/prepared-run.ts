/**
 * A {@link runInContainer}-style run made ready before its turn: the container is created, its
 * files copied in (archive API), attached and started ahead of time, but its script is held behind
 * a gate on stdin, so nothing of it runs until {@link PreparedRun.run} releases it. The run ends
 * as soon as the script's end marker arrives on the output stream (its exit code travels with it),
 * without waiting for the container to exit; the container is removed by {@link PreparedRun.remove},
 * which a caller can leave off its critical path. Each prepared run is a fresh container of the
 * image; nothing is shared between runs.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { abortError, abortWait } from './abort';
import { putFiles } from './put-files';
import { OutputSink, runContainerSpec, settleRun, streamEnded, type RunOptions, type RunResult } from './run';

/** Prefix of the line the gate prints after the script: `<prefix> <token> <exit code>`. */
const END = '>>>>> bottega-end';

/**
 * PID 1 waits for one line (the release token) on stdin: end of input (the host went away) runs
 * nothing. The script gets /dev/null as stdin, as an unattached container does, stderr joined to
 * stdout; after it, the token and its exit status are printed on the same stream, which orders them
 * after all of the script's output.
 */
function gatedBash(script: string): string[] {
  return [
    'bash',
    '-c',
    'IFS= read -r t || exit 125; exec </dev/null; bash -lc "$1" 2>&1; rc=$?; printf "%s %s %d\\n" "$2" "$t" "$rc"; exit "$rc"',
    'bash',
    script,
    END,
  ];
}

/** Passes output on to the sink and watches for the end marker (which may be split across chunks). */
class EndWatch extends Writable {
  private tail = '';
  private readonly re: RegExp;

  constructor(
    private readonly sink: OutputSink,
    token: string,
    private readonly onEnd: (exitCode: number) => void
  ) {
    super();
    this.re = new RegExp(`${END} ${token} (\\d+)\\n`);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.sink.write(chunk);
    // latin1 maps bytes 1:1, so a multi-byte character split across chunks cannot hide the marker.
    this.tail = (this.tail + Buffer.from(chunk).toString('latin1')).slice(-256);
    const m = this.re.exec(this.tail);
    if (m) this.onEnd(Number(m[1]));
    cb();
  }
}

/** A created, started container whose script waits for {@link PreparedRun.run}. */
export interface PreparedRun {
  readonly containerId: string;
  /**
   * Releases the script and waits for its end (the marker), the container's exit, the timeout
   * (the container is killed) or the abort (the container is killed and removed, then the call
   * rejects with the signal's reason). Call once. The container stays until {@link remove}.
   */
  run(): Promise<RunResult>;
  /** Kills and removes the container (with its anonymous volumes); idempotent, never rejects. */
  remove(): Promise<void>;
}

/**
 * Creates and starts the container of `opts` with its files in place, its script held until
 * {@link PreparedRun.run}. Rejects with the signal's reason, having removed the container, when
 * `opts.signal` aborts before it starts; any other failure also removes it.
 */
export async function prepareRun(docker: Docker, opts: RunOptions): Promise<PreparedRun> {
  opts.signal?.throwIfAborted();
  const token = randomBytes(12).toString('hex');
  const container = await docker.createContainer({
    ...runContainerSpec(opts, gatedBash(opts.script)),
    AttachStdin: true,
    OpenStdin: true,
    StdinOnce: true,
  });
  let attached: { destroy?: () => void } | undefined;
  let removal: Promise<void> | undefined;
  // The attach connection is closed too (a prepared container removed without running still holds one).
  const remove = (): Promise<void> =>
    (removal ??= (attached?.destroy?.(), container.remove({ force: true, v: true })).then(
      () => {},
      () => {}
    ));
  const sink = new OutputSink(opts.maxOutputBytes ?? 8 * 1024 * 1024);
  let markEnd: (code: number) => void = () => {};
  const marked = new Promise<{ StatusCode: number; marker: true }>(
    (resolve) => (markEnd = (code) => resolve({ StatusCode: code, marker: true }))
  );
  let stream: NodeJS.ReadWriteStream & { destroy?: () => void };
  let ended: Promise<void>;
  try {
    await putFiles(container, opts.files ?? []);
    stream = (await container.attach({
      stream: true,
      hijack: true,
      stdin: true,
      stdout: true,
      stderr: true,
    })) as NodeJS.ReadWriteStream & { destroy?: () => void };
    attached = stream;
    ended = streamEnded(stream);
    const watch = new EndWatch(sink, token, markEnd);
    docker.modem.demuxStream(stream, watch, watch);
    // Cancelled while the container was being created: it is removed, never started.
    opts.signal?.throwIfAborted();
    await container.start();
  } catch (e) {
    await remove();
    throw e;
  }

  const run = async (): Promise<RunResult> => {
    const started = Date.now();
    const abort = abortWait(opts.signal);
    let timer: NodeJS.Timeout | undefined;
    try {
      opts.signal?.throwIfAborted();
      stream.write(`${token}\n`);
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), opts.timeoutMs)));
      const exited = container.wait() as Promise<{ StatusCode: number }>;
      exited.catch(() => {}); // left pending when the marker wins; settles when the container goes
      const outcome = await Promise.race([marked, exited, timeout, abort.aborted]);
      if (outcome === 'aborted') throw abortError(opts.signal);
      // Exited without the marker (killed, out of memory): the stream may still be flushing.
      const flushing = outcome !== 'timeout' && !('marker' in outcome) ? ended : null;
      const { exitCode, timedOut } = await settleRun(container, outcome, sink, opts.timeoutMs, flushing);
      const output = sink.text().replace(new RegExp(`${END} ${token} \\d+\\n`), '');
      return { exitCode, output, timedOut, durationMs: Date.now() - started, containerId: container.id };
    } catch (e) {
      // Aborted or failed: the container goes before the rejection.
      stream.destroy?.();
      await remove();
      throw e;
    } finally {
      clearTimeout(timer);
      abort.dispose();
      stream.destroy?.();
    }
  };
  return { containerId: container.id, run, remove };
}
