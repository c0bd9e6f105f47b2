/**
 * The host side of the rollout shell protocol ({@link SHELL_SERVER_SCRIPT}): one hijacked attach
 * stream per container (stdin for requests, stdout for replies), so a command costs one round trip
 * on an open connection instead of a `docker exec` (create, start, inspect: tens of ms each time).
 * Requests are serialized; output is kept up to a cap (first and last halves, like the exec sink did).
 */
import { Writable, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { rootLogger } from '../../logger';

const log = rootLogger.child({ component: 'rollout-shell' });

/** The channel is gone (container stopped or removed, stream broken, no answer): not the command's doing. */
export class ShellChannelClosed extends Error {
  override name = 'ShellChannelClosed';
}

export interface ShellRequest {
  /**
   * The bash script, run as `bash -lc script` in the container's working directory; a function
   * gets the path where {@link data} is stored.
   */
  script: string | ((dataPath: string) => string);
  /** Passed to coreutils `timeout` (whole seconds, at least 1). */
  timeoutS: number;
  /** Bytes stored in the container for the script (at the path `script` is given); removed after the call. */
  data?: Buffer;
  /** Output beyond this many bytes is elided in the middle. */
  maxOutputBytes: number;
}

export interface ShellReply {
  /** The exit status of `timeout … bash -lc script` (124 on timeout, 137 when SIGKILLed). */
  exitCode: number;
  /** Merged stdout and stderr, with a `[... N bytes elided ...]` line when over the cap. */
  output: Buffer;
}

interface Pending {
  id: number;
  head: string;
  tail: string[];
  tailChars: number;
  totalChars: number;
  capChars: number;
  resolve: (r: ShellReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Host-side slack over the command's own timeout: timeout's kill-after, the group kill loop, the drain. */
const REPLY_SLACK_MS = 25_000;

/** One container's shell server, attached before the container starts (so `#READY` is not missed). */
export class ShellChannel {
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: Pending | null = null;
  /** Text of the line being read when no output run is open (`#READY`, `#END …`). */
  private line = '';
  /** True while the current reply's base64 output run is being read. */
  private inOutput = false;
  private closedBy: Error | null = null;
  private readyWait: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private isReady = false;
  private stderrBytes = 0;

  private constructor(
    private readonly stream: Duplex,
    private readonly containerId: string
  ) {}

  /**
   * Attaches to `container` (created with `OpenStdin`, not yet started). Call {@link ready} after
   * starting it.
   */
  static async attach(container: Docker.Container): Promise<ShellChannel> {
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as unknown as Duplex;
    const ch = new ShellChannel(stream, container.id);
    const out = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        ch.onStdout(chunk.toString('latin1'));
        cb();
      },
    });
    const err = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        // The server's own complaints (commands' stderr goes to their output): logged, bounded.
        if (ch.stderrBytes < 8192)
          log.warn({ container: ch.containerId.slice(0, 12), stderr: chunk.toString('utf8') }, 'shell server stderr');
        ch.stderrBytes += chunk.length;
        cb();
      },
    });
    container.modem.demuxStream(stream, out, err);
    const gone = (why: string) => () => ch.fail(new ShellChannelClosed(why));
    stream.on('end', gone('the shell stream ended'));
    stream.on('close', gone('the shell stream closed'));
    stream.on('error', (e: Error) => ch.fail(new ShellChannelClosed(`the shell stream failed: ${e.message}`)));
    return ch;
  }

  /** Waits for the server's `#READY` line. */
  ready(timeoutMs: number): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.closedBy) return Promise.reject(this.closedBy);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new ShellChannelClosed(`the shell server did not start within ${timeoutMs} ms`)),
        timeoutMs
      );
      this.readyWait = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  /**
   * Runs one request after those already queued. Rejects {@link ShellChannelClosed} when the
   * channel breaks or the server gives no answer in time (the channel is then unusable).
   */
  run(req: ShellRequest): Promise<ShellReply> {
    const id = ++this.seq;
    const next = this.queue.then(() => this.send(id, req));
    this.queue = next.catch(() => {});
    return next;
  }

  /** Breaks the channel (pending and later requests reject with `err`). Idempotent. */
  fail(err: Error): void {
    if (this.closedBy) return;
    this.closedBy = err;
    this.readyWait?.reject(err);
    this.readyWait = null;
    const p = this.pending;
    this.pending = null;
    if (p) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.stream.destroy();
  }

  private send(id: number, req: ShellRequest): Promise<ShellReply> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const text = typeof req.script === 'string' ? req.script : req.script(`/tmp/.bottega/d.${id}`);
    const script = Buffer.from(text, 'utf8');
    const data = req.data ?? Buffer.alloc(0);
    const timeoutS = Math.max(1, Math.ceil(req.timeoutS));
    return new Promise<ShellReply>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.fail(
            new ShellChannelClosed(`the shell server gave no answer within ${timeoutS} s + ${REPLY_SLACK_MS / 1000} s`)
          ),
        timeoutS * 1000 + REPLY_SLACK_MS
      );
      // A multiple of 4 base64 characters on each side, so each half decodes on its own.
      const capChars = Math.max(8, Math.ceil(req.maxOutputBytes / 6) * 8);
      this.pending = { id, head: '', tail: [], tailChars: 0, totalChars: 0, capChars, resolve, reject, timer };
      this.inOutput = true;
      this.line = '';
      this.stream.write(
        Buffer.concat([Buffer.from(`${id} ${timeoutS} ${script.length} ${data.length}\n`), script, data])
      );
    });
  }

  private onStdout(text: string): void {
    let s = text;
    while (s.length > 0) {
      if (this.inOutput && this.pending) {
        const nl = s.indexOf('\n');
        this.collect(this.pending, nl === -1 ? s : s.slice(0, nl));
        if (nl === -1) return;
        this.inOutput = false;
        s = s.slice(nl + 1);
        continue;
      }
      const nl = s.indexOf('\n');
      if (nl === -1) {
        if (this.line.length < 4096) this.line += s;
        return;
      }
      const line = this.line + s.slice(0, nl);
      this.line = '';
      s = s.slice(nl + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (line === '#READY') {
      this.isReady = true;
      this.readyWait?.resolve();
      this.readyWait = null;
      return;
    }
    const m = /^#END (\d+) (\d+)$/.exec(line);
    const p = this.pending;
    if (!m || !p || Number(m[1]) !== p.id) {
      this.fail(
        new ShellChannelClosed(`the shell server sent an unexpected line: ${JSON.stringify(line.slice(0, 200))}`)
      );
      return;
    }
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve({ exitCode: Number(m[2]), output: decode(p) });
  }

  /** Keeps the first and last `capChars / 2` base64 characters of the output run. */
  private collect(p: Pending, chunk: string): void {
    if (chunk.length === 0) return;
    p.totalChars += chunk.length;
    const half = p.capChars / 2;
    let rest = chunk;
    if (p.head.length < half) {
      const take = half - p.head.length;
      p.head += rest.slice(0, take);
      rest = rest.slice(take);
    }
    if (rest.length === 0) return;
    p.tail.push(rest);
    p.tailChars += rest.length;
    if (p.tailChars > 2 * half) {
      const joined = p.tail.join('').slice(-half);
      p.tail = [joined];
      p.tailChars = joined.length;
    }
  }
}

/** The output as bytes: head, an elision note when characters were dropped, tail (aligned to base64 quanta). */
function decode(p: Pending): Buffer {
  const half = p.capChars / 2;
  let tail = p.tail.join('');
  if (p.totalChars <= p.capChars) return Buffer.from(p.head + tail, 'base64');
  tail = tail.slice(-half);
  // The tail's first character sits at offset totalChars - tail.length: drop up to 3 to start a quantum.
  const skip = (4 - ((p.totalChars - tail.length) % 4)) % 4;
  tail = tail.slice(skip);
  const dropped = p.totalChars - p.head.length - tail.length;
  return Buffer.concat([
    Buffer.from(p.head, 'base64'),
    Buffer.from(`\n[... ${Math.round((dropped * 3) / 4)} bytes elided ...]\n`),
    Buffer.from(tail, 'base64'),
  ]);
}
