/**
 * The rollout agent's tool runtime over ONE long-running container of a task's instance image:
 * no network, CPU/memory/pids limits, no Docker socket, an init process that reaps orphans, and a
 * small bash shell server ({@link SHELL_SERVER_SCRIPT}) as its main process. Every tool call is one
 * request to that server over the container's attach stream (one round trip, no `docker exec`):
 * - `bash`: a fresh `bash -lc` per call in the workdir (so `cd` does not persist), under coreutils
 *   `timeout`, in a process group of its own that is killed after the call (background jobs, fork
 *   bombs); the exit status is reported and a timeout says so.
 * - `str_replace_editor`: SWE-agent's semantics ({@link StrReplaceEditor}); files are read and
 *   written through the same channel (content travels as raw bytes), so any content round-trips.
 * - `submit`: the patch against the commit checked out when the runtime started, new files
 *   included (`git add -A`, `git diff --cached --text`, then the index is reset).
 *
 * If the container itself dies (or is removed), `call` throws {@link ToolEnvError}: the rollout
 * ends as an environment failure, not as something the model did. A command that merely fails
 * (OOM-killed, fork bomb hitting the pids limit) is an ordinary result with its exit status.
 */
import type Docker from 'dockerode';
import { putFiles } from '../../build/docker/put-files';
import { ROLLOUT_TOOLS } from './definitions';
import { StrReplaceEditor, type EditorFs } from './editor';
import { ShellChannel, ShellChannelClosed, type ShellRequest } from './shell-channel';
import { SHELL_SERVER_PATH, SHELL_SERVER_SCRIPT } from './shell-server';
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
/** How long the shell server may take to start (image layers are already unpacked by create). */
const READY_TIMEOUT_MS = 30_000;
/** A marker line before machine-read output, so login-shell noise cannot corrupt it. */
const MARK = '__BOTTEGA_OUT__';

