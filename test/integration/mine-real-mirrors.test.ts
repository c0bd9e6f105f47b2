import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pythonFilter, sharedFilter } from '../../activities/mine/filters';
import { prose } from '../../activities/mine/render-common';
import { RenderError, renderPythonSample } from '../../activities/mine/render-python';
import { listAllGitPrs } from '../helpers/git-pages';
import { GitSource, MineFilters } from '../../contracts/mine';
import { setupFailed, stackHome } from '../helpers/prereq';
import { replayPythonSample } from '../helpers/python-sample';

/**
 * The git source on real public mirrors (`git clone --mirror`, pull refs included; set up by
 * infra/mirrors/setup.sh): pallets/click (merge commits, maintenance branches merged forward, squash
 * merges) and encode/httpx (squash merges). At a pinned commit of each:
 * - the PR numbers found equal an independent count scripted here from `git log` and the pull refs;
 * - every number is on one line (a PR, or a commit that is not a PR with its reason);
 * - every Python-format sample, replayed from its text alone, reproduces the PR head's files.
 */
const MIRRORS = [
  { repo: 'pallets/click', ref: '2c8cd3ac958a7eb316d67f2d316c27086c4c0369' },
  { repo: 'encode/httpx', ref: 'ae1b9f66238f75ced3ced5e4485408435de10768' },
].map((m) => ({ ...m, dir: join(stackHome(), 'mirrors', `${m.repo.replace('/', '__')}.git`) }));

const missing = MIRRORS.filter((m) => !existsSync(m.dir)).map((m) => m.dir);
const skip = missing.length
  ? setupFailed('mirrors', `${missing.join(', ')} missing: run bash infra/mirrors/setup.sh`)
  : false;

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });

const listAll = (src: GitSource) => listAllGitPrs(src, 250);

/**
 * PR numbers from `git log` alone: `Merge pull request #N` merges, subjects ending `(#N)` and merges
 * of a `pr/N` branch where `refs/pull/N` exists (else `(#N)` may be an issue), and every pull ref
 * whose head the ref reaches.
 */
