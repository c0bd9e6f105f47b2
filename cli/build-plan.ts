/**
 * `bottega build --plan SPEC`: what the build stage would do, without building: for each task the
 * recipe chosen and why (official SWE-bench spec, the record's install_config, the spec's recipe, or
 * heuristics), the packages it installs, and per Python version one `pip download` command that
 * fills the wheelhouse.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { BuildConfig, ExperimentSpec, TaskRecord } from '../contracts';
import { planBuild, type BuildPlan } from '../activities/build/plan';
import { parseTaskJsonl } from '../activities/build/task-io';
import { gitRepoView } from '../activities/build/validate-task';
import { readSpecFile, validateSpec, type LoadedSpec } from './spec-file';

/** Single-quotes a word for the shell when it needs it. */
function sh(s: string): string {
  return /^[\w.,=@%+:/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The plan as text: tasks, then the download commands. */
export function formatPlan(plan: BuildPlan, opts: { wheelhouse: string | null; skipped: string[] }): string {
  const lines: string[] = [];
  const wh = opts.wheelhouse ?? '<wheelhouse>';
  for (const t of plan.tasks) {
    const what = t.config ? `${t.source} recipe, python ${t.config.python}` : 'NO RECIPE';
    lines.push(`${t.instance_id}  ${t.repo}${t.version ? ` ${t.version}` : ''}  ${what}`);
    if (t.error) lines.push(`  why not: ${t.error}`);
    for (const n of t.notes) lines.push(`  - ${n}`);
    if (t.config) {
      lines.push(`  test: ${(t.test ?? t.config.test_cmd).split('\n').pop() ?? ''} (${t.config.log_parser})`);
      lines.push(`  packages (${t.packages.length}): ${t.packages.join(' ') || '(none)'}`);
    }
    if (t.config?.system_packages.length) lines.push(`  system packages (apt): ${t.config.system_packages.join(' ')}`);
    for (const u of t.unlisted) lines.push(`  not listed: ${u}`);
    for (const b of t.blockers) lines.push(`  BLOCKED: ${b}`);
    lines.push('');
  }
  for (const s of opts.skipped) lines.push(`skipped: ${s}`);
  const bySource = new Map<string, number>();
  for (const t of plan.tasks) bySource.set(t.source ?? 'none', (bySource.get(t.source ?? 'none') ?? 0) + 1);
  lines.push(
    `${plan.tasks.length} tasks: ${[...bySource].map(([s, n]) => `${n} ${s === 'none' ? 'without a recipe' : s}`).join(', ')}; ` +
      `${plan.tasks.filter((t) => t.blockers.length > 0).length} blocked${opts.skipped.length ? `; ${opts.skipped.length} skipped` : ''}`
  );
  if (plan.downloads.length > 0) {
    lines.push('', `# Fill the wheelhouse (${wh}): one command per Python version, run with that Python`);
    lines.push(
      '# (e.g. in its base image: docker run --rm -v WH:WH bottega/base-python:<version>-<hash> python3 -m pip ...).'
    );
    const versions = [...new Set(plan.downloads.map((g) => g.python))];
    for (const v of versions) {
      const groups = plan.downloads.filter((g) => g.python === v);
      const tasks = new Set(groups.flatMap((g) => g.tasks));
      const n = new Set(groups.flatMap((g) => g.packages)).size;
      const split = groups.length > 1 ? `; ${groups.length} resolver runs, since some steps re-pin a package` : '';
      lines.push(`# Python ${v}: ${tasks.size} task(s), ${n} requirements${split}`);
      const runs = groups.map((g) => {
        const named = (n: string) => g.packages.some((p) => new RegExp(`^${n}\\b(?![-.])`, 'i').test(p));
        const pkgs = [...['pip', 'setuptools', 'wheel'].filter((n) => !named(n)), ...g.packages];
        return `python${v} -m pip download --dest ${sh(wh)} ${pkgs.map(sh).join(' ')}`;
      });
      lines.push(runs.join(' \\\n  && '));
    }
  }
  return lines.join('\n');
}

/** Repositories by name: the spec's repo_paths and the mine stage's git sources. */
function repoPaths(spec: ExperimentSpec, build: BuildConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of spec.mine?.sources ?? []) if (s.type === 'git') out[s.repo] = s.path;
  return { ...out, ...build.repo_paths };
}

/** Runs the command; returns the exit code (0 ok, 2 invalid spec or no build stage). */
export function buildPlanCommand(
  file: string,
  opts: { json?: boolean },
  io: { out: (s: string) => void; err: (s: string) => void }
): number {
  const loaded = loadForPlan(file);
  if (!loaded.ok) {
    io.err(`${file}: invalid experiment spec`);
    for (const p of loaded.problems) io.err(`${p.path}: ${p.message}`);
    return 2;
  }
  const build = loaded.spec.build;
  if (!build) {
    io.err(`${file}: no build stage to plan (add \`build:\`)`);
    return 2;
  }
  const tasks: TaskRecord[] = [];
  const skipped: string[] = [];
  if (build.tasks.from_mine)
    skipped.push('build.tasks.from_mine: the mine stage has not run yet; its tasks are not planned');
  for (const f of build.tasks.files) {
    const parsed = parseTaskJsonl(readFileSync(f, 'utf8'), f);
    tasks.push(...parsed.records);
    for (const p of parsed.problems) skipped.push(p.message);
  }
  const paths = repoPaths(loaded.spec, build);
  const plan = planBuild(build, tasks, (t) => {
    const p = paths[t.repo];
    return p ? gitRepoView(p, t.environment_setup_commit ?? t.base_commit) : null;
  });
  if (opts.json) io.out(JSON.stringify({ ...plan, skipped }, null, 2));
  else io.out(formatPlan(plan, { wheelhouse: build.wheelhouse ? resolve(build.wheelhouse) : null, skipped }));
  return 0;
}

/** Loads the spec like `bottega run`, except that the wheelhouse need not exist yet (the plan fills it). */
function loadForPlan(file: string): LoadedSpec {
  const read = readSpecFile(file);
  if (!read.ok) return read;
  const baseDir = dirname(resolve(file));
  const loaded = validateSpec(read.value, baseDir);
  if (loaded.ok || loaded.problems.some((p) => p.path !== 'build.wheelhouse')) return loaded;
  const raw = read.value as { build: { wheelhouse: string } };
  const wheelhouse = raw.build.wheelhouse;
  const again = validateSpec({ ...raw, build: { ...raw.build, wheelhouse: undefined } }, baseDir);
  if (again.ok && again.spec.build) {
    again.spec.build.wheelhouse = isAbsolute(wheelhouse) ? wheelhouse : resolve(baseDir, wheelhouse);
  }
  return again;
}
