/**
 * Content-hash image tags. Every input that shapes an image goes into a canonical-JSON hash, so an
 * identical recipe is never rebuilt (the tag already exists) and a changed one never reuses a stale
 * image (the tag differs).
 */
import { createHash } from 'node:crypto';
import { canonicalJson, canonicalHash as contentHash } from '../../store/canonical';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { InstallConfig } from '../../../contracts/task';

/**
 * Bumped whenever the Dockerfile templates of env-image.ts / instance-image.ts change meaning, so
 * images built by an older template are not reused. 2: a tracking LABEL right after FROM (build.ts
 * {@link trackingLabel}), so the intermediate images of a failed build are recognisable.
 */
export const TEMPLATE_VERSION = 2;

// Canonical JSON and its hash: the step cache's functions, so both key content alike.
export { canonicalJson, contentHash };

/**
 * One Docker repository-name component from free text: lower case, `[a-z0-9]` joined by `.`, `_`,
 * `__` or dashes (Docker's grammar); anything else becomes `-`.
 */
export function dockerComponent(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, (run) => (run === '.' || run === '_' || run === '__' || /^-+$/.test(run) ? run : '-'))
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return cleaned || 'x';
}

/** `owner/name` → `owner__name`, made safe for a Docker repository name. */
export function repoSlug(repo: string): string {
  return repo
    .split('/')
    .map((part) => dockerComponent(part))
    .join('__');
}

/** The fields of an InstallConfig that shape the env image (`test_cmd` and `log_parser` do not). */
export function buildRelevantConfig(config: InstallConfig): Partial<InstallConfig> {
  return {
    language: config.language,
    python: config.python,
    system_packages: config.system_packages,
    pre_install: config.pre_install,
    reqs_path: config.reqs_path,
    pip_packages: config.pip_packages,
    install: config.install,
    env_vars: config.env_vars,
  };
}

/** Inputs of an env image. */
export interface EnvTagInput {
  baseTag: string;
  /** `owner/name`. */
  repo: string;
  envCommit: string;
  config: InstallConfig;
  /** {@link directoryDigest} of the wheelhouse, or null when pip reads an index (or nothing). */
  wheelhouseDigest: string | null;
  /** The pip index the build used, if any (a different index may resolve different versions). */
  pipIndexUrl?: string;
}

/** `bottega/env.<owner>__<name>:<sha256[:16]>` over every build input. */
export function envImageTag(input: EnvTagInput): string {
  const hash = contentHash({
    kind: 'env',
    template: TEMPLATE_VERSION,
    baseTag: input.baseTag,
    repo: input.repo,
    envCommit: input.envCommit,
    config: buildRelevantConfig(input.config),
    wheelhouseDigest: input.wheelhouseDigest,
    pipIndexUrl: input.pipIndexUrl ?? null,
  });
  return `bottega/env.${repoSlug(input.repo)}:${hash.slice(0, 16)}`;
}

/** Inputs of an instance image. */
export interface InstanceTagInput {
  envTag: string;
  repo: string;
  baseCommit: string;
  instanceId: string;
  /** Whether the instance layer re-runs the editable install (see instance-image.ts). */
  reinstallEditable?: boolean;
}

/** `bottega/inst.<owner>__<name>:<sha256[:16]>` over every build input. */
export function instanceImageTag(input: InstanceTagInput): string {
  const hash = contentHash({
    kind: 'instance',
    template: TEMPLATE_VERSION,
    envTag: input.envTag,
    repo: input.repo,
    baseCommit: input.baseCommit,
    instanceId: input.instanceId,
    reinstallEditable: input.reinstallEditable ?? false,
  });
  return `bottega/inst.${repoSlug(input.repo)}:${hash.slice(0, 16)}`;
}

/**
 * sha256 over the sorted (relative path, content sha256) pairs of every regular file under `dir`:
 * the identity of a wheelhouse.
 */
export async function directoryDigest(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const outer = createHash('sha256');
  for (const file of files) {
    const inner = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    outer.update(`${relative(dir, file).split(sep).join('/')}\0${inner}\n`);
  }
  return outer.digest('hex');
}
