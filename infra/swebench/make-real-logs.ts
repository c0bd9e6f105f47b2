/**
 * Regenerates the real-log corpus of the grading parity test (test/fixtures/real-logs/*.jsonl):
 * real test suites of real repositories, run in bottega-built containers with bottega's eval
 * script, and the SWE-bench-style items made of their logs (see ./real-log-specs.ts).
 *
 *   node --import tsx infra/swebench/make-real-logs.ts [--keep-images] [owner/name ...]
 *
 * Per repository: a local clone of its mirror (or a git repository of PyPI sdists), a wheelhouse
 * filled with `pip download`, bottega's base → env → instance images (offline build), then per task
 * four runs of `runTaskTests`: the gold patch, no patch, the gold patch plus a function that raises
 * (`broken`), the gold patch plus a missing import (`crash`). FAIL_TO_PASS/PASS_TO_PASS are derived
 * as SWE-bench derives them (passed with the gold patch; failing or missing without it / passing
 * both times). Only logs, test ids and the patches' `diff --git` lines are written. The images it
 * built are removed at the end unless `--keep-images`.
 *
 * Env: REAL_LOGS_MIRRORS (default /work/.mirror: `<owner>+<name>/repo` bare mirrors),
 * REAL_LOGS_WORK (default /tmp/bottega-real-logs: clones and sdists), BOTTEGA_HOME, DOCKER_HOST.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import type { RunLog } from '../../contracts/grading';
import { ensureBaseImage } from '../../activities/build/docker/base-image';
import { buildEnvImage } from '../../activities/build/docker/env-image';
import { buildInstanceImage } from '../../activities/build/docker/instance-image';
import { officialStatuses } from '../../activities/grading/official';
import { runTaskTests } from '../../activities/grading/run-tests';
import { MAYA, Repo } from '../fixtures/git-repo';
import { REAL_LOG_REPOS, type RealLogEdit, type RealLogRepo, type RealLogTask } from './real-log-specs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT_DIR = join(ROOT, 'test/fixtures/real-logs');
const BOTTEGA_HOME = process.env.BOTTEGA_HOME ?? join(ROOT, '.bottega');
const MIRRORS = process.env.REAL_LOGS_MIRRORS ?? '/work/.mirror';
const WORK = process.env.REAL_LOGS_WORK ?? '/tmp/bottega-real-logs';
const LIMITS = { cpus: 2, memoryMb: 4096, pids: 2048 };
const TIMEOUT_MS = 20 * 60_000;

/** One line of test/fixtures/real-logs/<owner>__<name>.jsonl. */
export interface RealLogItem {
  id: string;
  repo: string;
  /** swebench's parser (a `PARSER_REGISTRY` key). */
  parser: string;
  /** What the run was: gold, empty-patch, broken, crash, plus list variants. */
  scenario: string;
  /** The task's base commit (the tree the container held before the patch). */
  commit: string;
  /** The full test command run between the markers. */
  test_cmd: string;
  /** The container script's exit code (the eval script exits 0 once the tests ran). */
  exit_code: number | null;
  timed_out: boolean;
  /** The candidate patch's `diff --git` lines ('' for an empty patch, null for none). */
  patch: string | null;
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  /** The whole eval log. */
  log: string;
}

const slug = (repo: string) => repo.replace('/', '__');
const say = (msg: string) => process.stderr.write(`[real-logs] ${msg}\n`);

