/**
 * The base layer: `bottega/base-python:<version>-<hash8>`, built by infra/images/build-base.sh
 * (debootstrap + `docker import`, since no registry is reachable). The script is idempotent and
 * owns the tag's hash, so this module only runs it and reads the tag it prints.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { imageId, type LogSink } from './build';
import { ImageBuildError } from './errors';

/** infra/images/build-base.sh, resolved from this file. */
export const BUILD_BASE_SCRIPT = fileURLToPath(new URL('../../../infra/images/build-base.sh', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Tags this process already built or confirmed, per Python version. */
const known = new Map<string, string>();
/** Builds under way in this process, so concurrent callers share one. */
const inflight = new Map<string, Promise<string>>();

export interface EnsureBaseOptions {
  /** Receives each line the script logs (use it to heartbeat: a cold build takes about a minute). */
  onLog?: LogSink;
  /** Cache and state directory (default `$BOTTEGA_HOME`, else `<repo>/.bottega`). */
  bottegaHome?: string;
}

/**
 * Returns the base image tag for Python `python` (major.minor), building it first if it is missing.
 * Throws an {@link ImageBuildError} (`base_missing`) with the script's log when it fails, e.g. for
 * an unsupported version.
 */
export async function ensureBaseImage(docker: Docker, python: string, opts: EnsureBaseOptions = {}): Promise<string> {
  const cached = known.get(python);
  if (cached && (await imageId(docker, cached))) return cached;
  let pending = inflight.get(python);
  if (!pending) {
    pending = runBuildBase(python, opts).finally(() => inflight.delete(python));
    inflight.set(python, pending);
  }
  return pending;
}

async function runBuildBase(python: string, opts: EnsureBaseOptions): Promise<string> {
  const env = { ...process.env, BOTTEGA_HOME: opts.bottegaHome ?? process.env.BOTTEGA_HOME ?? `${REPO_ROOT}.bottega` };
  const { code, stdout, log } = await new Promise<{ code: number | null; stdout: string; log: string }>(
    (resolve, reject) => {
      const child = spawn('bash', [BUILD_BASE_SCRIPT, python], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const logLines: string[] = [];
      let partial = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        partial += d;
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          logLines.push(line);
          opts.onLog?.(line);
        }
      });
      child.on('error', reject);
      child.on('close', (c) => {
        if (partial) logLines.push(partial);
        resolve({ code: c, stdout: out, log: logLines.join('\n') });
      });
    }
  );
  const tag = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !tag) {
    const last = log.trim().split('\n').pop() ?? '';
    throw new ImageBuildError('base', 'base_missing', `build-base.sh ${python} exited ${code}: ${last}`, log);
  }
  known.set(python, tag);
  return tag;
}