/** Creates and starts the container; the caller must `close()` the runtime. */
export async function startContainerRuntime(docker: Docker, opts: ContainerRuntimeOptions): Promise<ToolRuntime> {
  opts.signal?.throwIfAborted();
  const workdir = opts.workdir ?? '/testbed';
  const mem = opts.limits.memoryMb * 1024 * 1024;
  const container = await docker.createContainer({
    Image: opts.image,
    // The shell server reads requests from stdin, which stays open across attaches.
    Entrypoint: ['bash', SHELL_SERVER_PATH],
    WorkingDir: workdir,
    Tty: false,
    OpenStdin: true,
    StdinOnce: false,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
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
  let runtime: ContainerRuntime | null = null;
  try {
    await putFiles(container, [{ path: SHELL_SERVER_PATH, content: SHELL_SERVER_SCRIPT, mode: 0o755 }]);
    const shell = await ShellChannel.attach(container);
    runtime = new ContainerRuntime(container, shell, opts, workdir);
    // Cancelled while the container was being created: removed below, never started.
    opts.signal?.throwIfAborted();
    await container.start().catch((err: Error) => {
      // e.g. `exec: "bash": executable file not found`: an image the runtime cannot drive.
      throw new ShellChannelClosed(`the container did not start: ${err.message}`);
    });
    await runtime.init();
  } catch (err) {
    if (runtime) await runtime.close().catch(() => {});
    else await container.remove({ force: true, v: true }).catch(() => {});
    opts.signal?.throwIfAborted();
    if (err instanceof ShellChannelClosed || err instanceof HelperFailed) {
      throw new ToolEnvError(
        `the sandbox shell did not start in image ${opts.image} (its shell server needs bash and coreutils in the image): ${err.message}`
      );
    }
    throw err;
  }
  return runtime;
}

class ContainerRuntime implements ToolRuntime {
  readonly tools: OpenAiTool[] = ROLLOUT_TOOLS;
  private readonly editor: StrReplaceEditor;
  private baseCommit = 'HEAD';
  private closed: Promise<void> | null = null;
  /** Removes the container as soon as the signal aborts, even in the middle of a tool call. */
  private readonly onAbort = (): void => {
    this.shell.fail(new ShellChannelClosed('cancelled'));
    void this.close().catch(() => {});
  };

  constructor(
    private readonly container: Docker.Container,
    private readonly shell: ShellChannel,
    private readonly opts: ContainerRuntimeOptions,
    private readonly workdir: string
  ) {
    const fs: EditorFs = {
      kind: async (path) => {
        const out = await this.machine(
          'if [ -d "$P" ]; then echo dir; elif [ -e "$P" ]; then echo file; else echo missing; fi',
          { P: path }
        );
        const k = out.toString('utf8').trim();
        return k === 'dir' || k === 'file' ? k : 'missing';
      },
      read: async (path) => (await this.machine('cat -- "$P"', { P: path })).toString('utf8'),
      write: async (path, content) => {
        await this.machine(
          // No data file is sent for empty content.
          'mkdir -p -- "$(dirname -- "$P")" && if [ -e "$DATA" ]; then cat -- "$DATA" > "$P"; else : > "$P"; fi',
          { P: path },
          Buffer.from(content, 'utf8')
        );
      },
      listDir: async (path) =>
        (await this.machine('find "$P" -maxdepth 2 -not -path \'*/.*\' | sort', { P: path }))
          .toString('utf8')
          .replace(/\n$/, ''),
    };
    this.editor = new StrReplaceEditor(fs);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (opts.signal?.aborted) this.onAbort();
  }

  /** Waits for the shell server and records the base commit (what `submit` diffs against). */
  async init(): Promise<void> {
    await this.shell.ready(READY_TIMEOUT_MS);
    const head = (await this.machine('git -C "$W" rev-parse HEAD 2>/dev/null || true', { W: this.workdir }))
      .toString('utf8')
      .trim();
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
        // The server runs the command in its own process group and kills what is left of it afterwards.
        const r = await this.exec({
          script: command,
          timeoutS: Math.max(1, Math.ceil(this.opts.commandTimeoutMs / 1000)),
          maxOutputBytes: Math.max(this.opts.maxOutputChars * 4, 1 << 16),
        });
        const durationMs = Date.now() - started;
        const timedOut = r.exitCode === 124 || (r.exitCode === 137 && durationMs >= this.opts.commandTimeoutMs);
        let output = r.output.toString('utf8');
        if (timedOut) {
          output += `\n[bottega] The command took too long to execute (>${Math.round(this.opts.commandTimeoutMs / 1000)} s) and was killed.`;
        } else if (r.exitCode === 137) {
          output += '\n[bottega] The command was killed (exit 137: out of memory or SIGKILL).';
        }
        return { ...done(output, r.exitCode), timedOut };
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

  /** The final patch: tracked changes and new (untracked, not ignored) files against the base commit. */
  private async diff(): Promise<string> {
    const script = [
      'cd "$W" || exit 1',
      'git add -A >/dev/null 2>&1',
      'git diff --cached --text "$B" > /tmp/.bottega.patch 2>/tmp/.bottega.err; rc=$?',
      'git reset -q >/dev/null 2>&1',
      '[ $rc -eq 0 ] || { cat /tmp/.bottega.err >&2; exit $rc; }',
      'cat /tmp/.bottega.patch; rm -f /tmp/.bottega.patch /tmp/.bottega.err',
    ].join('\n');
    return (await this.machine(script, { W: this.workdir, B: this.baseCommit })).toString('utf8');
  }

  /**
   * Runs a helper script with `vars` set (and `$DATA` naming a file holding `data`) and returns its
   * output after a {@link MARK} line, so login-shell noise is dropped. Throws HelperFailed when the
   * script fails, ToolEnvError when the container cannot run it.
   */
  private async machine(script: string, vars: Record<string, string>, data?: Buffer): Promise<Buffer> {
    const exports = Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`);
    const r = await this.exec({
      script: (dataPath) => `${exports.join('')}export DATA=${shellQuote(dataPath)}\necho ${MARK}\n${script}`,
      timeoutS: IO_TIMEOUT_MS / 1000,
      maxOutputBytes: 1 << 30,
      ...(data ? { data } : {}),
    });
    if (r.exitCode !== 0) {
      throw new HelperFailed(r.output.toString('utf8').trim().slice(-2000) || `exit status ${String(r.exitCode)}`);
    }
    const mark = Buffer.from(`${MARK}\n`);
    const at = r.output.indexOf(mark);
    return at === -1 ? r.output : r.output.subarray(at + mark.length);
  }

  /** One request to the shell server; a broken channel becomes ToolEnvError (or the abort reason). */
  private async exec(req: ShellRequest): Promise<{ exitCode: number; output: Buffer }> {
    try {
      return await this.shell.run(req);
    } catch (err) {
      // Cancelled: not an environment failure; the container is already being removed.
      this.opts.signal?.throwIfAborted();
      if (this.closed) throw new ToolEnvError('the tool runtime is closed');
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
    this.shell.fail(new ShellChannelClosed('the tool runtime is closed'));
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

/** `v` as one single-quoted shell word. */
function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}
