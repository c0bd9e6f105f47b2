import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';

/**
 * A generated git repository with `prs` GitHub-style PR merges on its first-parent history, made
 * with one `git fast-import` (seconds for thousands of PRs). Each PR changes a Python module and
 * its test and fixes an issue (in the returned issues side file), so the git mine source turns it
 * into samples and a task candidate.
 *
 * `modules` (default 40) Python modules share the PRs; a module's file grows with each PR on it,
 * so for a per-PR workload independent of `prs` (the mine scaling bench) pass about `prs / 25`.
 * The fast-import stream goes through a file, so its size is not bounded by V8's string length.
 */
export function makeSweepRepo(dir: string, prs: number, opts: { modules?: number } = {}): { issuesFile: string } {
  mkdirSync(dir, { recursive: true });
  const git = (args: string[], input?: string) => {
    const r = spawnSync('git', args, { cwd: dir, input, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  };
  git(['init', '-q', '-b', 'main']);
  const streamFile = `${dir}.fast-import`;
  const stream = openSync(streamFile, 'w');
  const chunks = { push: (...parts: string[]) => parts.forEach((p) => writeSync(stream, p)) };
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  let mark = 0;
  let t = Date.UTC(2024, 0, 1) / 1000;
  const who = (name: string) => `${name} <${name}@users.example> ${t++} +0000`;
  const modules = opts.modules ?? 40;
  // Past 40 modules they go in packages of 40, so no tree grows with `prs` (diffing a commit costs
  // time per entry of the trees it touches); up to 40 the layout is flat, as it always was.
  const pkg = (m: number) => (modules <= 40 ? 'pkg' : `pkg/g${Math.floor(m / 40)}`);
  const testDir = (m: number) => (modules <= 40 ? 'tests' : `tests/g${Math.floor(m / 40)}`);
  const dotted = (m: number) => pkg(m).replaceAll('/', '.');
  const files = new Map<string, string>();
  for (let m = 0; m < modules; m++) {
    files.set(`${pkg(m)}/mod_${m}.py`, `"""Module ${m}."""\n\n\ndef base_${m}(x):\n    return x + ${m}\n`);
    files.set(
      `${testDir(m)}/test_mod_${m}.py`,
      `from ${dotted(m)}.mod_${m} import base_${m}\n\n\ndef test_base():\n    assert base_${m}(1) == ${m + 1}\n`
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
    const src = `${pkg(m)}/mod_${m}.py`;
    const test = `${testDir(m)}/test_mod_${m}.py`;
    const nextSrc = `${files.get(src)!}\n\ndef feature_${k}(items):\n    """Handle case ${k}: skip None and keep order."""\n    return [i * ${(k % 7) + 2} for i in items if i is not None]\n`;
    const nextTest = `${files.get(test)!}\n\ndef test_feature_${k}():\n    from ${dotted(m)}.mod_${m} import feature_${k}\n    assert feature_${k}([1, None]) == [${(k % 7) + 2}]\n`;
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
  closeSync(stream);
  const input = openSync(streamFile, 'r');
  let imported;
  try {
    imported = spawnSync('git', ['fast-import', '--quiet'], {
      cwd: dir,
      stdio: [input, 'ignore', 'pipe'],
      encoding: 'utf8',
    });
  } finally {
    closeSync(input);
    rmSync(streamFile, { force: true });
  }
  if (imported.status !== 0) throw new Error(`git fast-import: ${imported.stderr}`);
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
