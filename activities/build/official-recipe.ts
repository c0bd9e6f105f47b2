/**
 * SWE-bench's official environments as bottega recipes: a record whose (repo, version) is in
 * swebench's spec table (official-specs.data.ts) is built the way swebench's harness builds it
 * (`make_env_script_list_py`, `make_repo_script_list_py`, `make_eval_script_list_py` of swebench
 * 4.1.0's test_spec/python.py), on bottega's offline base images:
 *
 * | swebench                                   | bottega                                                       |
 * | ------------------------------------------ | ------------------------------------------------------------- |
 * | `conda create python=X`                    | the base image for X, or the closest newer one (a deviation)  |
 * | `packages: requirements.txt`               | the repo's file (reqs_paths) at the env commit, `-r` inlined  |
 * |                                            | one level, `-e .`/`#`/`.[test` lines dropped: `pre_install`   |
 * | `packages: "numpy scipy"` (conda packages) | `pip install` of the same names: `pre_install`                |
 * | `packages: environment.yml` (conda)        | a blocker: no conda offline                                   |
 * | `pip_packages`                             | `pip_packages`                                                |
 * | `pre_install` `apt-get install P…`         | `system_packages` P… (need a network: a blocker offline)      |
 * | `pre_install` (other), `install`           | `install`, in order                                           |
 * | eval: `eval_commands`, `install` again,    | `test_cmd`: the same lines, then `test_cmd`; each run appends |
 * |   `test_cmd` + test directives             |   the directives (grading/test-directives.ts; re-install      |
 * |                                            |   output shown only when it fails)                            |
 * | `log_parser` (MAP_REPO_TO_PARSER_PY)       | `log_parser` (grading's registry)                             |
 */
import { InstallConfig } from '../../contracts/task';
import { parserForRepo } from '../grading/parsers/registry';
import { PYTHON_BASES, type RepoView } from './heuristics';
import type { OfficialSpec } from './official-spec-types';
import { OFFICIAL_SPECS } from './official-specs.data';

/** Where the official table came from (named in notes and the plan). */
export const OFFICIAL_SPECS_SOURCE = OFFICIAL_SPECS.source;

/** swebench's heredoc delimiter for generated requirement files. */
const HEREDOC = 'EOF_59812759871';
/** Where the requirements swebench would write to `$HOME/requirements.txt` go. */
const REQS_FILE = '/tmp/bottega-swebench-requirements.txt';

/** The official spec of `repo` at `version`, or undefined. */
export function officialSpecFor(repo: string, version: string | undefined): OfficialSpec | undefined {
  if (version === undefined || !Object.hasOwn(OFFICIAL_SPECS.specs, repo)) return undefined;
  const byVersion = OFFICIAL_SPECS.specs[repo]!;
  return Object.hasOwn(byVersion, version) ? byVersion[version] : undefined;
}

/** Versions the table knows for `repo` (empty for a repository outside it). */
export function officialVersions(repo: string): string[] {
  return Object.hasOwn(OFFICIAL_SPECS.specs, repo) ? Object.keys(OFFICIAL_SPECS.specs[repo]!) : [];
}

/**
 * The name of SWE-bench's prebuilt instance image (swebench 5.0.2 `task/checks.py`
 * `expected_image`): `swebench/sweb.eval.x86_64.<instance id>:latest`, lower-cased, with every `__`
 * replaced by `_1776_` (Docker Hub refuses double underscores).
 */
export function officialImageName(instanceId: string, namespace = 'swebench'): string {
  const key = `sweb.eval.x86_64.${instanceId}:latest`.toLowerCase();
  return `${namespace}/${key}`.replace(/__/g, '_1776_');
}

/** The parts of a task record the official recipe reads. */
export interface OfficialTask {
  repo: string;
  version?: string;
}

/** What {@link officialRecipe} returns. */
export interface OfficialRecipe {
  config: InstallConfig;
  /** The spec it came from. */
  spec: OfficialSpec;
  /** Lines of the requirements file swebench assembles (`packages: requirements.txt`), for the build plan. */
  requirements: string[];
  /** Where bottega differs from the official environment (shown in notes and the plan). */
  deviations: string[];
  /** Official steps with no offline equivalent; building is refused while any is left. */
  unsupported: string[];
  notes: string[];
}

/**
 * The official recipe of `task` (undefined when its (repo, version) is not in the table). `repo`
 * is the repository at the environment-setup commit (for `packages: requirements.txt`).
 */
