/**
 * Host-side repository preparation for instance images: a private clone at the base commit whose
 * history holds nothing the agent should not see (SWE-bench's instance-layer scrub, made strict).
 */
import { execFile } from 'node:child_process';
import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** The one branch the scrubbed repository keeps, at the base commit. */
export const SCRUBBED_BRANCH = 'main';

/** Runs git in `cwd` and returns stdout; throws with git's stderr on failure. */
export async function git(cwd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP('git', ['-C', cwd, ...args], {
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' },
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`git ${args.join(' ')}: ${(e.stderr || e.message || String(err)).trim()}`);
  }
}

/**
 * Clones `repoPath` into `dest` (`--no-local`: objects are copied through a pack, never hard-linked)
 * and scrubs it:
 * - checks out `baseCommit` on a single branch {@link SCRUBBED_BRANCH};
 * - removes every remote, and every other ref (branches, tags, notes, stash);
 * - expires all reflogs and runs `git gc --prune=now --aggressive`;
 * - asserts that every commit object left in the object database is an ancestor of (or is)
 *   `baseCommit` — throws otherwise.
 * Returns the full sha of the base commit. `log` receives each step.
 */
export async function cloneAndScrub(
  repoPath: string,
  baseCommit: string,
  dest: string,
  log: (line: string) => void = () => {}
): Promise<string> {
  log(`git clone --no-local ${repoPath}`);
  await git(process.cwd(), ['clone', '--quiet', '--no-local', '--no-checkout', repoPath, dest]);
  const base = (await git(dest, ['rev-parse', '--verify', `${baseCommit}^{commit}`])).trim();
  log(`checkout ${base} as ${SCRUBBED_BRANCH}`);
  await git(dest, ['checkout', '--quiet', '--force', '-B', SCRUBBED_BRANCH, base]);

  for (const remote of (await git(dest, ['remote'])).split('\n').filter(Boolean)) {
    await git(dest, ['remote', 'remove', remote]);
  }
  const refs = (await git(dest, ['for-each-ref', '--format=%(refname)'])).split('\n').filter(Boolean);
  const doomed = refs.filter((r) => r !== `refs/heads/${SCRUBBED_BRANCH}`);
  log(`deleting ${doomed.length} refs`);
  for (const ref of doomed) await git(dest, ['update-ref', '-d', ref]);
  for (const f of ['FETCH_HEAD', 'ORIG_HEAD', 'MERGE_HEAD', 'packed-refs.lock']) {
    await unlink(join(dest, '.git', f)).catch(() => {});
  }
  await rm(join(dest, '.git', 'refs', 'original'), { recursive: true, force: true });

  log('git reflog expire --expire=now --all; git gc --prune=now --aggressive');
  await git(dest, ['reflog', 'expire', '--expire=now', '--expire-unreachable=now', '--all']);
  await git(dest, ['gc', '--quiet', '--prune=now', '--aggressive']);

  await assertNoFutureCommits(dest, base);
  return base;
}

/**
 * Throws unless every commit reachable from any ref, and every commit object stored at all, is
 * `base` or one of its ancestors.
 */
export async function assertNoFutureCommits(repo: string, base: string): Promise<void> {
  const ancestors = new Set((await git(repo, ['rev-list', base])).split('\n').filter(Boolean));
  const reachable = (await git(repo, ['rev-list', '--all', '--reflog'])).split('\n').filter(Boolean);
  const stored = (await git(repo, ['cat-file', '--batch-all-objects', '--batch-check=%(objecttype) %(objectname)']))
    .split('\n')
    .filter((l) => l.startsWith('commit '))
    .map((l) => l.slice('commit '.length));
  const leaked = [...new Set([...reachable, ...stored])].filter((c) => !ancestors.has(c));
  if (leaked.length > 0) {
    throw new Error(
      `scrubbed repository still has ${leaked.length} commit(s) that are not ancestors of ${base}: ${leaked.slice(0, 5).join(', ')}`
    );
  }
}

/**
 * Paths that differ between two commits of `repoPath`: `changed` (added, modified, type-changed)
 * and `deleted`.
 */
export async function diffPaths(
  repoPath: string,
  from: string,
  to: string
): Promise<{ changed: string[]; deleted: string[] }> {
  const out = await git(repoPath, ['diff', '--name-status', '--no-renames', '-z', from, to]);
  const parts = out.split('\0').filter((p) => p !== '');
  const changed: string[] = [];
  const deleted: string[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const status = parts[i] ?? '';
    const path = parts[i + 1] ?? '';
    (status.startsWith('D') ? deleted : changed).push(path);
  }
  return { changed, deleted };
}
