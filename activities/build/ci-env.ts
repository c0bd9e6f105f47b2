/**
 * The test environment a repository's CI runs its tests in, read from its tox configuration:
 * tox.ini `[testenv]`, setup.cfg `[testenv]` (with `[tox:tox]`), or pyproject.toml
 * `[tool.tox.env_run_base]` / `legacy_tox_ini`. Only the default test environment counts: factor
 * conditional lines (`min: -r requirements/tests-min.txt`, `dev: https://…`) select other CI jobs
 * (minimum or development versions of the dependencies) and are skipped with a note.
 */
import { parse as parseToml } from 'smol-toml';
import { parseIni } from './ini';

/** What {@link readCiTestEnv} found. */
export interface CiTestEnv {
  /** Where it was read, e.g. `tox.ini [testenv]`. */
  from: string;
  /** Requirement files installed (`-r file`), relative to the repository root. */
  reqFiles: string[];
  /** Plain requirements (`pytest>=7`). */
  deps: string[];
  /** Extras of the project installed with it (`extras = test`). */
  extras: string[];
  /** PEP 735 dependency groups (`dependency_groups = ["tests"]`). */
  groups: string[];
  /** What was left out, and why (factor-conditional lines, substitutions, constraints, URLs). */
  skipped: string[];
}

/** The default tox test environment, or null when the repository has no tox configuration. */
export function readCiTestEnv(read: (path: string) => string | null): CiTestEnv | null {
  const tox = read('tox.ini');
  if (tox !== null) {
    const env = fromIni(tox, 'tox.ini');
    if (env) return env;
  }
  const cfg = read('setup.cfg');
  if (cfg !== null && /^\[tox:tox\]/m.test(cfg)) {
    const env = fromIni(cfg, 'setup.cfg');
    if (env) return env;
  }
  const pyproject = read('pyproject.toml');
  if (pyproject !== null) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(pyproject) as Record<string, unknown>;
    } catch {
      return null;
    }
    const tox = table(table(doc.tool).tox);
    if (typeof tox.legacy_tox_ini === 'string') return fromIni(tox.legacy_tox_ini, 'pyproject.toml legacy_tox_ini');
    const base = table(tox.env_run_base);
    if (Object.keys(base).length > 0) {
      const env = empty('pyproject.toml [tool.tox.env_run_base]');
      for (const d of strings(base.deps)) addDep(env, d);
      env.extras.push(...strings(base.extras));
      env.groups.push(...strings(base.dependency_groups));
      return env;
    }
  }
  return null;
}

function fromIni(text: string, file: string): CiTestEnv | null {
  const testenv = parseIni(text).get('testenv');
  if (!testenv) return null;
  const env = empty(`${file} [testenv]`);
  for (const line of lines(testenv.get('deps'))) addDep(env, line);
  env.extras.push(...words(testenv.get('extras')));
  env.groups.push(...words(testenv.get('dependency_groups')));
  return env;
}

function addDep(env: CiTestEnv, raw: string): void {
  const line = raw.replace(/\s+#.*$/, '').trim();
  if (line === '' || line.startsWith('#')) return;
  if (/^[\w{}.,!-]+:\s/.test(line)) {
    env.skipped.push(`${JSON.stringify(line)} (only in the factor's CI job)`);
    return;
  }
  if (line.includes('{[')) {
    env.skipped.push(`${JSON.stringify(line)} (tox substitution not followed)`);
    return;
  }
  const req = /^-r\s*(.+)$/.exec(line) ?? /^--requirement[=\s]+(.+)$/.exec(line);
  if (req?.[1]) {
    env.reqFiles.push(req[1].trim().replace(/^\{toxinidir\}\//, ''));
    return;
  }
  if (line.startsWith('-')) {
    env.skipped.push(`${JSON.stringify(line)} (pip option)`);
    return;
  }
  if (/^[a-z+]+:\/\//i.test(line) || line.startsWith('git+')) {
    env.skipped.push(`${JSON.stringify(line)} (a download: needs a network)`);
    return;
  }
  env.deps.push(line);
}

function empty(from: string): CiTestEnv {
  return { from, reqFiles: [], deps: [], extras: [], groups: [], skipped: [] };
}

function lines(v: string | undefined): string[] {
  return (v ?? '')
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function words(v: string | undefined): string[] {
  return (v ?? '').split(/[\s,]+/).filter((s) => s !== '');
}

function table(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