export function officialRecipe(task: OfficialTask, repo: RepoView | undefined): OfficialRecipe | undefined {
  const spec = officialSpecFor(task.repo, task.version);
  if (!spec) return undefined;
  const deviations: string[] = [];
  const unsupported: string[] = [];
  const notes: string[] = [`official SWE-bench spec for ${task.repo} ${task.version} (${OFFICIAL_SPECS_SOURCE})`];
  const requirements: string[] = [];
  const preInstall: string[] = [];

  const python = closestBase(spec.python);
  if (python !== spec.python) {
    deviations.push(
      `python ${python} instead of ${spec.python}: no base image for ${spec.python} (bases: ${PYTHON_BASES.join(', ')})`
    );
  }

  const packages = spec.packages?.trim() ?? '';
  if (packages === 'requirements.txt') {
    const reqs = officialRequirements(task.repo, repo);
    if ('error' in reqs) unsupported.push(reqs.error);
    else {
      notes.push(`requirements from ${reqs.path}${reqs.included.length ? ` (-r ${reqs.included.join(', ')})` : ''}`);
      notes.push(...reqs.notes);
      requirements.push(...reqs.lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('-')));
      preInstall.push(`cat <<'${HEREDOC}' > ${REQS_FILE}\n${reqs.text}\n${HEREDOC}`);
      preInstall.push(`python -m pip install -r ${REQS_FILE} && rm ${REQS_FILE}`);
    }
  } else if (packages === 'environment.yml') {
    const paths = OFFICIAL_SPECS.env_yml_paths[task.repo] ?? ['environment.yml'];
    unsupported.push(
      `packages: environment.yml (a conda environment from ${paths.join(' or ')}${spec.no_use_env ? ', conda env update' : ''}) needs conda and a network`
    );
  } else if (packages !== '') {
    const words = shellWords(packages);
    preInstall.push(`python -m pip install ${words.map(shQuote).join(' ')}`);
    deviations.push(`conda packages (${packages}) installed with pip under the same names`);
  }

  const systemPackages: string[] = [];
  const install: string[] = [];
  for (const cmd of spec.pre_install ?? []) {
    const apt = aptPackages(cmd);
    if (apt) {
      for (const p of apt) if (!systemPackages.includes(p)) systemPackages.push(p);
      deviations.push(`${JSON.stringify(cmd)} → system_packages ${apt.join(' ')} (apt-get in the environment layer)`);
    } else install.push(cmd);
  }
  if (spec.install) install.push(spec.install);

  if (spec.execute_test_as_nonroot) deviations.push('tests run as root (swebench runs them as a non-root user)');
  if (spec.nano_cpus) deviations.push(`CPU limit from build.limits, not the spec's ${spec.nano_cpus / 1e9} CPUs`);
  if (spec.docker_specs && Object.keys(spec.docker_specs).length > 0) {
    deviations.push(`docker_specs ${JSON.stringify(spec.docker_specs)} not applied`);
  }

  const config = InstallConfig.parse({
    python,
    system_packages: systemPackages,
    pre_install: preInstall,
    pip_packages: spec.pip_packages ?? [],
    install,
    test_cmd: officialTestCommand(spec),
    log_parser: parserForRepo(task.repo) ?? 'pytest',
  });
  return { config, spec, requirements, deviations, unsupported, notes };
}

/** Runs bottega's eval script inside SWE-bench's prebuilt images: their environment is conda's `testbed`. */
export const CONDA_ACTIVATE =
  'if [ -f /opt/miniconda3/bin/activate ]; then source /opt/miniconda3/bin/activate && conda activate testbed; fi';

/**
 * The test command as swebench's eval script runs it: `eval_commands`, the `install` again (the
 * gold or candidate patch may change what is installed; output shown only if it fails), then
 * `test_cmd`, to which each run appends the task's test directives (test scope `files`,
 * activities/grading/test-directives.ts, as for every recipe). Lines are separated by newlines,
 * without `set -e`, as in swebench; the exit status is the tests'.
 */
export function officialTestCommand(spec: OfficialSpec): string {
  const lines = [...(spec.eval_commands ?? [])];
  if (spec.install) {
    lines.push(
      `{ ${spec.install} ; } > /tmp/bottega-reinstall.log 2>&1 || { echo '>>> [bottega] re-install failed:'; cat /tmp/bottega-reinstall.log; }`
    );
  }
  lines.push(spec.test_cmd);
  return lines.join('\n');
}

