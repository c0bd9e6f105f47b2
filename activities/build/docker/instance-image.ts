/**
 * The instance layer: a thin layer over the env image with the repository at `base_commit` and a
 * scrubbed history (see git-scrub.ts).
 *
 * The env layer already holds the work tree of the env commit (and whatever the install built in
 * it, e.g. an editable install's metadata or in-place extensions). So this layer ships only:
 * - `/testbed/.git` of the scrubbed clone;
 * - the files that differ between the env commit and the base commit, and deletes those the base
 *   commit no longer has.
 * An editable install from the env layer keeps working, since it points at /testbed. When the
 * package's metadata changed between the two commits (new modules in a non-src layout, entry
 * points, dependencies), pass `reinstallEditable` to re-run `pip install --no-deps -e .` in this
 * layer. It runs without network, with the env layer's PIP_* settings: fine with a wheelhouse
 * (/wheels holds the build backend), not with an index-only env.
 */
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type Docker from 'dockerode';
import { buildFromContext, errorMessage, imageId, trackingLabel, type LogSink } from './build';
import { BuildContext } from './context';
import { ImageBuildError } from './errors';
import { cloneAndScrub, diffPaths } from './git-scrub';
import { TEMPLATE_VERSION, instanceImageTag } from './tags';

export interface InstanceImageOptions {
  envTag: string;
  /** `owner/name` (names the image). */
  repo: string;
  /** A local git repository with both the env commit and `baseCommit`. */
  repoPath: string;
  baseCommit: string;
  instanceId: string;
  /** The commit the env layer's /testbed holds (default: the env image's `bottega.env_commit` label). */
  envCommit?: string;
  /** Re-run the editable install in this layer (see the module comment). */
  reinstallEditable?: boolean;
  /** Abandon the build after this long (default 10 min). */
  timeoutMs?: number;
  onLog?: LogSink;
  /** Cancellation: the build is abandoned (the engine cancels it) and the call rejects. */
  signal?: AbortSignal;
}

export interface InstanceImageResult {
  tag: string;
  id: string;
  /** Image size minus env image size: what one more instance costs on disk. */
  sizeAddedBytes: number;
  /** True when the image already existed and nothing was built. */
  cached: boolean;
  /** Host-side preparation and build log ('' on a cache hit). */
  logs: string;
}

/**
 * Builds (or finds) the instance image. Throws {@link ImageBuildError} (stage `instance`):
 * `git_failed` when cloning or diffing fails, `history_leak` when the scrub leaves a later commit,
 * `install_failed` when the editable re-install fails.
 */
export async function buildInstanceImage(docker: Docker, opts: InstanceImageOptions): Promise<InstanceImageResult> {
  const tag = instanceImageTag({
    envTag: opts.envTag,
    repo: opts.repo,
    baseCommit: opts.baseCommit,
    instanceId: opts.instanceId,
    reinstallEditable: opts.reinstallEditable,
  });
  let env: Docker.ImageInspectInfo;
  try {
    env = await docker.getImage(opts.envTag).inspect();
  } catch (err) {
    throw new ImageBuildError('instance', 'base_missing', `env image ${opts.envTag}: ${errorMessage(err)}`, '');
  }
  const existing = await imageId(docker, tag);
  if (existing) {
    const size = (await docker.getImage(tag).inspect()).Size;
    return { tag, id: existing, sizeAddedBytes: size - env.Size, cached: true, logs: '' };
  }

  const envCommit = opts.envCommit ?? env.Config?.Labels?.['bottega.env_commit'];
  if (!envCommit) {
    throw new ImageBuildError('instance', 'git_failed', `env image ${opts.envTag} has no bottega.env_commit label`, '');
  }

  const hostLog: string[] = [];
  const note = (line: string): void => {
    hostLog.push(line);
    opts.onLog?.(line);
  };
  const tmp = await mkdtemp(join(tmpdir(), 'bottega-inst-'));
  try {
    const testbed = join(tmp, 'testbed');
    let base: string;
    let delta: { changed: string[]; deleted: string[] };
    try {
      base = await cloneAndScrub(opts.repoPath, opts.baseCommit, testbed, note);
    } catch (err) {
      const msg = errorMessage(err);
      const reason = msg.includes('not ancestors of') ? 'history_leak' : 'git_failed';
      throw new ImageBuildError('instance', reason, msg, [...hostLog, msg].join('\n'));
    }
    try {
      delta = await diffPaths(opts.repoPath, envCommit, base);
    } catch (err) {
      const msg = errorMessage(err);
      throw new ImageBuildError('instance', 'git_failed', msg, [...hostLog, msg].join('\n'));
    }
    note(
      `env ${envCommit.slice(0, 12)} -> base ${base.slice(0, 12)}: ${delta.changed.length} changed, ${delta.deleted.length} deleted`
    );

    const ctx = new BuildContext();
    await ctx.addDirectory(join(testbed, '.git'), 'testbed/.git');
    const files: { host: string; path: string }[] = [];
    const dirs = new Set<string>();
    for (const path of delta.changed) {
      const host = join(testbed, path);
      const st = await lstat(host).catch(() => null);
      if (!st || st.isDirectory()) continue; // submodule gitlinks: not shipped
      files.push({ host, path });
      for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir)) dirs.add(dir);
    }
    // Parents first (sorted paths put a directory before its children).
    for (const dir of [...dirs].sort()) ctx.addDirectoryEntry(`testbed/${dir}`);
    for (const f of files) await ctx.addHostPath(f.host, `testbed/${f.path}`);
    const lines = [`FROM ${opts.envTag}`, trackingLabel(tag, opts.envTag), 'COPY testbed/ /testbed/'];
    if (delta.deleted.length > 0) {
      lines.push(`RUN ${JSON.stringify(['rm', '-f', '--', ...delta.deleted.map((p) => `/testbed/${p}`)])}`);
    }
    if (opts.reinstallEditable) {
      lines.push("RUN echo '>>> [bottega] reinstall editable' && python -m pip install --no-deps -e .");
    }
    ctx.addData('Dockerfile', lines.join('\n') + '\n');

    const { id, log } = await buildFromContext(docker, ctx, {
      stage: 'instance',
      tag,
      networkMode: 'none',
      labels: {
        'bottega.kind': 'instance',
        'bottega.env': opts.envTag,
        'bottega.repo': opts.repo,
        'bottega.instance_id': opts.instanceId,
        'bottega.base_commit': base,
        'bottega.template': String(TEMPLATE_VERSION),
      },
      timeoutMs: opts.timeoutMs ?? 10 * 60_000,
      onLog: opts.onLog,
      ...(opts.signal ? { signal: opts.signal } : {}),
    }).catch((err: unknown) => {
      if (err instanceof ImageBuildError) {
        throw new ImageBuildError('instance', err.reason, err.detail, [...hostLog, err.log].join('\n'));
      }
      throw err;
    });
    const size = (await docker.getImage(tag).inspect()).Size;
    return { tag, id, sizeAddedBytes: size - env.Size, cached: false, logs: [...hostLog, log].join('\n') };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
