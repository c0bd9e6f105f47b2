/**
 * The build plan: before any image is built, which recipe each task gets and why, every package
 * its environment will install, and per Python version the `pip download` commands that fill a
 * wheelhouse in one go (instead of discovering a missing wheel one failed build at a time).
 */
import type { BuildConfig } from '../../contracts/build';
import type { InstallConfig, TaskRecord } from '../../contracts/task';
import { projectRequirements, type RepoView } from './heuristics';
import { offlineBlockers } from './official-recipe';
import { scopedTestCommand } from '../grading/test-directives';
import { resolveRecipe, type RecipeSource } from './recipe';

/** One task in the plan. */
export interface PlannedTask {
  instance_id: string;
  repo: string;
  version: string | null;
  /** The recipe's source, or null when none could be resolved. */
  source: RecipeSource | null;
  config: InstallConfig | null;
  /** The test command each run executes (the build's `test_scope` applied); null without a recipe. */
  test: string | null;
  /** Why this recipe (or why none): the resolver's notes. */
  notes: string[];
  /** Why no recipe, when none. */
  error: string | null;
  /** Requirement specifiers the environment installs (deduplicated, in install order). */
  packages: string[];
  /** The same, per install step (a requirement file, pip_packages, the project): steps install one after another. */
  steps: PackageStep[];
  /** What in the recipe cannot work in this build (network steps offline). */
  blockers: string[];
  /** Packages the plan could not list (computed setup.py requirements, downloads, local paths). */
  unlisted: string[];
}

/** Packages one install step asks for (pins may differ between steps: pip_packages re-pin requirements). */
export interface PackageStep {
  /** What installs them, e.g. `requirements/tests.txt`, `pip_packages`, `the project`. */
  from: string;
  packages: string[];
}

/** Install steps whose packages one pip resolver run can download (no package pinned at two versions). */
export interface DownloadGroup {
  python: string;
  packages: string[];
  tasks: string[];
}

export interface BuildPlan {
  tasks: PlannedTask[];
  /** Per Python version, one group, or several when pinned versions conflict between tasks. */
  downloads: DownloadGroup[];
}

/** The plan for `tasks`: `repoFor` gives a task's repository at its env commit (null: unavailable). */
export function planBuild(
  config: BuildConfig,
  tasks: TaskRecord[],
  repoFor: (task: TaskRecord) => RepoView | null
): BuildPlan {
  const network = config.pip_index_url !== undefined;
  const planned: PlannedTask[] = [];
  for (const task of tasks) {
    const repo = repoFor(task);
    const r = resolveRecipe({
      task,
      recipes: config.recipes,
      official: config.official_recipes,
      network,
      ...(repo ? { repo } : {}),
    });
    const base: PlannedTask = {
      instance_id: task.instance_id,
      repo: task.repo,
      version: task.version ?? null,
      source: null,
      config: null,
      test: null,
      notes: r.notes,
      error: null,
      packages: [],
      steps: [],
      blockers: [],
      unlisted: [],
    };
    if (!r.config) {
      planned.push({ ...base, error: repo ? r.reason : `no local repository for ${task.repo} (${r.reason})` });
      continue;
    }
    const pk = packagesOf(r.config, repo, r.official?.requirements);
    planned.push({
      ...base,
      source: r.source,
      config: r.config,
      test: scopedTestCommand(task, r.config, config.test_scope),
      packages: pk.packages,
      steps: pk.steps,
      unlisted: pk.unlisted,
      blockers: offlineBlockers(r.config, { network }),
    });
  }
  return { tasks: planned, downloads: downloadGroups(planned) };
}

/**
 * Requirement specifiers a recipe installs: its requirement files (following `-r`/`-c`), pip
 * packages, what its `pip install` commands name (the project itself: its build requirements,
 * dependencies and extras), and for an official recipe the requirements swebench assembles.
 */
