import { parse as parseToml } from 'smol-toml';
import type { InstallConfig, LogParserName } from '../../contracts/task';
import { readCiTestEnv, type CiTestEnv } from './ci-env';
import { parseIni } from './ini';

export { parseIni } from './ini';

/**
 * Read-only view of a repository at the environment-setup commit. The caller implements it over
 * git (`ls-tree` / `show`); tests implement it over a map.
 */
export interface RepoView {
  /** Every file path, relative to the root, with `/` separators. */
  listFiles(): string[];
  /** A file's text, or null when it does not exist (or is not text). */
  readFile(path: string): string | null;
}

/** The Python versions we have base images for, oldest first. */
export const PYTHON_BASES = ['3.9', '3.11', '3.13'] as const;

/** The pytest command: report all outcomes (`-rA`), no tracebacks, no cache files written. */
export const PYTEST_CMD = 'pytest -rA --tb=no -p no:cacheprovider';
/** The unittest command: verbose, so every test prints its own status line. */
export const UNITTEST_CMD = 'python -m unittest -v';
/** Django's own test runner, as SWE-bench calls it. */
export const DJANGO_RUNTESTS_CMD = './tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1';

/** What {@link detectPythonRecipe} returns: a full config, or why none could be derived. */
export type HeuristicResult =
  { config: InstallConfig; notes: string[] } | { config: null; reason: string; notes: string[] };

/** Extras (and dependency groups) that hold test dependencies, in order of preference. */
const TEST_EXTRAS = ['test', 'tests', 'testing', 'dev'];
/** At most this many test files are read to tell pytest-style from unittest-style tests. */
const MAX_TEST_FILES_READ = 200;

/**
 * Derives an install config for a Python repository from its files alone (nothing is executed):
 * pyproject.toml, setup.cfg, setup.py (regular expressions only), requirements files, tox.ini,
 * pytest.ini, conftest.py and the tests themselves. Every decision is explained in `notes`.
 */
export function detectPythonRecipe(repo: RepoView, opts: { createdAt?: string } = {}): HeuristicResult {
  const notes: string[] = [];
  const files = repo.listFiles();
  const fileSet = new Set(files);
  const read = (p: string) => (fileSet.has(p) ? repo.readFile(p) : null);

  const project = readProject(read, notes);
  const ci = readCiTestEnv(read);
  const fromCi = ci && ci.reqFiles.length + ci.deps.length + ci.extras.length + ci.groups.length > 0 ? ci : null;
  const testEnv = fromCi ? ciTestEnv(fromCi, project, fileSet, notes) : fallbackTestEnv(files, read, project, notes);
  const { reqFiles, extra, groups } = testEnv;
  const pyFiles = files.filter((f) => f.endsWith('.py'));
  const testFiles = pyFiles.filter(isTestFile);

  if (!project.pyproject && !project.setupPy && !project.setupCfg && reqFiles.length === 0 && pyFiles.length === 0) {
    return {
      config: null,
      reason:
        'not a Python project: no pyproject.toml, setup.py, setup.cfg, requirements*.txt or .py files at the setup commit',
      notes,
    };
  }
  if (testFiles.length === 0) {
    return {
      config: null,
      reason:
        'no tests found (looked for tests/, test/, testing/, test_*.py, *_test.py and tests.py); add a recipe to the spec',
      notes,
    };
  }

  // Dependencies that the chosen install steps will bring in.
  const reqDeps = new Set<string>();
  for (const f of reqFiles) for (const n of requirementNames(read(f) ?? '')) reqDeps.add(n);
  const installed = new Set<string>([...reqDeps]);
  if (project.installable) {
    for (const d of project.deps) installed.add(d);
    if (extra) for (const d of project.extras.get(extra) ?? []) installed.add(reqName(d) ?? d);
  }
  const groupPackages = groups.flatMap((g) => project.groups.get(g) ?? []);
  for (const d of [...groupPackages, ...testEnv.deps]) installed.add(reqName(d) ?? d);
  const anyDeps = new Set<string>([...installed, ...project.toolDeps]);
  for (const list of project.extras.values()) for (const d of list) anyDeps.add(reqName(d) ?? d);
  for (const list of project.groups.values()) for (const d of list) anyDeps.add(reqName(d) ?? d);

  // Test framework.
  const testRoot = ['tests', 'test', 'testing'].find((d) => files.some((f) => f.startsWith(`${d}/`)));
  notes.push(
    testRoot
      ? `tests live under ${testRoot}/ (${testFiles.length} test files)`
      : `${testFiles.length} test files outside a tests/ directory`
  );
  const framework = chooseFramework({ files, read, testFiles, project, anyDeps });
  notes.push(framework.note);

  // Install steps.
  const install: string[] = [];
  if (project.installable) {
    const target = extra ? `".[${extra}]"` : '.';
    install.push(`pip install -e ${target}`);
    notes.push(
      `install: pip install -e ${target} (${project.installable}${extra ? ` declares a "${extra}" extra` : ''})`
    );
  } else if (reqFiles.length > 0) {
    notes.push('install: requirements only (no setup.py, and pyproject.toml has no build configuration)');
  } else {
    notes.push('install: nothing to install (no packaging files or requirements)');
  }
  const pip: string[] = [...groupPackages, ...testEnv.deps];
  if (groups.length > 0) {
    notes.push(
      `pip_packages: the ${groups.map((g) => `"${g}"`).join(', ')} dependency group (${groupPackages.join(', ') || 'empty'})`
    );
  }
  if (framework.parser === 'pytest' && !installed.has('pytest')) {
    pip.push('pytest');
    notes.push('pip_packages: pytest added (not among the installed dependencies)');
  }

  const python = choosePython({
    specifier: project.requiresPython?.spec,
    specifierFrom: project.requiresPython?.from,
    classifiers: project.classifiers,
    createdAt: opts.createdAt,
  });
  notes.push(python.note);

  return {
    config: {
      language: 'python',
      python: python.version,
      system_packages: [],
      pre_install: [],
      reqs_path: reqFiles,
      pip_packages: pip,
      install,
      test_cmd: framework.cmd,
      log_parser: framework.parser,
      env_vars: {},
    },
    notes,
  };
}

