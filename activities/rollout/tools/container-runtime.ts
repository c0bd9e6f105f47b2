/**
 * The rollout agent's tool runtime over ONE long-running container of a task's instance image:
 * no network, CPU/memory/pids limits, no Docker socket, an init process that reaps orphans, and
 * `sleep infinity` as its main process. Every tool call is an exec into it:
 * - `bash`: a fresh `bash -lc` per call in the workdir (so `cd` does not persist), under coreutils
 *   `timeout`; the exit status is reported and a timeout says so.
 * - `str_replace_editor`: SWE-agent's semantics ({@link StrReplaceEditor}); files are read and
 *   written through exec as base64, so any content round-trips.
 * - `submit`: the patch against the commit checked out when the runtime started, new files
 *   included (`git add -A`, `git diff --cached --text`, then the index is reset).
 *
 * If the container itself dies (or is removed), `call` throws {@link ToolEnvError}: the rollout
 * ends as an environment failure, not as something the model did. A command that merely fails
 * (OOM-killed, fork bomb hitting the pids limit) is an ordinary result with its exit status.
 */
import { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { execInContainer, type ExecResult } from '../../build/docker/run';
import { ROLLOUT_TOOLS } from './definitions';
import { StrReplaceEditor, type EditorFs } from './editor';
import { truncateMiddle } from './truncate';
import type { AgentToolCall, AgentToolResult, OpenAiTool, ToolRuntime } from './types';

export const ROLLOUT_LABEL = 'bottega.kind';
export const ROLLOUT_KIND = 'rollout';

export interface ContainerRuntimeOptions {
  image: string;
  limits: { cpus: number; memoryMb: number; pids: number };
  /** The agent never gets a network. */
  network: false;
  /** Per-call limit for `bash`. */
  commandTimeoutMs: number;
  /** Observations beyond this are truncated in the middle. */
  maxOutputChars: number;
  /** The repository root (default `/testbed`). */
  workdir?: string;
  labels?: Record<string, string>;
  /**
   * Cancellation (the activity's `cancellationSignal`): once aborted, no container is created or
   * started, the running one is removed at once (killing whatever runs in it), and tool calls
   * reject with the signal's reason instead of reporting an environment failure.
   */
  signal?: AbortSignal;
}

/** The sandbox itself failed (container gone, engine error): not the model's doing. */
export class ToolEnvError extends Error {
  override name = 'ToolEnvError';
}

/** A helper script failed while the container is fine (e.g. a read-only path): reported to the model. */
class HelperFailed extends Error {}

/** Internal file I/O runs under this limit, separate from the agent's command timeout. */
const IO_TIMEOUT_MS = 60_000;
/** Content passed per exec through an environment variable (below Linux's 128 KiB per-string limit). */
const CHUNK = 96 * 1024;
/** A marker line before machine-read output, so login-shell noise cannot corrupt it. */
/** A FIFO nobody writes: `read -t` on it is a sleep that needs no new process. */
const WAIT_FIFO = '/tmp/.bottega.wait';
const MARK = '__BOTTEGA_OUT__';

/** Creates and starts the container; the caller must `close()` the runtime. */
export async function startContainerRuntime(docker: Docker, opts: ContainerRuntimeOptions): Promise<ToolRuntime> {
  opts.signal?.throwIfAborted();
  const workdir = opts.workdir ?? '/testbed';
  const mem = opts.limits.memoryMb * 1024 * 1024;
  const container = await docker.createContainer({
    Image: opts.image,
    Entrypoint: ['sleep', 'infinity'],
    WorkingDir: workdir,
    Tty: false,
    NetworkDisabled: true,
    Labels: { ...opts.labels, [ROLLOUT_LABEL]: ROLLOUT_KIND },
    HostConfig: {
      NetworkMode: 'none',
      NanoCpus: Math.round(opts.limits.cpus * 1e9),
      Memory: mem,
      MemorySwap: mem,
      PidsLimit: opts.limits.pids,
      Init: true,
      Binds: [],
    },
  });
  const runtime = new ContainerRuntime(container, opts, workdir);
  try {
    // Cancelled while the container was being created: removed below, never started.
    opts.signal?.throwIfAborted();
    await container.start();
    await runtime.init();
  } catch (err) {
    await runtime.close();
    throw err;
  }
  return runtime;
}

class ContainerRuntime implements ToolRuntime {
  readonly tools: OpenAiTool[] = ROLLOUT_TOOLS;
  private readonly editor: StrReplaceEditor;
  private baseCommit = 'HEAD';
  private closed: Promise<void> | null = null;
  private calls = 0;
  /** Removes the container as soon as the signal aborts, even in the middle of a tool call. */
  private readonly onAbort = (): void => void this.close().catch(() => {});

  constructor(
    private readonly container: Docker.Container,
    private readonly opts: ContainerRuntimeOptions,
    private readonly workdir: string
  ) {
    const fs: EditorFs = {
      kind: async (path) => {
        const out = await this.machine(
          'if [ -d "$P" ]; then echo dir; elif [ -e "$P" ]; then echo file; else echo missing; fi',
          {
            P: path,
          }
        );
        const k = out.trim();
        return k === 'dir' || k === 'file' ? k : 'missing';
      },
      read: async (path) => {
        const out = await this.machine('base64 -w0 -- "$P"', { P: path });
        return Buffer.from(out.replace(/\s+/g, ''), 'base64').toString('utf8');
      },
      write: (path, content) => this.writeFile(path, content),
      listDir: async (path) =>
        (await this.machine('find "$P" -maxdepth 2 -not -path \'*/.*\' | sort', { P: path })).replace(/\n$/, ''),
    };
    this.editor = new StrReplaceEditor(fs);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (opts.signal?.aborted) this.onAbort();
  }

  /** Records the base commit (what `submit` diffs against). */
  async init(): Promise<void> {
    // The FIFO lets the process-group cleanup wait without forking (see killGroup).
    const head = (
      await this.machine(`mkfifo ${WAIT_FIFO} 2>/dev/null; git -C "$W" rev-parse HEAD 2>/dev/null || true`, {
        W: this.workdir,
      })
    ).trim();
    if (/^[0-9a-f]{40}$/.test(head)) this.baseCommit = head;
  }

  async call(c: AgentToolCall): Promise<AgentToolResult> {
    this.opts.signal?.throwIfAborted();
    if (this.closed) throw new ToolEnvError('the tool runtime is closed');
    const started = Date.now();
    const done = (output: string, exitCode: number | null, extra: Partial<AgentToolResult> = {}): AgentToolResult => ({
      output: truncateMiddle(output, this.opts.maxOutputChars),
      exitCode,
      timedOut: false,
      durationMs: Date.now() - started,
      ...extra,
    });
    switch (c.name) {
      case 'bash': {
        const command = c.arguments.command;
        if (typeof command !== 'string' || command.trim() === '') return done('Parameter `command` is required.', 1);
        // The command's processes share one process group (coreutils `timeout` leads it); its id is
        // recorded so whatever the command left behind (background jobs, a fork bomb) is killed after it.
        const pgFile = `/tmp/.bottega.pg.${++this.calls}`;
        const wrapped = `read -r _ _ _ _ __bottega_pg _ < /proc/$$/stat; echo "$__bottega_pg" > ${pgFile}; unset __bottega_pg\n${command}`;
        const r = await this.exec(wrapped, this.opts.commandTimeoutMs, Math.max(this.opts.maxOutputChars * 4, 1 << 16));
        if (r.exitCode === null) await this.assertRunning();
        await this.killGroup(pgFile);
        let output = r.output;
        if (r.timedOut) {
          output += `\n[bottega] The command took too long to execute (>${Math.round(this.opts.commandTimeoutMs / 1000)} s) and was killed.`;
        } else if (r.exitCode === 137) {
          output += '\n[bottega] The command was killed (exit 137: out of memory or SIGKILL).';
        }
        return { ...done(output, r.exitCode), timedOut: r.timedOut };
      }
      case 'str_replace_editor': {
        try {
          const r = await this.editor.run(c.arguments);
          return done(r.output, r.ok ? 0 : 1);
        } catch (err) {
          if (err instanceof HelperFailed) return done(`Error: ${err.message}`, 1);
          throw err;
        }
      }
      case 'submit': {
        let patch: string;
        try {
          patch = await this.diff();
        } catch (err) {
          if (err instanceof HelperFailed) throw new ToolEnvError(`cannot compute the patch: ${err.message}`);
          throw err;
        }
        return done('Your changes have been submitted.', 0, { submitted: { patch } });
      }
      default:
        return done(
          `Unknown tool ${JSON.stringify(c.name)}. The available tools are: ${this.tools.map((t) => t.function.name).join(', ')}.`,
          1
        );
    }
  }

  /** Throws ToolEnvError unless the container is still running. */
  private async assertRunning(): Promise<void> {
    const state = await this.container.inspect().then(
      (i) =>
        i.State.Running ? null : `not running (exit ${i.State.ExitCode}${i.State.OOMKilled ? ', OOM-killed' : ''})`,
      () => 'gone'
    );
    if (state) throw new ToolEnvError(`the sandbox container is ${state}`);
  }

  /**
   * Kills the process group recorded in `pgFile` until it is empty. Uses single-process execs
   * (no shell, no `timeout`), which still start when a fork bomb holds nearly all pids.
   */
  private async killGroup(pgFile: string): Promise<void> {
    // One exec (each costs tens of ms) that never forks inside its loop, since a fork bomb may hold
    // every pid the limit allows: read the group id with a builtin, SIGKILL the group until nothing
    // is left of it, and wait between rounds with `read -t` on a FIFO nobody writes (no `sleep`).
    const script = [
      `read -r pg < ${pgFile} 2>/dev/null`,
      'case "$pg" in ""|1|*[!0-9]*) exit 0;; esac',
      `exec 3<> ${WAIT_FIFO}`,
      'i=0',
      'while kill -KILL -- "-$pg" 2>/dev/null; do',
      '  i=$((i+1)); [ "$i" -ge 150 ] && break',
      '  read -r -t 0.1 -u 3 _',
      'done',
      `rm -f ${pgFile}`,
    ].join('\n');
    await this.raw(['bash', '-c', script]).catch(() => '');
  }

  /** Runs argv directly (one process); resolves with its output, rejects HelperFailed on a non-zero exit. */
  private async raw(argv: string[]): Promise<string> {
    const exec = await this.container.exec({ Cmd: argv, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
      },
    });
    this.container.modem.demuxStream(stream, sink, sink);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stream.destroy();
        resolve();
      }, 10_000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      stream.on('end', done);
      stream.on('close', done);
      stream.on('error', done);
    });
    const info = await exec.inspect();
    const out = Buffer.concat(chunks).toString('utf8');
    if (info.ExitCode !== 0) throw new HelperFailed(`exit ${String(info.ExitCode)}: ${out}`);
    return out;
  }

  /** The final patch: tracked changes and new (untracked, not ignored) files against the base commit. */
  private async diff(): Promise<string> {
    const script = [
      'cd "$W" || exit 1',
      'git add -A >/dev/null 2>&1',
      'git diff --cached --text "$B" > /tmp/.bottega.patch 2>/tmp/.bottega.err; rc=$?',
      'git reset -q >/dev/null 2>&1',
      '[ $rc -eq 0 ] || { cat /tmp/.bottega.err >&2; exit $rc; }',
      'base64 -w0 /tmp/.bottega.patch; rm -f /tmp/.bottega.patch /tmp/.bottega.err',
    ].join('\n');
    const out = await this.machine(script, { W: this.workdir, B: this.baseCommit });
    return Buffer.from(out.replace(/\s+/g, ''), 'base64').toString('utf8');
  }

  private async writeFile(path: string, content: string): Promise<void> {
    const b64 = Buffer.from(content, 'utf8').toString('base64');
    const tmp = `/tmp/.bottega.write.${process.pid}.${Date.now()}`;
    await this.machine('mkdir -p -- "$(dirname -- "$P")" && : > "$T"', { P: path, T: tmp });
    for (let i = 0; i < b64.length; i += CHUNK) {
      await this.machine('printf %s "$C" >> "$T"', { T: tmp, C: b64.slice(i, i + CHUNK) });
    }
    await this.machine('base64 -d "$T" > "$P"; rc=$?; rm -f "$T"; exit $rc', { P: path, T: tmp });
  }

  /**
   * Runs a helper script and returns its output (after a {@link MARK} line, so login-shell noise is dropped). Throws
   * HelperFailed when the script fails, ToolEnvError when the container cannot run it.
   */
  private async machine(script: string, env: Record<string, string>): Promise<string> {
    const r = await this.exec(`echo ${MARK}\n${script}`, IO_TIMEOUT_MS, 1 << 30, env);
    if (r.exitCode !== 0) {
      throw new HelperFailed(r.output.trim().slice(-2000) || `exit status ${String(r.exitCode)}`);
    }
    const at = r.output.indexOf(`${MARK}\n`);
    return at === -1 ? r.output : r.output.slice(at + MARK.length + 1);
  }

  private async exec(
    cmd: string,
    timeoutMs: number,
    maxOutputBytes: number,
    env?: Record<string, string>
  ): Promise<ExecResult> {
    try {
      return await execInContainer(this.container, cmd, {
        timeoutMs,
        workdir: this.workdir,
        maxOutputBytes,
        ...(env ? { env } : {}),
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      });
    } catch (err) {
      // Cancelled: not an environment failure; the container is already being removed.
      this.opts.signal?.throwIfAborted();
      const state = await this.container.inspect().then(
        (i) =>
          i.State.Running
            ? 'running'
            : `not running (exit ${i.State.ExitCode}${i.State.OOMKilled ? ', OOM-killed' : ''})`,
        () => 'gone'
      );
      throw new ToolEnvError(
        `cannot run in the sandbox container (${state}): ${err instanceof Error ? err.message : String(err)}`
      );
    }
  }

  close(): Promise<void> {
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.closed ??= this.container.remove({ force: true, v: true }).then(
      () => undefined,
      (err: { statusCode?: number }) => {
        if (err.statusCode === 404 || err.statusCode === 409) return; // gone, or removal already under way
        this.closed = null; // let a later close() retry
        throw err;
      }
    );
    return this.closed;
  }
}

/**
 * Removes leftover rollout containers (label `bottega.kind=rollout`, plus `labels` when given, to
 * narrow the sweep to one worker or test) created more than `olderThanMs` ago — after a worker
 * crash, nothing else would. Returns the removed ids.
 */
export async function sweepRolloutContainers(
  docker: Docker,
  olderThanMs = 0,
  labels: Record<string, string> = {}
): Promise<string[]> {
  const label = [`${ROLLOUT_LABEL}=${ROLLOUT_KIND}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
  const list = await docker.listContainers({ all: true, filters: { label } });
  const cutoff = Date.now() - olderThanMs;
  const removed: string[] = [];
  for (const c of list) {
    if (c.Created * 1000 > cutoff) continue;
    try {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
      removed.push(c.Id);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
  return removed;
}