export function packagesOf(
  config: InstallConfig,
  repo: RepoView | null,
  officialRequirements?: string[]
): { packages: string[]; steps: PackageStep[]; unlisted: string[] } {
  const steps: PackageStep[] = [];
  const unlisted: string[] = [];
  const files = new Set(repo?.listFiles() ?? []);
  let current: PackageStep = { from: '', packages: [] };
  const step = (from: string, fn: () => void) => {
    current = { from, packages: [] };
    fn();
    if (current.packages.length > 0) steps.push(current);
  };
  const add = (spec: string) => {
    const s = spec.replace(/(^|\s)#.*$/, '').trim();
    if (s === '') return;
    if (/^([a-z+]+:\/\/|git\+)/i.test(s)) unlisted.push(`${s} (a download)`);
    else if (/^(\.|\/)/.test(s) || (s.includes('/') && !s.includes(' @ '))) unlisted.push(`${s} (a local path)`);
    else if (!current.packages.includes(s)) current.packages.push(s);
  };
  const readReqs = (path: string, seen: Set<string>) => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = files.has(path) && repo ? repo.readFile(path) : null;
    if (text === null) {
      unlisted.push(`${path} (not in the repository)`);
      return;
    }
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
    for (const raw of text.split('\n')) {
      const line = raw.replace(/(^|\s)#.*$/, '').trim();
      const inc = /^(?:-r|-c|--requirement|--constraint)[=\s]*(\S+)/.exec(line);
      if (inc?.[1]) readReqs(posixJoin(dir, inc[1]), seen);
      else if (line.startsWith('-e ')) project(line.slice(3).trim());
      else if (!line.startsWith('-')) add(line);
    }
  };
  const project = (target: string) => {
    const m = /^\.(?:\[([^\]]*)\])?$/.exec(target.replace(/^['"]|['"]$/g, ''));
    if (!m) {
      add(target);
      return;
    }
    if (!repo) return;
    const extras = (m[1] ?? '')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    const p = projectRequirements(repo, extras);
    p.requirements.forEach(add);
    unlisted.push(...p.notes);
  };

  step('the official requirements', () => (officialRequirements ?? []).forEach(add));
  for (const f of config.reqs_path) step(f, () => readReqs(f, new Set()));
  step('pip_packages', () => config.pip_packages.forEach(add));
  for (const cmd of [...config.pre_install, ...config.install]) {
    for (const inv of cmd.split(/&&|;|\n/)) step(inv.trim(), () => pipInstall(inv));
  }
  if (/\bsetup\.py\s+(install|develop|build)/.test(config.install.join('\n')) && repo) {
    step('setup.py install', () => projectRequirements(repo).requirements.forEach(add));
  }
  const packages: string[] = [];
  const seen = new Set<string>();
  for (const p of steps.flatMap((s) => s.packages)) {
    if (!seen.has(specKey(p))) packages.push(p);
    seen.add(specKey(p));
  }
  return { packages, steps, unlisted };

  function pipInstall(inv: string): void {
    const words = shellWords(inv);
    const at = words.findIndex((w, i) => w === 'install' && /(^|\/)pip3?$/.test(words[i - 1] ?? ''));
    if (at < 0) return;
    for (let i = at + 1; i < words.length; i++) {
      const w = words[i]!;
      if (w === '-r' || w === '--requirement') {
        const f = words[++i] ?? '';
        if (!f.startsWith('/tmp/bottega-')) readReqs(f, new Set());
      } else if (w === '-e' || w === '--editable') project(words[++i] ?? '');
      else if (w.startsWith('-')) continue;
      else project(w);
    }
  }
}

/** A requirement's identity for deduplication: normalised name, the rest without spaces. */
function specKey(spec: string): string {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$/.exec(spec.trim());
  return m ? `${(m[1] ?? '').toLowerCase().replace(/[-_.]+/g, '-')}${(m[2] ?? '').replace(/\s+/g, '')}` : spec;
}

/** A requirement's normalised name and version clauses (`>=2.0,<3` → [[">=","2.0"],["<","3"]]), or null. */
function parseSpec(spec: string): { name: string; clauses: [string, string][] } | null {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?$/.exec(spec.trim());
  if (!m?.[1]) return null;
  const clauses: [string, string][] = [];
  for (const c of (m[2] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const cm = /^(===|==|!=|<=|>=|~=|<|>)\s*(\S+)$/.exec(c);
    if (!cm?.[1] || !cm[2]) return null;
    clauses.push([cm[1], cm[2]]);
  }
  return { name: m[1].toLowerCase().replace(/[-_.]+/g, '-'), clauses };
}

/** Compares dotted versions numerically where both parts are numbers (1.10 > 1.9). */
function cmpVersion(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const d = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether pinned version `v` satisfies every clause (unknown operators: no). */
function satisfies(v: string, clauses: [string, string][]): boolean {
  return clauses.every(([op, w]) => {
    const c = cmpVersion(v, w);
    if (op === '==' || op === '===') return w.endsWith('.*') ? v.startsWith(w.slice(0, -1)) : c === 0;
    if (op === '!=') return c !== 0;
    if (op === '>=') return c >= 0;
    if (op === '<=') return c <= 0;
    if (op === '>') return c > 0;
    if (op === '<') return c < 0;
    return false;
  });
}

/** The pinned version of a spec (`==1.2`), or null. */
function pinOf(s: { clauses: [string, string][] }): string | null {
  const p = s.clauses.find(([op, w]) => (op === '==' || op === '===') && !w.endsWith('.*'));
  return p ? p[1] : null;
}

/** Whether one resolver run can take both sets of requirements: a pin must meet the other side's clauses. */
function compatible(a: Map<string, [string, string][][]>, b: Map<string, [string, string][][]>): boolean {
  for (const [name, specsB] of b) {
    for (const sa of a.get(name) ?? []) {
      for (const sb of specsB) {
        const pa = pinOf({ clauses: sa });
        const pb = pinOf({ clauses: sb });
        if (pa !== null && !satisfies(pa, sb)) return false;
        if (pb !== null && !satisfies(pb, sa)) return false;
      }
    }
  }
  return true;
}

/**
 * Per Python version, install steps grouped so that one pip resolver run can take each group (no
 * pinned version that another requirement of the group excludes; greedy, in task order): usually
 * one group per version, so one `pip download` fills the wheelhouse; a step that re-pins (official
 * `pip_packages` after a requirement file) starts another.
 */
export function downloadGroups(tasks: PlannedTask[]): DownloadGroup[] {
  type Specs = Map<string, [string, string][][]>;
  const out: (DownloadGroup & { specs: Specs; keys: Set<string> })[] = [];
  for (const t of tasks) {
    if (!t.config) continue;
    for (const st of t.steps) {
      const specs: Specs = new Map();
      for (const p of st.packages) {
        const ps = parseSpec(p);
        if (ps) specs.set(ps.name, [...(specs.get(ps.name) ?? []), ps.clauses]);
      }
      let group = out.find((g) => g.python === t.config!.python && compatible(g.specs, specs));
      if (!group) {
        group = { python: t.config.python, packages: [], tasks: [], specs: new Map(), keys: new Set() };
        out.push(group);
      }
      if (!group.tasks.includes(t.instance_id)) group.tasks.push(t.instance_id);
      for (const p of st.packages) {
        if (!group.keys.has(specKey(p))) group.packages.push(p);
        group.keys.add(specKey(p));
      }
      for (const [n, list] of specs) group.specs.set(n, [...(group.specs.get(n) ?? []), ...list]);
    }
  }
  return out
    .map(({ specs: _specs, keys: _keys, ...g }) => g)
    .sort((a, b) => a.python.localeCompare(b.python, undefined, { numeric: true }));
}

function posixJoin(dir: string, rel: string): string {
  const parts = `${dir}${rel}`.split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '..') out.pop();
    else if (p !== '.' && p !== '') out.push(p);
  }
  return out.join('/');
}

function shellWords(s: string): string[] {
  return [...s.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '').filter(Boolean);
}