function git(dir: string, args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

/** A local clone of the repository's mirror, or a git repository of its sdists. */
async function checkout(spec: RealLogRepo): Promise<string> {
  const dir = join(WORK, slug(spec.repo));
  if (existsSync(join(dir, '.git'))) return dir;
  mkdirSync(WORK, { recursive: true });
  if (spec.source.kind === 'mirror') {
    const mirror = join(MIRRORS, spec.repo.replace('/', '+'), 'repo');
    if (!existsSync(mirror)) throw new Error(`no mirror of ${spec.repo} at ${mirror} (fetch github:${spec.repo})`);
    const depth = spec.source.depth;
    if (!depth) {
      execFileSync('git', ['clone', '-q', mirror, dir], { stdio: 'inherit' });
      return dir;
    }
    mkdirSync(dir, { recursive: true });
    git(dir, ['init', '-q']);
    git(dir, ['fetch', '-q', `--depth=${depth}`, `file://${mirror}`, ...spec.tasks.map((t) => t.fix)]);
    for (const t of spec.tasks) git(dir, ['branch', `task/${t.name}`, t.fix]);
    return dir;
  }
  const { project, versions } = spec.source;
  const sdists = join(WORK, `${slug(spec.repo)}-sdists`);
  const repo = new Repo(dir);
  await repo.init();
  for (const v of versions) {
    execFileSync('python3', [
      '-m',
      'pip',
      'download',
      '-q',
      '--no-deps',
      '--no-binary=:all:',
      '-d',
      sdists,
      `${project}==${v}`,
    ]);
    const tarball = readdirSync(sdists).find((f) => f.toLowerCase() === `${project.toLowerCase()}-${v}.tar.gz`);
    if (!tarball) throw new Error(`pip download ${project}==${v} gave no sdist`);
    for (const f of readdirSync(dir)) if (f !== '.git') rmSync(join(dir, f), { recursive: true, force: true });
    execFileSync('tar', ['xzf', join(sdists, tarball), '--strip-components=1', '-C', dir]);
    await repo.commit(MAYA, `${project} ${v} (PyPI sdist)`);
    await repo.run(['tag', v]);
  }
  return dir;
}

/** The repository's wheelhouse, downloaded once. */
function wheelhouse(spec: RealLogRepo): string {
  const dir = join(BOTTEGA_HOME, 'cache', 'real-logs-wheels', slug(spec.repo).split('__')[1]!);
  const stamp = join(dir, '.wheels');
  const want = spec.wheels.join('\n');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return dir;
  mkdirSync(dir, { recursive: true });
  execFileSync('python3', ['-m', 'pip', 'download', '-q', '--only-binary=:all:', '-d', dir, ...spec.wheels], {
    stdio: 'inherit',
  });
  writeFileSync(stamp, want);
  return dir;
}

/** base and fix commits of a task. */
function commitsOf(dir: string, spec: RealLogRepo, task: RealLogTask): { base: string; fix: string } {
  if (spec.source.kind === 'sdists') {
    const [b, f] = task.versions!;
    return {
      base: git(dir, ['rev-parse', `${b}^{commit}`]).trim(),
      fix: git(dir, ['rev-parse', `${f}^{commit}`]).trim(),
    };
  }
  return { base: git(dir, ['rev-parse', `${task.fix}^`]).trim(), fix: task.fix };
}

/** Applies `edit` to a work tree (see {@link RealLogEdit}). */
function applyEdit(tree: string, edit: RealLogEdit): void {
  const path = join(tree, edit.file);
  const lines = readFileSync(path, 'utf8').split('\n');
  if (edit.kind === 'import') {
    // On the first line: an ImportError, or a SyntaxError where the file has `from __future__`.
    lines.unshift('import bottega_real_logs_missing_module  # real-log corpus: a crash');
  } else {
    const at = lines.findIndex((l) => new RegExp(`^\\s*def ${edit.name}\\(`).test(l));
    if (at < 0) throw new Error(`def ${edit.name} not found in ${edit.file}`);
    let end = at;
    while (!/:\s*(#.*)?$/.test(lines[end]!)) end++;
    const indent = /^\s*/.exec(lines[at]!)![0];
    lines.splice(end + 1, 0, `${indent}    raise RuntimeError("real-log corpus: deliberately broken")`);
  }
  writeFileSync(path, lines.join('\n'));
}

/** The source diff base → fix (+ `edit`), tests excluded. */
function sourcePatch(dir: string, base: string, fix: string, task: RealLogTask, edit?: RealLogEdit): string {
  const excludes = [...task.testPaths, ...(task.ignorePaths ?? [])].map((p) => `:(exclude)${p}`);
  if (!edit) return git(dir, ['diff', base, fix, '--', '.', ...excludes]);
  const tree = mkdtempSync(join(WORK, 'tree-'));
  rmSync(tree, { recursive: true });
  git(dir, ['worktree', 'add', '-q', '--detach', tree, fix]);
  try {
    applyEdit(tree, edit);
    return git(tree, ['diff', base, '--', '.', ...excludes]);
  } finally {
    git(dir, ['worktree', 'remove', '--force', tree]);
  }
}

const headers = (patch: string) =>
  patch
    .split('\n')
    .filter((l) => l.startsWith('diff --git '))
    .map((l) => `${l}\n`)
    .join('');

const PASSING = new Set(['PASSED', 'XFAIL']);

/** The items of one task's four runs. */
function itemsOf(
  spec: RealLogRepo,
  task: RealLogTask,
  base: string,
  testCmd: string,
  runs: Record<'gold' | 'empty' | 'broken' | 'crash', { log: RunLog; patch: string | null }>
): RealLogItem[] {
  const gold = officialStatuses(spec.config.log_parser, runs.gold.log.output);
  const empty = officialStatuses(spec.config.log_parser, runs.empty.log.output);
  const keys = Object.keys(gold);
  const f2p = keys.filter((k) => gold[k] === 'PASSED' && !PASSING.has(empty[k] ?? ''));
  const p2p = keys.filter((k) => gold[k] === 'PASSED' && empty[k] === 'PASSED');
  const skipped = keys.filter((k) => gold[k] === 'SKIPPED');
  const xfail = keys.filter((k) => gold[k] === 'XFAIL');
  const item = (
    scenario: string,
    run: keyof typeof runs,
    lists: { FAIL_TO_PASS: string[]; PASS_TO_PASS: string[] },
    patch: string | null = headers(runs[run].patch ?? '')
  ): RealLogItem => ({
    id: `${spec.repo.split('/')[1]}-${task.name}-${scenario}`,
    repo: spec.repo,
    parser: spec.officialParser,
    scenario,
    commit: base,
    test_cmd: testCmd,
    exit_code: runs[run].log.exitCode,
    timed_out: runs[run].log.timedOut,
    patch,
    ...lists,
    log: runs[run].log.output,
  });
  const lists = { FAIL_TO_PASS: f2p, PASS_TO_PASS: p2p };
  const items = [
    item('gold', 'gold', lists),
    item('empty-patch', 'empty', lists, ''),
    item('patch-none', 'empty', lists, null),
    item('broken', 'broken', lists),
    item('crash', 'crash', lists),
  ];
  // Skipped and xfail tests: maintained in PASS_TO_PASS (resolved); a skipped FAIL_TO_PASS is not.
  if (skipped.length || xfail.length)
    items.push(item('gold-skips-in-p2p', 'gold', { FAIL_TO_PASS: f2p, PASS_TO_PASS: [...p2p, ...skipped, ...xfail] }));
  if (skipped.length)
    items.push(item('gold-skip-in-f2p', 'gold', { FAIL_TO_PASS: [...f2p, skipped[0]!], PASS_TO_PASS: p2p }));
  if (xfail.length)
    items.push(item('gold-xfail-in-f2p', 'gold', { FAIL_TO_PASS: [...f2p, xfail[0]!], PASS_TO_PASS: p2p }));
  return items;
}

async function runRepo(docker: Docker, spec: RealLogRepo, built: string[]): Promise<RealLogItem[]> {
  const dir = await checkout(spec);
  const wheels = wheelhouse(spec);
  const baseTag = await ensureBaseImage(docker, spec.config.python, { bottegaHome: BOTTEGA_HOME });
  const first = commitsOf(dir, spec, spec.tasks[0]!);
  say(`${spec.repo}: env image at ${first.base.slice(0, 12)}`);
  const env = await buildEnvImage(docker, {
    baseTag,
    repo: spec.repo,
    repoPath: dir,
    envCommit: first.base,
    config: spec.config,
    wheelhouse: wheels,
    network: false,
  });
  if (!env.cached) built.push(env.tag);
  const items: RealLogItem[] = [];
  for (const task of spec.tasks) {
    const { base, fix } = commitsOf(dir, spec, task);
    const inst = await buildInstanceImage(docker, {
      envTag: env.tag,
      repo: spec.repo,
      repoPath: dir,
      baseCommit: base,
      instanceId: `${slug(spec.repo)}-${task.name}`,
    });
    if (!inst.cached) built.push(inst.tag);
    const testPatch = git(dir, ['diff', base, fix, '--', ...task.testPaths]);
    const testCmd = `${spec.config.test_cmd} ${task.tests.join(' ')}`;
    const patches = {
      gold: sourcePatch(dir, base, fix, task),
      empty: null,
      broken: sourcePatch(dir, base, fix, task, task.broken),
      crash: sourcePatch(dir, base, fix, task, task.crash),
    };
    const runs = {} as Parameters<typeof itemsOf>[4];
    for (const [name, patch] of Object.entries(patches) as [keyof typeof patches, string | null][]) {
      const t0 = Date.now();
      const log = await runTaskTests(docker, {
        image: inst.tag,
        task: { base_commit: base, test_patch: testPatch },
        config: { test_cmd: testCmd, env_vars: spec.config.env_vars },
        patch,
        timeoutMs: TIMEOUT_MS,
        limits: LIMITS,
      });
      say(`${spec.repo} ${task.name} ${name}: exit ${log.exitCode}, ${log.output.length} chars, ${Date.now() - t0} ms`);
      runs[name] = { log, patch };
    }
    items.push(...itemsOf(spec, task, base, testCmd, runs));
  }
  return items;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const keep = args.includes('--keep-images');
  const only = args.filter((a) => !a.startsWith('--'));
  const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
  const built: string[] = [];
  mkdirSync(OUT_DIR, { recursive: true });
  try {
    for (const spec of REAL_LOG_REPOS) {
      if (only.length && !only.includes(spec.repo)) continue;
      const items = await runRepo(docker, spec, built);
      const file = join(OUT_DIR, `${slug(spec.repo)}.jsonl`);
      writeFileSync(file, items.map((i) => JSON.stringify(i)).join('\n') + '\n');
      say(`${spec.repo}: ${items.length} items -> ${file}`);
    }
  } finally {
    if (!keep) {
      // Instance images first: they sit on the env images.
      for (const tag of [...built].reverse()) {
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => {});
      }
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
