/**
 * Reference Python environments of the benches: a venv under `$BOTTEGA_HOME/venvs/<name>` with pinned
 * PyPI packages, created on first use (or an interpreter given with `--python`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const log = (s: string): void => void process.stderr.write(`${s}\n`);

/**
 * A Python that can `import modules`: `explicit` when given, else the venv `name` (pip installs
 * `packages` into it on first use). `error` says what failed.
 */
export function benchPython(
  explicit: string | undefined,
  name: string,
  packages: readonly string[],
  modules: string
): { python: string; error?: string } {
  if (explicit) return { python: explicit };
  const home = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
  const venv = join(home, 'venvs', name);
  const py = join(venv, 'bin', 'python');
  const ok = (): boolean =>
    existsSync(py) && spawnSync(py, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0;
  if (ok()) return { python: py };
  log(`installing ${packages.join(' ')} into ${venv} (first use) ...`);
  mkdirSync(join(home, 'venvs'), { recursive: true });
  if (!existsSync(py)) {
    const v = spawnSync(process.env.PYTHON ?? 'python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    if (v.status !== 0) return { python: py, error: `python3 -m venv ${venv} failed` };
  }
  const pip = spawnSync(py, ['-m', 'pip', 'install', '-q', ...packages], { stdio: 'inherit' });
  if (pip.status !== 0 || !ok()) return { python: py, error: `pip install ${packages.join(' ')} failed` };
  return { python: py };
}
