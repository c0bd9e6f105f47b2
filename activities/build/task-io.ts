import { InstallConfig, LogParserName, TaskRecord } from '../../contracts/task';
import { SWEBENCH_PARSER_FAMILIES, parserFamily } from '../grading/parsers/registry';
import { stripBom } from '../text-input';

/** One problem found while reading task records: where it is and what is wrong. */
export interface TaskProblem {
  /** The file name given to {@link parseTaskJsonl}. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** Dotted path of the offending field (`''` for the whole line). */
  path: string;
  /** Full message, naming `file:line` and the field. */
  message: string;
}

/** What {@link parseTaskJsonl} returns: the valid records, and one problem per rejected line. */
export interface ParsedTasks {
  records: TaskRecord[];
  problems: TaskProblem[];
}

/**
 * Parses SWE-bench / SWE-rebench task records, one JSON object per line. Blank lines are skipped.
 * FAIL_TO_PASS / PASS_TO_PASS may be JSON-encoded strings (HF parquet exports) or lists; they come
 * back as lists. Every other key is kept as it was, in its original order, so re-serialising a
 * record loses nothing. A record whose `install_config` cannot be normalised, or whose
 * `instance_id` was already seen, is rejected with a problem.
 */
export function parseTaskJsonl(text: string, file: string): ParsedTasks {
  const records: TaskRecord[] = [];
  const problems: TaskProblem[] = [];
  const seen = new Map<string, number>();
  const lines = stripBom(text).split('\n');
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const src = rawLine.trim();
    if (src === '') return;
    const problem = (path: string, msg: string) =>
      problems.push({ file, line, path, message: `${file}:${line}: ${path === '' ? '' : `${path}: `}${msg}` });
    let value: unknown;
    try {
      value = JSON.parse(src);
    } catch (e) {
      problem('', `not valid JSON (${(e as Error).message})`);
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problem('', `expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
      return;
    }
    const raw = value as Record<string, unknown>;
    const parsed = TaskRecord.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.map(String).join('.');
        const missing = issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined;
        problem(path, missing ? 'required field is missing' : issue.message);
      }
      return;
    }
    if (raw.install_config != null) {
      const ic = normalizeInstallConfig(raw.install_config);
      if (!ic.ok) {
        for (const p of ic.problems) problem(p.path === '' ? 'install_config' : `install_config.${p.path}`, p.message);
        return;
      }
    }
    const first = seen.get(parsed.data.instance_id);
    if (first !== undefined) {
      problem(
        'instance_id',
        `duplicate instance_id ${JSON.stringify(parsed.data.instance_id)} (first on line ${first})`
      );
      return;
    }
    seen.set(parsed.data.instance_id, line);
    records.push(inOriginalOrder(raw, parsed.data));
  });
  return { records, problems };
}

/** The parsed record with the original keys first, in their original order, then any defaults. */
function inOriginalOrder(raw: Record<string, unknown>, parsed: TaskRecord): TaskRecord {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(raw)) out[k] = (parsed as Record<string, unknown>)[k];
  for (const [k, v] of Object.entries(parsed)) if (!(k in out)) out[k] = v;
  return out as TaskRecord;
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** A problem with one field of an `install_config`. */
export interface InstallConfigProblem {
  /** Field name (`''` for the whole object). */
  path: string;
  message: string;
}

/** Result of {@link normalizeInstallConfig}. `notes` say what was reinterpreted or ignored. */
export type NormalizedInstallConfig =
  { ok: true; config: InstallConfig; notes: string[] } | { ok: false; problems: InstallConfigProblem[] };

/**
 * SWE-bench / SWE-rebench log-parser names (with or without the `parse_log_` prefix) and the parser
 * family of ours that reads the same output exactly (swebench 5.0.2's Python `PARSER_REGISTRY`:
 * `parse_log_astropy` is `pytest_v2`, `parse_log_requests` is `pytest_options`, …).
 */
export const LOG_PARSER_ALIASES: Readonly<Record<string, LogParserName>> = SWEBENCH_PARSER_FAMILIES;

/** Keys SWE-bench / SWE-rebench specs may carry that have no counterpart here; ignored with a note. */
const IGNORED_KEYS = new Set([
  'env_yml_path',
  'no_use_env',
  'eval_commands',
  'execute_test_as_nonroot',
  'nano_cpus',
  'docker_specs',
  'test_directives',
]);

/**
 * Maps an `install_config` as SWE-rebench (or SWE-bench's spec tables) spell it onto
 * {@link InstallConfig}:
 * - `install`, `pre_install`, `reqs_path`, `pip_packages`, `system_packages`: string or list; `null` is empty;
 * - `test_cmd`: string, or a list joined with spaces;
 * - `packages`: `"requirements.txt"` (any `*.txt`) is added to `reqs_path`; a space-separated
 *   package list goes to `pip_packages`; conda `environment.yml` is rejected;
 * - `log_parser`: `parse_log_pytest` → `pytest`, `parse_log_sympy` → `sympy`, `parse_log_astropy` →
 *   `pytest_v2`, … (see {@link LOG_PARSER_ALIASES}); others are rejected;
 * - `python`: `"3.9"`, `"3.9.7"` (patch dropped) or the number 3.9;
 * - `env_vars`: `null` or an object whose scalar values become strings.
 *
 * A JSON-encoded string is decoded first. Known SWE-bench keys with no counterpart (`eval_commands`,
 * `env_yml_path`, …) and unknown keys are ignored with a note.
 */
export function normalizeInstallConfig(raw: unknown): NormalizedInstallConfig {
  const problems: InstallConfigProblem[] = [];
  const notes: string[] = [];
  let input = raw;
  if (typeof input === 'string') {
    try {
      input = JSON.parse(input);
    } catch {
      return { ok: false, problems: [{ path: '', message: 'a string that is not JSON; expected an object' }] };
    }
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: [{ path: '', message: `expected an object, got ${describe(input)}` }] };
  }
  const src = input as Record<string, unknown>;
  const out: Record<string, unknown> = {};

  const list = (key: string): string[] | undefined => {
    const v = src[key];
    if (v == null) return undefined;
    if (typeof v === 'string') return v.trim() === '' ? [] : [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    problems.push({ path: key, message: `expected a string or a list of strings, got ${describe(v)}` });
    return undefined;
  };

  for (const key of Object.keys(src)) {
    if (IGNORED_KEYS.has(key)) {
      if (src[key] != null) notes.push(`install_config.${key} has no counterpart here and is ignored`);
    } else if (!KNOWN_KEYS.has(key)) {
      notes.push(`unknown install_config key ${JSON.stringify(key)} ignored`);
    }
  }

  if (src.language != null && src.language !== 'python') {
    problems.push({ path: 'language', message: `only "python" is supported, got ${describe(src.language)}` });
  }

  const python = normalizePython(src.python);
  if (python.error) problems.push({ path: 'python', message: python.error });
  else if (python.value !== undefined) out.python = python.value;
  if (python.note) notes.push(python.note);

  for (const key of ['system_packages', 'pre_install', 'install'] as const) {
    const v = list(key);
    if (v) out[key] = v;
  }
  const reqs = list('reqs_path') ?? [];
  // A pip_packages string is a space-separated package list, as in SWE-bench's spec tables.
  let pip = typeof src.pip_packages === 'string' ? splitWords(src.pip_packages) : (list('pip_packages') ?? []);

  const packages = src.packages;
  if (packages != null) {
    if (typeof packages !== 'string') {
      problems.push({ path: 'packages', message: `expected a string, got ${describe(packages)}` });
    } else if (/\.ya?ml$/.test(packages.trim())) {
      problems.push({
        path: 'packages',
        message: `conda environment files (${packages}) are not supported; list pip requirements in reqs_path`,
      });
    } else if (/\.txt$/.test(packages.trim())) {
      if (!reqs.includes(packages.trim())) {
        reqs.push(packages.trim());
        notes.push(`packages ${JSON.stringify(packages)} added to reqs_path`);
      }
    } else if (packages.trim() !== '') {
      const words = splitWords(packages);
      pip = [...pip, ...words.filter((w) => !pip.includes(w))];
      notes.push(`packages ${JSON.stringify(packages)} added to pip_packages`);
    }
  }
  if (reqs.length > 0) out.reqs_path = reqs;
  if (pip.length > 0) out.pip_packages = pip;

  const testCmd = src.test_cmd;
  if (testCmd == null) problems.push({ path: 'test_cmd', message: 'required field is missing' });
  else if (typeof testCmd === 'string' && testCmd.trim() !== '') out.test_cmd = testCmd;
  else if (Array.isArray(testCmd) && testCmd.length > 0 && testCmd.every((x) => typeof x === 'string')) {
    out.test_cmd = testCmd.join(' ');
  } else problems.push({ path: 'test_cmd', message: `expected a command string or list, got ${describe(testCmd)}` });

  const parser = normalizeLogParser(src.log_parser);
  if ('error' in parser) problems.push({ path: 'log_parser', message: parser.error });
  else out.log_parser = parser.value;

  const env = src.env_vars;
  if (env != null) {
    if (typeof env !== 'object' || Array.isArray(env)) {
      problems.push({ path: 'env_vars', message: `expected an object of NAME: value, got ${describe(env)}` });
    } else {
      const vars: Record<string, string> = {};
      for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') vars[k] = String(v);
        else problems.push({ path: `env_vars.${k}`, message: `expected a string, got ${describe(v)}` });
      }
      out.env_vars = vars;
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  const parsed = InstallConfig.safeParse(out);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    };
  }
  return { ok: true, config: parsed.data, notes };
}

const KNOWN_KEYS = new Set([
  'language',
  'python',
  'system_packages',
  'pre_install',
  'reqs_path',
  'pip_packages',
  'packages',
  'install',
  'test_cmd',
  'log_parser',
  'env_vars',
]);

/** Maps a log-parser name (ours, or SWE-bench's `parse_log_*`) to ours, or says why it cannot. */
export function normalizeLogParser(name: unknown): { value: LogParserName } | { error: string } {
  if (name == null) return { error: 'required field is missing' };
  if (typeof name !== 'string') return { error: `expected a parser name, got ${describe(name)}` };
  const value = parserFamily(name);
  if (value) return { value };
  const known = Object.keys(LOG_PARSER_ALIASES)
    .map((k) => `parse_log_${k}`)
    .join(', ');
  return {
    error: `unknown log parser ${JSON.stringify(name)}; supported: ${LogParserName.options.join(', ')} (or SWE-bench's ${known})`,
  };
}

function normalizePython(v: unknown): { value?: string; error?: string; note?: string } {
  if (v == null) return {};
  if (typeof v === 'number') {
    const s = String(v);
    if (!/^\d+\.\d+$/.test(s)) return { error: `expected major.minor, got the number ${s}` };
    if (/^\d+\.1$/.test(s)) return { error: `the number ${s} is ambiguous (3.1 or 3.10?); write it as a string` };
    return { value: s };
  }
  if (typeof v !== 'string') return { error: `expected a version string like "3.9", got ${describe(v)}` };
  const m = /^\s*(\d+)\.(\d+)(?:\.\d+)?\s*$/.exec(v);
  if (!m) return { error: `expected major.minor, e.g. "3.11", got ${JSON.stringify(v)}` };
  const value = `${m[1]}.${m[2]}`;
  return value === v ? { value } : { value, note: `python ${JSON.stringify(v)} read as ${value}` };
}

function splitWords(s: string): string[] {
  return s.split(/\s+/).filter((w) => w !== '');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
