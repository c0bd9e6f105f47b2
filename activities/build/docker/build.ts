/**
 * One `POST /build` through dockerode: streams a {@link BuildContext}, collects the build log, and
 * turns failures into {@link ImageBuildError}s.
 */
import type Docker from 'dockerode';
import type { BuildContext } from './context';
import { ImageBuildError, type ImageStage } from './errors';
import { abortWait } from './abort';

/** Called with each line of build output (use it to heartbeat). */
export type LogSink = (line: string) => void;

export interface BuildOptions {
  stage: ImageStage;
  /** Tag of the image to build. */
  tag: string;
  /** `none` (default) cuts RUN steps off the network. */
  networkMode?: 'none' | 'default' | 'host';
  labels?: Record<string, string>;
  /** Abandon the build after this long (default 30 min). */
  timeoutMs?: number;
  onLog?: LogSink;
  /**
   * Cancellation: once aborted no build starts, and a running one is abandoned at once (the engine
   * cancels it and removes its container); the call rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

export interface BuildResult {
  /** Image id (`sha256:...`). */
  id: string;
  /** The whole build log. */
  log: string;
}

interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string };
}

/** Builds `ctx` (which must hold a `Dockerfile`) as `opts.tag`. */
export async function buildFromContext(docker: Docker, ctx: BuildContext, opts: BuildOptions): Promise<BuildResult> {
  const lines: string[] = [];
  let partial = '';
  const emit = (text: string): void => {
    partial += text;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      opts.onLog?.(line);
    }
  };
  const fullLog = (): string => lines.join('\n') + (partial ? `\n${partial}` : '');

  opts.signal?.throwIfAborted();
  let response: NodeJS.ReadableStream;
  try {
    response = await docker.buildImage(ctx.toStream(), {
      t: opts.tag,
      networkmode: opts.networkMode ?? 'none',
      labels: opts.labels ?? {},
      rm: true,
      forcerm: true,
      pull: false,
    });
  } catch (err) {
    throw new ImageBuildError(opts.stage, 'docker_error', errorMessage(err), fullLog());
  }

  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  let timedOut = false;
  let id: string | undefined;
  let failure: string | undefined;
  const abort = abortWait(opts.signal);
  await new Promise<void>((resolve, reject) => {
    // Closing the connection makes the engine cancel the build and remove its container.
    const hangUp = () => (response as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    const timer = setTimeout(() => {
      timedOut = true;
      hangUp();
      resolve();
    }, timeoutMs);
    void abort.aborted.then(() => {
      clearTimeout(timer);
      hangUp();
      resolve();
    });
    docker.modem.followProgress(
      response,
      (err: Error | null) => {
        clearTimeout(timer);
        if (err && !timedOut) reject(new ImageBuildError(opts.stage, 'docker_error', err.message, fullLog()));
        else resolve();
      },
      (event: ProgressEvent) => {
        if (event.stream) emit(event.stream);
        else if (event.status) emit(`${event.status}\n`);
        if (event.aux?.ID) id = event.aux.ID;
        if (event.error) {
          failure = event.errorDetail?.message ?? event.error;
          emit(`ERROR: ${failure}\n`);
        }
      }
    );
  });

  abort.dispose();
  opts.signal?.throwIfAborted();
  const log = fullLog();
  if (timedOut) throw new ImageBuildError(opts.stage, 'timeout', `build exceeded ${timeoutMs} ms`, log);
  if (failure !== undefined) {
    const reason = /returned a non-zero code/.test(failure) ? 'install_failed' : 'docker_error';
    throw new ImageBuildError(opts.stage, reason, failure, log);
  }
  if (!id) {
    try {
      id = (await docker.getImage(opts.tag).inspect()).Id;
    } catch (err) {
      throw new ImageBuildError(opts.stage, 'docker_error', `built image not found: ${errorMessage(err)}`, log);
    }
  }
  return { id, log };
}

/** Label naming the tag a build was for: every intermediate image of the build carries it. */
export const BUILDING_LABEL = 'bottega.building';
/** Label naming the image the build started FROM. */
export const FROM_LABEL = 'bottega.from';

/**
 * The Dockerfile line placed right after `FROM`: every intermediate image the build commits inherits
 * it, so when a build fails, the untagged images it leaves are recognisable as bottega's
 * (gc.ts lists them as `failed`, counts them in the disk budget and prunes them first).
 */
export function trackingLabel(tag: string, from: string): string {
  return `LABEL ${BUILDING_LABEL}=${JSON.stringify(tag)} ${FROM_LABEL}=${JSON.stringify(from)}`;
}

/** The id of `tag` if the engine has it, else null. */
export async function imageId(docker: Docker, tag: string): Promise<string | null> {
  try {
    return (await docker.getImage(tag).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Single-quotes `s` for bash. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
