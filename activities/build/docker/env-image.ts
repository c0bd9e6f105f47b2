/**
 * The env layer: base + a virtualenv at /opt/venv + the repository at the env commit in /testbed +
 * everything the recipe installs. Tagged by content hash ({@link envImageTag}), so a recipe that
 * was built once is a cache hit.
 *
 * Layout of the generated Dockerfile (one RUN per recipe step, each echoing what it runs):
 * ```
 * FROM <base>
 * RUN python3 -m venv /opt/venv          # keeps Debian's python clean; PATH and /etc/profile.d point at it
 * RUN apt-get install <system_packages>  # only with network
 * COPY wheels/ /wheels/                  # when a wheelhouse is given (pip then runs --no-index)
 * ADD src.tar /testbed/                  # `git archive` of the env commit
 * RUN pre_install..., pip -r reqs..., pip pip_packages, install...
 * LABEL bottega.*
 * ```
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import type { InstallConfig } from '../../../contracts/task';
import { buildFromContext, errorMessage, imageId, shQuote, trackingLabel, type LogSink } from './build';
import { BuildContext } from './context';
import { ImageBuildError } from './errors';
import { TEMPLATE_VERSION, buildRelevantConfig, canonicalJson, directoryDigest, envImageTag } from './tags';

const execFileP = promisify(execFile);

/** Where the env layer's virtualenv lives. */
export const VENV = '/opt/venv';

/**
 * A build context holding the repository at `envCommit` as `src.tar` (a `git archive`) and, when
 * given, the wheelhouse under `wheels/`. `tmp` is a scratch directory the caller removes.
 */
export async function repoContext(
  tmp: string,
  opts: { repoPath: string; envCommit: string; wheelhouse?: string }
): Promise<BuildContext> {
  const srcTar = join(tmp, 'src.tar');
  try {
    await execFileP('git', ['-C', opts.repoPath, 'archive', '--format=tar', '-o', srcTar, opts.envCommit]);
  } catch (err) {
    throw new ImageBuildError('env', 'git_failed', `git archive ${opts.envCommit}: ${errorMessage(err)}`, '');
  }
  const ctx = new BuildContext();
  await ctx.addHostFile(srcTar, 'src.tar');
  if (opts.wheelhouse) await ctx.addDirectory(opts.wheelhouse, 'wheels');
  return ctx;
}

/**
 * The first Dockerfile lines of every image bottega builds on a base: bash with pipefail, and a
 * virtualenv at /opt/venv on PATH (login shells reset PATH in /etc/profile; profile.d puts the
 * venv back in front).
 */
