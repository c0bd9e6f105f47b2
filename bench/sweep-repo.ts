import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

/**
 * A generated git repository with `prs` GitHub-style PR merges on its first-parent history, made
 * with one `git fast-import` (seconds for thousands of PRs). Each PR changes a Python module and
 * its test and fixes an issue (in the returned issues side file), so the git mine source turns it
 * into samples and a task candidate.
 */
export function makeSweepRepo(dir: string, prs: number): { issuesFile: string } {
  mkdirSync(dir, { recursive: true });
  const git = (args: string[], input?: string) => {
    const r = spawnSync('git', args, { cwd: dir, input, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  git(['init', '-q', '-b', 'main']);
  const chunks: string[] = [];
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  let mark = 0;
  let t = Date.UTC(2024, 0, 1) / 1000;
  const who = (name: string) => `${name} <${name}@users.example> ${t++} +0000`;
  const modules = 40;
  const files = new Map<string, string>();
  for (let m = 0; m < modules; m++) {
    files.set(`pkg/mod_${m}.py`, `"""Module ${m}."""\n\n\ndef base_${m}(x):\n    return x + ${m}\n`);
    files.set(
      `tests/test_mod_${m}.py`,
      `from pkg.mod_${m} import base_${m}\n\n\ndef test_base():\n    assert base_${m}(1) == ${m + 1}\n`
    );
  }
  files.set('README.md', '# sweep-bench\n\nA generated repository.\n');
  files.set('setup.py', "from setuptools import setup\n\nsetup(name='sweepbench', packages=['pkg'])\n");
  const root = ++mark;
  chunks.push(
    `commit refs/heads/main\nmark :${root}\nauthor ${who('maya')}\ncommitter ${who('maya')}\n${data('Initial commit')}`
  );
  for (const [p, c] of files) chunks.push(`M 100644 inline ${p}\n${data(c)}`);
  let tip = root;
  for (let k = 1; k <= prs; k++) {
    const m = k % modules;
    const user = `dev${k % 17}`;
    const src = `pkg/mod_${m}.py`;
    const test = `tests/test_mod_${m}.py`;
    const nextSrc = `${files.get(src)!}\n\ndef feature_${k}(items):\n    """Handle case ${k}: skip None and keep order."""\n    return [i * ${(k % 7) + 2} for i in items if i is not None]\n`;
    const nextTest = `${files.get(test)!}\n\ndef test_feature_${k}():\n    from pkg.mod_${m} import feature_${k}\n    assert feature_${k}([1, None]) == [${(k % 7) + 2}]\n`;
    const change = [`M 100644 inline ${src}\n${data(nextSrc)}`, `M 100644 inline ${test}\n${data(nextTest)}`];
    const head = ++mark;
    chunks.push(
      `commit refs/heads/pr-${k}\nmark :${head}\nauthor ${who(user)}\ncommitter ${who(user)}\n` +
        data(`Add feature_${k} to mod_${m}\n\nNone values were not skipped.`) +
        `from :${tip}\n`,
      ...change
    );
    const merge = ++mark;
    chunks.push(
      `commit refs/heads/main\nmark :${merge}\nauthor ${who('maya')}\ncommitter ${who('maya')}\n` +
        data(
          `Merge pull request #${k} from ${user}/feature-${k}\n\nSkip None in feature ${k} of mod_${m}\n\n` +
            `Calling feature_${k} with None items raised a TypeError. This skips them and adds a test.\n\nFixes #${ISSUE0 + k}`
        ) +
        `from :${tip}\nmerge :${head}\n`,
      ...change
    );
    files.set(src, nextSrc);
    files.set(test, nextTest);
    tip = merge;
  }
  git(['fast-import', '--quiet'], chunks.join(''));
  git(['checkout', '-q', 'main']);
  const issuesFile = `${dir}.issues.jsonl`;
  const issues = Array.from({ length: prs }, (_, i) => ({
    number: ISSUE0 + i + 1,
    title: `feature_${i + 1} fails on None items`,
    body: `Calling \`feature_${i + 1}([1, None])\` raises TypeError.`,
    created_at: '2024-01-01T00:00:00Z',
    comments: [],
  }));
  writeFileSync(issuesFile, issues.map((x) => JSON.stringify(x)).join('\n') + '\n');
  return { issuesFile };
}

/** Issue numbers start above any PR number. */
const ISSUE0 = 100_000;