function independentCount(dir: string, ref: string): Set<number> {
  const pulls = new Map<number, string>();
  for (const line of git(dir, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/pull/').split('\n')) {
    const m = /^refs\/pull\/(\d+)\/head (\w+)$/.exec(line);
    if (m) pulls.set(Number(m[1]), m[2]!);
  }
  const reached = new Set<string>();
  const numbers = new Set<number>();
  for (const line of git(dir, 'log', '--format=%H%x09%P%x09%s', ref).split('\n')) {
    if (!line) continue;
    const [sha, parents, subject] = line.split('\t') as [string, string, string];
    reached.add(sha);
    const merge = parents.split(' ').length >= 2;
    const byMerge = merge ? /^Merge pull request #(\d+)\b/.exec(subject) : null;
    if (byMerge) numbers.add(Number(byMerge[1]));
    const byTitle =
      /\(#(\d+)\)\s*$/.exec(subject) ??
      (merge ? /^Merge (?:remote-tracking )?branch '(?:\S*\/)?(?:pr|pull)\/(\d+)/i.exec(subject) : null);
    if (byTitle && pulls.has(Number(byTitle[1]))) numbers.add(Number(byTitle[1]));
  }
  for (const [n, sha] of pulls) if (reached.has(sha)) numbers.add(n);
  return numbers;
}

describe('the git source on real public mirrors', { skip }, () => {
  for (const m of MIRRORS) {
    it(`${m.repo}: every merged PR once, as many as git log shows; samples replay to the head's files`, async (t) => {
      const src = GitSource.parse({ type: 'git', repo: m.repo, path: m.dir, ref: m.ref });
      const all = await listAll(src);

      const lines = [
        ...all.prs.map((p) => p.number),
        ...all.notPrs.filter((n) => n.number !== null && n.reason !== 'not_a_pull_request').map((n) => n.number!),
      ];
      assert.equal(new Set(lines).size, lines.length, 'each number on one line');
      const expected = independentCount(m.dir, m.ref);
      const found = new Set(lines);
      assert.deepEqual(
        [...expected].filter((n) => !found.has(n)),
        [],
        'numbers git log shows that the source did not find'
      );
      assert.deepEqual(
        [...found].filter((n) => !expected.has(n)),
        [],
        'numbers the source found that git log does not show'
      );
      const shapes: Record<string, number> = {};
      for (const o of all.origins) shapes[o.shape] = (shapes[o.shape] ?? 0) + 1;
      const notPrs: Record<string, number> = {};
      for (const n of all.notPrs) notPrs[n.reason] = (notPrs[n.reason] ?? 0) + 1;
      assert.ok((shapes.merge ?? 0) > 0 && (shapes.squash ?? 0) > 0, 'merge and squash PRs both found');

      // Every Python-format sample, replayed from its text, against the files at the PR head.
      const filters = MineFilters.parse({});
      const tally: Record<string, number> = {};
      const add = (k: string) => (tally[k] = (tally[k] ?? 0) + 1);
      const problems: string[] = [];
      for (const pr of all.prs) {
        if (sharedFilter(pr, filters) || pythonFilter(pr, filters)) continue;
        let text: string;
        try {
          text = renderPythonSample(pr).text;
        } catch (e) {
          // Not a sample: counted by the stage under render_<reason> (PRs whose branch merged the mainline in).
          add(e instanceof RenderError ? `not rendered: ${e.reason}` : 'not rendered');
          continue;
        }
        add('samples');
        let replayed;
        try {
          replayed = replayPythonSample(
            text,
            pr.commits.map((c) => prose(c.message))
          );
        } catch (e) {
          problems.push(`#${pr.number}: ${(e as Error).message}`);
          continue;
        }
        // A branch that merged the mainline in holds mainline changes at its head: not the PR's alone.
        if (git(m.dir, 'rev-list', '--merges', '--count', `${pr.base_sha}..${pr.head_sha}`).trim() !== '0') {
          add('replayed, head holds merged-in mainline changes (not compared)');
          continue;
        }
        const paths = [...replayed.after.keys()];
        const heads = readAt(m.dir, pr.head_sha, paths);
        let same = true;
        paths.forEach((p, i) => {
          const want = heads[i];
          const got = replayed.after.get(p)!;
          if (got === want) return;
          // The ''' quotes cannot show a missing final newline: the only difference allowed.
          if (want !== null && got === `${want}\n`) return add('file equal but for the final newline');
          same = false;
          problems.push(`#${pr.number} ${p}: ${want === null ? 'not at the head' : 'differs from the head'}`);
        });
        for (const p of replayed.gone)
          if (!replayed.after.has(p) && readAt(m.dir, pr.head_sha, [p])[0] !== null) {
            same = false;
            problems.push(`#${pr.number} ${p}: deleted by the sample, present at the head`);
          }
        if (same) add('replayed, head files identical');
      }
      t.diagnostic(
        `${m.repo}@${m.ref.slice(0, 12)}: ${all.prs.length} PRs ${JSON.stringify(shapes)}, ` +
          `${expected.size} numbers by git log, not PRs ${JSON.stringify(notPrs)}, ` +
          `pull refs not merged ${all.pullRefsNotMerged}; python samples ${JSON.stringify(tally)}`
      );
      assert.deepEqual(problems, []);
      assert.ok((tally['replayed, head files identical'] ?? 0) > 100);
    });
  }
});

/** Contents of `paths` at `rev` (null where absent), through one `cat-file --batch`. */
function readAt(dir: string, rev: string, paths: string[]): (string | null)[] {
  if (paths.length === 0) return [];
  const out = execFileSync('git', ['-C', dir, 'cat-file', '--batch'], {
    input: paths.map((p) => `${rev}:${p}`).join('\n') + '\n',
    maxBuffer: 1 << 28,
  });
  const res: (string | null)[] = [];
  let pos = 0;
  for (let i = 0; i < paths.length; i++) {
    const nl = out.indexOf(0x0a, pos);
    const header = out.toString('utf8', pos, nl);
    pos = nl + 1;
    const m = /^\w+ blob (\d+)$/.exec(header);
    if (!m) {
      res.push(null);
      continue;
    }
    res.push(out.toString('utf8', pos, pos + Number(m[1])));
    pos += Number(m[1]) + 1;
  }
  return res;
}