// ---------------------------------------------------------------------------------------------
// Project metadata

/**
 * What installing the project itself (`pip install -e ".[extras]"`) pulls in, as written in its
 * metadata: build requirements, runtime dependencies and the extras' dependencies. `notes` say what
 * could not be read (e.g. a setup.py whose install_requires is computed).
 */
export function projectRequirements(
  repo: RepoView,
  extras: string[] = []
): { requirements: string[]; notes: string[] } {
  const files = new Set(repo.listFiles());
  const notes: string[] = [];
  const info = readProject((p) => (files.has(p) ? repo.readFile(p) : null), notes);
  if (!info.installable) return { requirements: [], notes: ['the project is not installable (no packaging files)'] };
  const requirements = [...info.buildRequires, ...info.depSpecs];
  for (const e of extras) {
    const list = info.extras.get(normalizeName(e));
    if (list) requirements.push(...list);
    else notes.push(`extra "${e}" is not declared`);
  }
  return { requirements, notes };
}

interface ProjectInfo {
  pyproject: boolean;
  setupPy: boolean;
  setupCfg: boolean;
  /** File that makes `pip install -e .` work, or null. */
  installable: string | null;
  name: string | null;
  requiresPython: { spec: string; from: string } | null;
  /** Python minor versions named in trove classifiers, e.g. [[3, 8], [3, 9]]. */
  classifiers: [number, number][];
  /** Normalised names of runtime dependencies. */
  deps: Set<string>;
  /** Runtime dependencies as written (with their specifiers), for the build plan. */
  depSpecs: string[];
  /** `[build-system] requires` (default setuptools + wheel for a setup.py project). */
  buildRequires: string[];
  /** Extras: name → requirement strings. */
  extras: Map<string, string[]>;
  /** PEP 735 dependency groups and Poetry groups: name → requirement strings (names for Poetry). */
  groups: Map<string, string[]>;
  /** Dependencies named by tools (tox deps, tests_require): evidence only, not installed. */
  toolDeps: Set<string>;
  /** Where pytest is configured, if anywhere. */
  pytestConfig: string | null;
}