/** The repo's requirements as swebench's `get_requirements` assembles them, read from `repo`. */
function officialRequirements(
  repoName: string,
  repo: RepoView | undefined
): { path: string; text: string; lines: string[]; included: string[]; notes: string[] } | { error: string } {
  const paths = OFFICIAL_SPECS.reqs_paths[repoName] ?? [];
  if (!repo) return { error: 'packages: requirements.txt, but there is no repository to read it from' };
  const files = new Set(repo.listFiles());
  const path = paths.find((p) => files.has(p));
  if (path === undefined) {
    return {
      error: `packages: requirements.txt, but none of ${paths.join(', ') || '(no paths known)'} exists at the environment-setup commit`,
    };
  }
  const dir = path.split('/').slice(0, -1).join('/');
  const excluded = (line: string) => ['-e .', '#', '.[test'].some((x) => line.trim().startsWith(x));
  const original: string[] = [];
  const additional: string[] = [];
  const included: string[] = [];
  const notes: string[] = [];
  for (const line of (repo.readFile(path) ?? '').split('\n')) {
    if (line.trim().startsWith('-r')) {
      const name = line.trim().slice(2).trim();
      const inc = dir ? `${dir}/${name}` : name;
      const text = files.has(inc) ? repo.readFile(inc) : null;
      if (text === null) notes.push(`requirements: ${inc} (-r in ${path}) not found; skipped, as swebench does`);
      else {
        included.push(inc);
        for (const l of text.split('\n')) if (!excluded(l)) additional.push(l);
      }
    } else if (!excluded(line)) original.push(line);
  }
  additional.push(original.join('\n'));
  let text = additional.join('\n');
  for (const [pkg, replacement] of OFFICIAL_SPECS.replace_req_packages) {
    const re = new RegExp(`^${escapeRegExp(pkg)}([<>=!~]=?.*|$)${replacement === null ? '\\n?' : ''}`, 'gm');
    text = text.replace(re, replacement ?? '');
  }
  return { path, text, lines: text.split('\n'), included, notes };
}

/** The base for `version`: itself, else the oldest newer base, else the newest base. */
function closestBase(version: string): string {
  if ((PYTHON_BASES as readonly string[]).includes(version)) return version;
  const v = minor(version);
  return PYTHON_BASES.find((b) => minor(b) > v) ?? PYTHON_BASES[PYTHON_BASES.length - 1]!;
}

function minor(v: string): number {
  const [a, b] = v.split('.').map(Number);
  return (a ?? 0) * 1000 + (b ?? 0);
}

/** Packages of an `apt-get install` command (with its `apt-get update/upgrade` parts), or null. */
function aptPackages(cmd: string): string[] | null {
  if (!/\bapt-get\b/.test(cmd)) return null;
  const parts = cmd.split(/&&|;/).map((p) => p.trim());
  if (!parts.every((p) => p === '' || /^(DEBIAN_FRONTEND=\S+\s+)?apt-get\b/.test(p))) return null;
  const pkgs: string[] = [];
  for (const p of parts) {
    const m = /\bapt-get\s+(?:-\S+\s+)*install\s+(.*)$/.exec(p);
    if (m?.[1]) pkgs.push(...m[1].split(/\s+/).filter((w) => w !== '' && !w.startsWith('-')));
  }
  return pkgs;
}

/** Splits a conda package string into words, dropping shell quotes (`'numpy==1.19.2' scipy`). */
function shellWords(s: string): string[] {
  return [...s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '').filter(Boolean);
}

function shQuote(s: string): string {
  return /^[\w.=<>!~,@+-]+$/.test(s) && !/[<>]/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * What keeps a recipe from building in this build: steps that need a network when the build has
 * none (apt system packages, downloads), and official steps with no equivalent at all. Each line
 * names the step; an empty list means nothing is known to block it.
 */
export function offlineBlockers(config: InstallConfig, opts: { network: boolean }): string[] {
  if (opts.network) return [];
  const out: string[] = [];
  if (config.system_packages.length > 0) {
    out.push(`system_packages ${config.system_packages.join(' ')} need apt-get and a network`);
  }
  for (const cmd of [...config.pre_install, ...config.install]) {
    if (/\b(wget|curl)\b|\bgit\s+clone\b|\bhttps?:\/\//.test(cmd)) {
      out.push(`${JSON.stringify(cmd.length > 120 ? `${cmd.slice(0, 117)}...` : cmd)} downloads from the network`);
    }
  }
  return out;
}
