import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ExperimentSpec, describeIssues, evaluationsOf, stageEdges, type InputProblem } from '../contracts';
import { stripBom } from '../activities/text-input';

/** Result of loading a spec file: the parsed spec, or the problems to print (one per line). */
export type LoadedSpec = { ok: true; spec: ExperimentSpec } | { ok: false; problems: InputProblem[] };

/** Reads a YAML or JSON file; problems name the file and the parse error. */
export function readSpecFile(file: string): { ok: true; value: unknown } | { ok: false; problems: InputProblem[] } {
  if (!existsSync(file)) return { ok: false, problems: [{ path: file, message: 'no such file' }] };
  const text = stripBom(readFileSync(file, 'utf8'));
  try {
    return { ok: true, value: /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text) };
  } catch (e) {
    return {
      ok: false,
      problems: [
        { path: file, message: `not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(e as Error).message}` },
      ],
    };
  }
}

/**
 * Validates a spec object and resolves its relative file paths against `baseDir` (the spec
 * file's directory). Local paths are checked to exist, so mistakes surface before anything runs.
 */
export function validateSpec(value: unknown, baseDir: string): LoadedSpec {
  const r = ExperimentSpec.safeParse(value);
  if (!r.success) return { ok: false, problems: describeIssues(r.error) };
  const spec = r.data;
  // Stages reading from a stage the experiment does not have (the graph's missing producers).
  const problems: InputProblem[] = [...stageEdges(spec).problems];
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  spec.mine?.sources.forEach((s, i) => {
    if (s.type !== 'git') return;
    s.path = abs(s.path);
    if (!existsSync(s.path) || !statSync(s.path).isDirectory()) {
      problems.push({
        path: `mine.sources[${i}].path`,
        message: `expected a git repository directory, got ${JSON.stringify(s.path)} (not found; relative paths resolve against the spec file)`,
      });
    }
    for (const key of ['issues_file', 'prs_file'] as const) {
      const f = s[key];
      if (!f) continue;
      s[key] = abs(f);
      if (!existsSync(s[key]))
        problems.push({ path: `mine.sources[${i}].${key}`, message: `file not found: ${s[key]}` });
    }
  });
  const b = spec.build;
  if (b) {
    const mustExist = (path: string, where: string, what: string) => {
      if (!existsSync(path))
        problems.push({
          path: where,
          message: `${what} not found: ${path} (relative paths resolve against the spec file)`,
        });
    };
    b.tasks.files = b.tasks.files.map((f, i) => {
      const p = abs(f);
      mustExist(p, `build.tasks.files[${i}]`, 'task file');
      return p;
    });
    for (const [repo, p] of Object.entries(b.repo_paths)) {
      b.repo_paths[repo] = abs(p);
      mustExist(b.repo_paths[repo], `build.repo_paths.${repo}`, 'repository');
    }
    if (b.wheelhouse) {
      b.wheelhouse = abs(b.wheelhouse);
      mustExist(b.wheelhouse, 'build.wheelhouse', 'wheelhouse directory');
    }
  }
  // Data files of the mix and evaluate stages (URIs of other stores are left as they are).
  const local = (p: string) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(p);
  spec.mix?.sources.forEach((s) => {
    if (s.path && local(s.path)) s.path = abs(s.path);
  });
  spec.mix?.decontaminate.benchmarks.forEach((b) => {
    if (local(b.path)) b.path = abs(b.path);
  });
  for (const ev of evaluationsOf(spec.evaluate)) {
    const t = ev.config.tasks;
    if ('path' in t && local(t.path)) t.path = abs(t.path);
  }
  return problems.length ? { ok: false, problems } : { ok: true, spec };
}

/** Loads, validates and resolves a spec file. */
export function loadSpecFile(file: string): LoadedSpec {
  const read = readSpecFile(file);
  if (!read.ok) return read;
  return validateSpec(read.value, dirname(resolve(file)));
}