export function venvPreamble(baseTag: string): string[] {
  const profile = `export VIRTUAL_ENV=${VENV}\\nexport PATH="${VENV}/bin:$PATH"\\n`;
  return [
    `FROM ${baseTag}`,
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    `ENV VIRTUAL_ENV=${VENV} PATH=${IMAGE_PATH}`,
    `RUN python3 -m venv ${VENV} && printf '${profile}' > /etc/profile.d/00-bottega-venv.sh`,
  ];
}
/** PATH of env and instance images (an imported base image has none of its own). */
export const IMAGE_PATH = `${VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

export interface EnvImageOptions {
  baseTag: string;
  /** `owner/name` (names the image). */
  repo: string;
  /** A local git repository that has `envCommit`. */
  repoPath: string;
  envCommit: string;
  config: InstallConfig;
  /** Host directory of wheels; pip then installs from it only (`--no-index --find-links /wheels`). */
  wheelhouse?: string;
  /** A pip index (mirror) to install from instead; it must be reachable from the build's network. */
  pipIndexUrl?: string;
  /** Whether RUN steps get a network. Without it, `system_packages` cannot be installed. */
  network: boolean;
  /** Abandon the build after this long (default 30 min). */
  timeoutMs?: number;
  onLog?: LogSink;
  /** Cancellation: the build is abandoned (the engine cancels it) and the call rejects. */
  signal?: AbortSignal;
}

export interface EnvImageResult {
  tag: string;
  id: string;
  /** Build log ('' on a cache hit). */
  logs: string;
  /** True when the image already existed and nothing was built. */
  cached: boolean;
}

/**
 * Builds (or finds) the env image for a recipe. Throws {@link ImageBuildError} (stage `env`) with
 * the full log when a step fails (`install_failed`), the build times out (`timeout`), or the
 * recipe needs what the build cannot give (`install_failed`, e.g. system packages offline).
 */
export async function buildEnvImage(docker: Docker, opts: EnvImageOptions): Promise<EnvImageResult> {
  const { config } = opts;
  const wheelhouseDigest = opts.wheelhouse ? await directoryDigest(opts.wheelhouse) : null;
  const tag = envImageTag({
    baseTag: opts.baseTag,
    repo: opts.repo,
    envCommit: opts.envCommit,
    config,
    wheelhouseDigest,
    pipIndexUrl: opts.wheelhouse ? undefined : opts.pipIndexUrl,
  });
  const existing = await imageId(docker, tag);
  if (existing) return { tag, id: existing, logs: '', cached: true };

  if (config.system_packages.length > 0 && !opts.network) {
    const msg = `system_packages (${config.system_packages.join(', ')}) need network, but the build has none`;
    throw new ImageBuildError('env', 'install_failed', msg, msg);
  }
  if (!(await imageId(docker, opts.baseTag))) {
    throw new ImageBuildError('env', 'base_missing', `base image ${opts.baseTag} not found`, '');
  }

  const tmp = await mkdtemp(join(tmpdir(), 'bottega-env-'));
  try {
    const ctx = await repoContext(tmp, opts);
    const steps = recipeSteps(config, pipFlags(opts));
    for (const s of steps) ctx.addData(`bottega-steps/${s.file}`, s.script, 0o755);
    ctx.addData('Dockerfile', envDockerfile(opts, steps, tag));

    const { id, log } = await buildFromContext(docker, ctx, {
      stage: 'env',
      tag,
      networkMode: opts.network ? 'default' : 'none',
      labels: {
        'bottega.kind': 'env',
        'bottega.base': opts.baseTag,
        'bottega.repo': opts.repo,
        'bottega.env_commit': opts.envCommit,
        'bottega.recipe': canonicalJson(buildRelevantConfig(config)),
        'bottega.template': String(TEMPLATE_VERSION),
      },
      timeoutMs: opts.timeoutMs,
      onLog: opts.onLog,
      ...(opts.signal ? { signal: opts.signal } : {}),
    }).catch((err: unknown) => {
      if (err instanceof ImageBuildError && err.reason === 'install_failed') {
        const step = [...err.log.matchAll(/^>>> \[bottega\] (.*)$/gm)].pop()?.[1];
        if (step) throw new ImageBuildError('env', err.reason, `step "${step}" failed: ${err.detail}`, err.log);
      }
      throw err;
    });
    return { tag, id, logs: log, cached: false };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** pip's source flags and the matching PIP_* environment (for `install` commands that call pip). */
function pipFlags(opts: EnvImageOptions): { flags: string; env: Record<string, string> } {
  if (opts.wheelhouse)
    return { flags: '--no-index --find-links /wheels', env: { PIP_NO_INDEX: '1', PIP_FIND_LINKS: '/wheels' } };
  if (opts.pipIndexUrl)
    return { flags: `--index-url ${shQuote(opts.pipIndexUrl)}`, env: { PIP_INDEX_URL: opts.pipIndexUrl } };
  // Offline with nothing to install from: fail at once instead of retrying an unreachable PyPI.
  if (!opts.network) return { flags: '--no-index', env: { PIP_NO_INDEX: '1' } };
  return { flags: '', env: {} };
}

interface Step {
  file: string;
  script: string;
}

/** One bash script per recipe step, run in /testbed, announcing itself first. */
export function recipeSteps(config: InstallConfig, pip: { flags: string }): Step[] {
  const raw: { what: string; cmd: string }[] = [];
  config.pre_install.forEach((cmd, i) => raw.push({ what: `pre_install ${i + 1}/${config.pre_install.length}`, cmd }));
  for (const req of config.reqs_path) {
    raw.push({ what: `reqs ${req}`, cmd: `python -m pip install ${pip.flags} -r ${shQuote(req)}` });
  }
  if (config.pip_packages.length > 0) {
    raw.push({
      what: 'pip_packages',
      cmd: `python -m pip install ${pip.flags} ${config.pip_packages.map(shQuote).join(' ')}`,
    });
  }
  config.install.forEach((cmd, i) => raw.push({ what: `install ${i + 1}/${config.install.length}`, cmd }));
  return raw.map((s, i) => ({
    file: `${String(i + 1).padStart(2, '0')}.sh`,
    script: [
      '#!/bin/bash',
      'set -eo pipefail',
      'cd /testbed',
      `echo ${shQuote(`>>> [bottega] ${s.what}: ${s.cmd.replace(/\n/g, ' ')}`)}`,
      s.cmd,
      '',
    ].join('\n'),
  }));
}

function envDockerfile(opts: EnvImageOptions, steps: Step[], tag: string): string {
  const env: Record<string, string> = { ...pipFlags(opts).env, ...opts.config.env_vars };
  for (const key of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new ImageBuildError('env', 'install_failed', `bad env var name: ${key}`, '');
  }
  const [from, ...rest] = venvPreamble(opts.baseTag);
  const lines = [from!, trackingLabel(tag, opts.baseTag), ...rest];
  if (opts.config.system_packages.length > 0) {
    lines.push(
      `RUN echo '>>> [bottega] system_packages' && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${opts.config.system_packages.map(shQuote).join(' ')} && rm -rf /var/lib/apt/lists/*`
    );
  }
  if (opts.wheelhouse) lines.push('COPY wheels/ /wheels/');
  if (Object.keys(env).length > 0) {
    lines.push(
      `ENV ${Object.entries(env)
        .map(([k, v]) => `${k}=${dockerfileQuote(v)}`)
        .join(' ')}`
    );
  }
  lines.push('ADD src.tar /testbed/', 'WORKDIR /testbed');
  // A recipe with nothing to install has no step files, and COPY of a missing directory fails.
  if (steps.length > 0) lines.push('COPY bottega-steps/ /opt/bottega/steps/');
  for (const s of steps) lines.push(`RUN bash /opt/bottega/steps/${s.file}`);
  return lines.join('\n') + '\n';
}

/** A double-quoted Dockerfile ENV value: JSON escapes, and `$` kept literal (no substitution). */
function dockerfileQuote(value: string): string {
  return JSON.stringify(value).replace(/\$/g, '\\$');
}