type Reader = (path: string) => string | null;

function readProject(read: Reader, notes: string[]): ProjectInfo {
  const info: ProjectInfo = {
    pyproject: false,
    setupPy: false,
    setupCfg: false,
    installable: null,
    name: null,
    requiresPython: null,
    classifiers: [],
    deps: new Set(),
    depSpecs: [],
    buildRequires: [],
    extras: new Map(),
    groups: new Map(),
    toolDeps: new Set(),
    pytestConfig: null,
  };
  const addExtra = (name: string, reqs: string[]) => {
    const key = normalizeName(name);
    info.extras.set(key, [...(info.extras.get(key) ?? []), ...reqs]);
  };

  const pyprojectText = read('pyproject.toml');
  if (pyprojectText !== null) {
    info.pyproject = true;
    let doc: Record<string, unknown> = {};
    try {
      doc = parseToml(pyprojectText) as Record<string, unknown>;
    } catch (e) {
      notes.push(`pyproject.toml does not parse as TOML (${firstLine((e as Error).message)}); ignored`);
    }
    const proj = table(doc.project);
    const tool = table(doc.tool);
    const poetry = table(tool.poetry);
    if (doc['build-system'] !== undefined || doc.project !== undefined || tool.poetry !== undefined) {
      info.installable = 'pyproject.toml';
    }
    if (typeof proj.name === 'string') info.name = normalizeName(proj.name);
    else if (typeof poetry.name === 'string') info.name = normalizeName(poetry.name);
    if (typeof proj['requires-python'] === 'string') {
      info.requiresPython = { spec: proj['requires-python'], from: 'pyproject.toml [project] requires-python' };
    }
    for (const d of strings(proj.dependencies)) addName(info.deps, d);
    info.depSpecs.push(...strings(proj.dependencies));
    info.buildRequires.push(...strings(table(doc['build-system']).requires));
    for (const [k, v] of Object.entries(table(proj['optional-dependencies']))) addExtra(k, strings(v));
    for (const [k, v] of Object.entries(table(doc['dependency-groups']))) {
      info.groups.set(normalizeName(k), strings(v));
    }
    // Poetry: [tool.poetry.dependencies], dev-dependencies and group.<name>.dependencies.
    const poetryDeps = table(poetry.dependencies);
    if (typeof poetryDeps.python === 'string' && !info.requiresPython) {
      info.requiresPython = { spec: poetryDeps.python, from: 'pyproject.toml [tool.poetry.dependencies] python' };
    }
    for (const k of Object.keys(poetryDeps)) if (k !== 'python') info.deps.add(normalizeName(k));
    info.depSpecs.push(...Object.keys(poetryDeps).filter((k) => k !== 'python'));
    const poetryDev = Object.keys(table(poetry['dev-dependencies']));
    if (poetryDev.length > 0) info.groups.set('dev', poetryDev);
    for (const [g, v] of Object.entries(table(poetry.group))) {
      const names = Object.keys(table(table(v).dependencies));
      if (names.length > 0) info.groups.set(normalizeName(g), names);
    }
    for (const [k, v] of Object.entries(table(poetry.extras))) addExtra(k, strings(v));
    if (tool.pytest !== undefined && table(tool.pytest)['ini_options'] !== undefined) {
      info.pytestConfig = 'pyproject.toml [tool.pytest.ini_options]';
    }
    addClassifiers(info, strings(proj.classifiers).join('\n'));
    addClassifiers(info, strings(poetry.classifiers).join('\n'));
  }

  const cfgText = read('setup.cfg');
  if (cfgText !== null) {
    info.setupCfg = true;
    const cfg = parseIni(cfgText);
    const meta = cfg.get('metadata');
    const opts = cfg.get('options');
    const name = meta?.get('name');
    if (name && !info.name) info.name = normalizeName(name);
    const pr = opts?.get('python_requires');
    if (pr && !info.requiresPython) info.requiresPython = { spec: pr, from: 'setup.cfg [options] python_requires' };
    for (const d of lines(opts?.get('install_requires'))) addName(info.deps, d);
    info.depSpecs.push(...lines(opts?.get('install_requires')));
    for (const d of lines(opts?.get('tests_require'))) addName(info.toolDeps, d);
    for (const [k, v] of cfg.get('options.extras_require') ?? []) addExtra(k, lines(v));
    if (cfg.has('tool:pytest') && !info.pytestConfig) info.pytestConfig = 'setup.cfg [tool:pytest]';
    addClassifiers(info, meta?.get('classifiers') ?? '');
  }

  const setupText = read('setup.py');
  if (setupText !== null) {
    info.setupPy = true;
    info.installable ??= 'setup.py';
    const pr = /python_requires\s*=\s*(['"])(.*?)\1/.exec(setupText);
    if (pr?.[2] && !info.requiresPython) info.requiresPython = { spec: pr[2], from: 'setup.py python_requires' };
    const name = /\bname\s*=\s*(['"])([A-Za-z0-9._-]+)\1/.exec(setupText);
    if (name?.[2] && !info.name) info.name = normalizeName(name[2]);
    const installRequires = literalList(setupText, 'install_requires');
    if (installRequires) for (const d of installRequires) addName(info.deps, d);
    if (installRequires) info.depSpecs.push(...installRequires);
    else if (/install_requires\s*=/.test(setupText)) {
      notes.push('setup.py: install_requires is not a literal list; pip will resolve it at install time');
    }
    for (const d of literalList(setupText, 'tests_require') ?? []) addName(info.toolDeps, d);
    if (/extras_require/.test(setupText)) {
      const re = /(['"])([A-Za-z0-9._-]+)\1\s*:\s*\[([^\]]*)\]/g;
      for (const m of setupText.matchAll(re)) if (m[2] && m[3] !== undefined) addExtra(m[2], stringLiterals(m[3]));
    }
    addClassifiers(info, setupText);
  }

  const toxText = read('tox.ini');
  if (toxText !== null) {
    const tox = parseIni(toxText);
    for (const [section, kv] of tox) {
      if (section === 'testenv' || section.startsWith('testenv:')) {
        for (const d of lines(kv.get('deps'))) addName(info.toolDeps, d);
        if (/\bpytest\b|\bpy\.test\b/.test(kv.get('commands') ?? '')) info.toolDeps.add('pytest');
      }
    }
    if (tox.has('pytest') && !info.pytestConfig) info.pytestConfig = 'tox.ini [pytest]';
  }
  if (read('pytest.ini') !== null) info.pytestConfig = 'pytest.ini';

  if (info.setupPy && info.buildRequires.length === 0) info.buildRequires.push('setuptools', 'wheel');
  if (info.pyproject && !info.installable) {
    notes.push('pyproject.toml has no [build-system], [project] or [tool.poetry]: it is not treated as installable');
  }
  return info;
}

/** The test dependencies chosen: requirement files, an extra, dependency groups, plain requirements. */
interface TestEnvChoice {
  reqFiles: string[];
  /** Extra installed with the project (`pip install -e ".[extra]"`). */
  extra: string | undefined;
  /** PEP 735 / Poetry groups whose packages go to pip_packages. */
  groups: string[];
  /** Plain requirements (from the CI configuration) for pip_packages. */
  deps: string[];
}

/**
 * The environment CI tests with, from the tox configuration: its `-r` files, extras, dependency
 * groups and plain deps; nothing else (no docs/typing/min-version files). A project that is not
 * installable also gets its base requirements.txt.
 */
function ciTestEnv(ci: CiTestEnv, project: ProjectInfo, fileSet: Set<string>, notes: string[]): TestEnvChoice {
  const missing = ci.reqFiles.filter((f) => !fileSet.has(f));
  const reqFiles = ci.reqFiles.filter((f) => fileSet.has(f));
  if (!project.installable && fileSet.has('requirements.txt') && !reqFiles.includes('requirements.txt')) {
    reqFiles.unshift('requirements.txt');
  }
  const extras = ci.extras.map(normalizeName);
  const extra = extras.find((e) => project.extras.has(e));
  const groups = ci.groups.map(normalizeName).filter((g) => project.groups.has(g));
  const what = [
    ...ci.reqFiles.map((f) => `-r ${f}`),
    ...ci.deps,
    ...ci.extras.map((e) => `extra ${e}`),
    ...ci.groups.map((g) => `group ${g}`),
  ];
  notes.push(`test environment as CI runs it (${ci.from}): ${what.join(', ')}`);
  if (missing.length > 0) notes.push(`CI requirement files not in the repository, ignored: ${missing.join(', ')}`);
  const undeclared = [
    ...extras.filter((e) => !project.extras.has(e)).map((e) => `extra ${e}`),
    ...ci.groups.filter((g) => !project.groups.has(normalizeName(g))).map((g) => `group ${g}`),
  ];
  if (undeclared.length > 0)
    notes.push(`CI names what the project does not declare, ignored: ${undeclared.join(', ')}`);
  if (ci.skipped.length > 0) notes.push(`left out of the CI test environment: ${ci.skipped.join('; ')}`);
  if (reqFiles.length > 0) notes.push(`requirements: ${reqFiles.join(', ')}`);
  return { reqFiles, extra, groups, deps: ci.deps };
}

/** Without CI configuration: requirement files by name, and the first test extra or group. */
function fallbackTestEnv(files: string[], read: Reader, project: ProjectInfo, notes: string[]): TestEnvChoice {
  const reqFiles = pickRequirementFiles(files, read, notes);
  const extra = TEST_EXTRAS.find((e) => project.extras.has(e));
  const group = extra ? undefined : TEST_EXTRAS.find((g) => project.groups.has(g));
  return { reqFiles, extra, groups: group ? [group] : [], deps: [] };
}

/** Names of requirement files that are not for running the tests. */
const NOT_TEST_REQS = /doc|lint|typ(e|ing)|mypy|release|publish|bench|build/i;
/** Names of pin files for minimum (or oldest) dependency versions: a separate CI job's, not the default. */
const MIN_PINS = /(^|[-_.])(min|minimum|minimal|lowest|oldest)([-_.]|$)/i;

/**
 * Requirement files to install, by name: root requirements*.txt, requirements/*.txt and
 * *-requirements.txt. Skipped, each with a note: docs/lint/typing/release/build files, pin files of
 * minimum versions, files that download (URLs: development versions), and files that include a
 * skipped one (`-r docs.txt`: a developer's everything-environment).
 */
function pickRequirementFiles(files: string[], read: Reader, notes: string[]): string[] {
  const candidates = files.filter(
    (f) =>
      /^requirements[\w.-]*\.txt$/.test(f) ||
      /^requirements\/[\w.-]+\.txt$/.test(f) ||
      /^[\w.-]+[-_]requirements\.txt$/.test(f)
  );
  const skipped = new Map<string, string>();
  for (const f of candidates) {
    const b = baseName(f);
    if (NOT_TEST_REQS.test(b)) skipped.set(f, 'docs/lint/typing/release/build');
    else if (MIN_PINS.test(b.replace(/\.txt$/, ''))) skipped.set(f, 'minimum-version pins of a separate CI job');
    else if (/^\s*(-e\s+)?([a-z+]+:\/\/|git\+)/im.test(read(f) ?? '')) skipped.set(f, 'downloads (URLs)');
  }
  // A file that includes a skipped one brings in what was skipped.
  for (let changed = true; changed;) {
    changed = false;
    for (const f of candidates) {
      if (skipped.has(f)) continue;
      const dir = f.includes('/') ? f.slice(0, f.lastIndexOf('/') + 1) : '';
      const inc = [...(read(f) ?? '').matchAll(/^\s*-r\s*(\S+)/gm)].map((m) => `${dir}${m[1]}`);
      const bad = inc.filter((i) => skipped.has(i));
      if (bad.length > 0) {
        skipped.set(f, `includes ${bad.join(', ')}`);
        changed = true;
      }
    }
  }
  const chosen = candidates
    .filter((f) => !skipped.has(f))
    .sort((a, b) => requirementRank(a) - requirementRank(b) || a.localeCompare(b));
  if (chosen.length > 0) notes.push(`requirements: ${chosen.join(', ')}`);
  if (skipped.size > 0) {
    notes.push(`requirements skipped: ${[...skipped].map(([f, why]) => `${f} (${why})`).join(', ')}`);
  }
  return chosen;
}

/** Base requirements first, then test/dev ones. */
function requirementRank(f: string): number {
  const b = baseName(f);
  if (/^(requirements|base|main|install|prod)\.txt$/.test(b)) return 0;
  if (/test|dev|ci/i.test(b)) return 2;
  return 1;
}

// ---------------------------------------------------------------------------------------------
// Test framework

interface FrameworkChoice {
  parser: LogParserName;
  cmd: string;
  note: string;
}

function chooseFramework(ctx: {
  files: string[];
  read: Reader;
  testFiles: string[];
  project: ProjectInfo;
  anyDeps: Set<string>;
}): FrameworkChoice {
  const { files, read, testFiles, project, anyDeps } = ctx;
  const pytest = (why: string): FrameworkChoice => ({
    parser: 'pytest',
    cmd: PYTEST_CMD,
    note: `framework pytest: ${why}`,
  });

  // Strong pytest evidence: explicit configuration.
  const conftest = files.find((f) => f === 'conftest.py' || f.endsWith('/conftest.py'));
  if (project.pytestConfig) return pytest(`configured in ${project.pytestConfig}`);
  if (conftest) return pytest(`${conftest} present`);
  if (anyDeps.has('pytest-django')) return pytest('pytest-django among the dependencies');

  // Django: its own repository, or a project with manage.py.
  if (project.name === 'django' && files.includes('tests/runtests.py')) {
    return {
      parser: 'django',
      cmd: DJANGO_RUNTESTS_CMD,
      note: 'framework django: this is Django itself (tests/runtests.py)',
    };
  }
  const manage = files.find((f) => f === 'manage.py') ?? files.find((f) => /^[^/]+\/manage\.py$/.test(f));
  if (manage && anyDeps.has('django')) {
    return {
      parser: 'django',
      cmd: `python ${manage} test -v 2`,
      note: `framework django: ${manage} with django among the dependencies`,
    };
  }

  // Weaker evidence: what the tests import, then the dependencies.
  let importsPytest: string | undefined;
  let usesTestCase: string | undefined;
  for (const f of testFiles.slice(0, MAX_TEST_FILES_READ)) {
    const text = read(f) ?? '';
    if (!importsPytest && /^\s*(import pytest|from pytest\b|from _pytest\b)/m.test(text)) importsPytest = f;
    if (!usesTestCase && /\bunittest\.TestCase\b|^\s*from unittest import .*\bTestCase\b/m.test(text)) usesTestCase = f;
    if (importsPytest && usesTestCase) break;
  }
  if (importsPytest) return pytest(`${importsPytest} imports pytest`);
  if (anyDeps.has('pytest')) return pytest('pytest among the dependencies');
  if (usesTestCase) {
    return {
      parser: 'unittest',
      cmd: UNITTEST_CMD,
      note: `framework unittest: ${usesTestCase} uses unittest.TestCase and nothing points to pytest`,
    };
  }
  return pytest('no framework detected; pytest also runs plain-assert and unittest-style tests');
}

function isTestFile(f: string): boolean {
  if (/(^|\/)(\.git|node_modules|site-packages|docs?)\//.test(f)) return false;
  if (baseName(f) === 'conftest.py' || baseName(f) === '__init__.py') return false;
  return /(^|\/)(tests?|testing)\//.test(f) || /^test_.*\.py$|_test\.py$|^tests?\.py$/.test(baseName(f));
}

// ---------------------------------------------------------------------------------------------
// Python version

/** What {@link choosePython} is told. */
export interface PythonEvidence {
  /** PEP 440 specifier (or Poetry constraint), e.g. ">=3.8" or "^3.10". */
  specifier?: string;
  /** Where the specifier came from, for the note. */
  specifierFrom?: string;
  /** Minor versions named in classifiers. */
  classifiers?: [number, number][];
  /** Commit date (ISO 8601), e.g. the task's created_at. */
  createdAt?: string;
}

/**
 * Picks a base Python among {@link PYTHON_BASES}:
 * 1. the bases the specifier allows (all when there is none or it does not parse);
 * 2. the highest of those not newer than the newest classifier version; else, when the specifier
 *    has an upper bound, the highest allowed; else the highest not newer than the commit era
 *    (before 2021 → 3.9, later or unknown → 3.11), since a lower bound alone says nothing about
 *    how new an interpreter the code still runs on;
 * 3. when that leaves nothing, the oldest allowed base; when nothing is allowed, the closest base.
 */
export function choosePython(ev: PythonEvidence): { version: string; note: string } {
  const bases = PYTHON_BASES.map((b) => ({ b, v: parseMinor(b) }));
  const spec = ev.specifier !== undefined ? parseSpecifier(ev.specifier) : null;
  const why: string[] = [];
  let allowed = bases;
  if (ev.specifier !== undefined) {
    const from = ev.specifierFrom ?? 'specifier';
    if (spec) {
      allowed = bases.filter((x) => spec.allows(x.v));
      why.push(
        `${from} ${JSON.stringify(ev.specifier)} allows ${allowed.map((x) => x.b).join(', ') || 'none of our bases'}`
      );
    } else why.push(`${from} ${JSON.stringify(ev.specifier)} not understood; ignored`);
  }
  if (allowed.length === 0) {
    const older = spec?.allows([3, 8]) || spec?.allows([3, 7]) || spec?.allows([3, 6]);
    const version = older ? PYTHON_BASES[0] : PYTHON_BASES[2];
    return { version, note: `python ${version}: ${why.join('; ')}; trying the closest base, expect trouble` };
  }
  let cap: [number, number] | null = null;
  const cls = ev.classifiers ?? [];
  if (cls.length > 0) {
    cap = cls.reduce((a, b) => (cmp(a, b) >= 0 ? a : b));
    why.push(`classifiers go up to ${cap.join('.')}`);
  } else if (spec?.hasUpperBound) {
    why.push('the specifier bounds it from above');
  } else {
    const t = ev.createdAt ? Date.parse(ev.createdAt) : NaN;
    cap = !Number.isNaN(t) && t < Date.UTC(2021, 0, 1) ? [3, 9] : [3, 11];
    why.push(
      Number.isNaN(t)
        ? `no commit date; capped at ${cap.join('.')}`
        : `commit date ${new Date(t).toISOString().slice(0, 10)} caps it at ${cap.join('.')}`
    );
  }
  const capped = cap ? allowed.filter((x) => cmp(x.v, cap) <= 0) : allowed;
  const pick = capped.length > 0 ? capped[capped.length - 1]! : allowed[0]!;
  return { version: pick.b, note: `python ${pick.b}: ${why.join('; ')}` };
}

type Minor = [number, number];

interface Specifier {
  allows(v: Minor): boolean;
  hasUpperBound: boolean;
}

/**
 * Parses a PEP 440 specifier set (`>=3.8,<4`, `~=3.7`, `!=3.0.*`) or a Poetry constraint (`^3.8`,
 * `~3.8`, `>=3.8 || 3.7`), compared at major.minor granularity (a base is the newest patch of its
 * minor). Returns null when a clause is not understood.
 */
export function parseSpecifier(text: string): Specifier | null {
  // Poetry also separates clauses with spaces: ">=3.8 <4" is ">=3.8,<4".
  const alternatives = text
    .replace(/([\d*])\s+(?=[<>=!~^])/g, '$1,')
    .split('||')
    .map((alt) => {
      const clauses = alt
        .split(',')
        .map((c) => c.replace(/\s+/g, ''))
        .filter((c) => c !== '' && c !== '*');
      return clauses.map(parseClause);
    });
  if (alternatives.some((alt) => alt.some((c) => c === null))) return null;
  const alts = alternatives as Clause[][];
  return {
    allows: (v) => alts.some((alt) => alt.every((c) => c.allows(v))),
    hasUpperBound: alts.every((alt) => alt.some((c) => c.upper)),
  };
}

interface Clause {
  allows(v: Minor): boolean;
  upper: boolean;
}

function parseClause(c: string): Clause | null {
  const m = /^(~=|===|==|!=|<=|>=|<|>|\^|~)?v?(\d+(?:\.\d+)*)(\.\*)?$/.exec(c);
  if (!m || !m[2]) return null;
  const op = m[1] ?? '==';
  const parts = m[2].split('.').map(Number);
  const star = m[3] !== undefined;
  const mm: Minor = [parts[0] ?? 0, parts[1] ?? 0];
  const hasMinor = parts.length >= 2;
  const hasPatch = parts.length >= 3 && (parts[2] ?? 0) > 0;
  // "<4" or "<=3" bound nothing in practice: only a bound within 3.x says how new the code goes.
  const realUpper = hasMinor && mm[0] <= 3;
  const prefix = (v: Minor, n: number) => v[0] === mm[0] && (n < 2 || v[1] === mm[1]);
  switch (op) {
    case '>=':
    case '>':
      return { allows: (v) => cmp(v, mm) >= 0 && (op === '>=' || hasMinor || v[1] > 0 || v[0] > mm[0]), upper: false };
    case '<':
      return { allows: (v) => cmp(v, mm) < 0, upper: realUpper };
    case '<=':
      return { allows: (v) => (hasMinor ? cmp(v, mm) <= 0 : v[0] <= mm[0]), upper: realUpper };
    case '==':
    case '===':
      if (star || !hasPatch) return { allows: (v) => prefix(v, hasMinor ? 2 : 1), upper: true };
      return { allows: (v) => prefix(v, 2), upper: true };
    case '!=':
      if (hasPatch && !star) return { allows: () => true, upper: false };
      return { allows: (v) => !prefix(v, hasMinor ? 2 : 1), upper: false };
    case '~=':
      // ~=3.7 → >=3.7, ==3.*; ~=3.7.1 → ==3.7.*
      return { allows: (v) => cmp(v, mm) >= 0 && prefix(v, parts.length >= 3 ? 2 : 1), upper: parts.length >= 3 };
    case '^':
      return { allows: (v) => cmp(v, mm) >= 0 && v[0] === mm[0], upper: false };
    case '~':
      return { allows: (v) => cmp(v, mm) >= 0 && prefix(v, hasMinor ? 2 : 1), upper: true };
    default:
      return null;
  }
}

function parseMinor(s: string): Minor {
  const [a, b] = s.split('.').map(Number);
  return [a ?? 0, b ?? 0];
}

function cmp(a: Minor, b: Minor): number {
  return a[0] - b[0] || a[1] - b[1];
}

function addClassifiers(info: ProjectInfo, text: string): void {
  for (const m of text.matchAll(/Programming Language :: Python :: (\d+)\.(\d+)/g)) {
    const v: Minor = [Number(m[1]), Number(m[2])];
    if (!info.classifiers.some((x) => cmp(x, v) === 0)) info.classifiers.push(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Small parsers

/** Package names required by a requirements file (options, includes and local paths skipped). */
export function requirementNames(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const n = reqName(line);
    if (n) out.push(n);
  }
  return out;
}

/** The normalised project name of one requirement line, or null. */
function reqName(line: string): string | null {
  const s = line.replace(/(^|\s)#.*$/, '').trim();
  if (s === '' || s.startsWith('-') || /^(\.|\/|[a-z+]+:\/\/|git\+)/i.test(s)) return null;
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(s);
  return m?.[1] ? normalizeName(m[1]) : null;
}

function addName(set: Set<string>, req: string): void {
  const n = reqName(req);
  if (n) set.add(n);
}

/** PEP 503 name normalisation. */
function normalizeName(n: string): string {
  return n.toLowerCase().replace(/[-_.]+/g, '-');
}

/** The string literals of `key = [ ... ]` in Python source, or null when it is not a literal list. */
function literalList(src: string, key: string): string[] | null {
  const m = new RegExp(`\\b${key}\\s*=\\s*\\[([^\\]]*)\\]`).exec(src);
  return m?.[1] !== undefined ? stringLiterals(m[1]) : null;
}

function stringLiterals(src: string): string[] {
  return [...src.matchAll(/(['"])((?:(?!\1).)*)\1/g)].map((m) => m[2] ?? '');
}

function lines(v: string | undefined): string[] {
  return (v ?? '')
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function table(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function baseName(f: string): string {
  return f.slice(f.lastIndexOf('/') + 1);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
