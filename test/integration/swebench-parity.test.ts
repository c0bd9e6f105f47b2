/**
 * Parity with the official `swebench` package (PyPI, pinned in infra/swebench/setup.sh): two corpora
 * of eval logs, a generated one (test/helpers/log-corpus.ts) and one of real logs (real test suites
 * of sympy, Django, requests, flask and click run in bottega-built containers:
 * test/fixtures/real-logs/, test/helpers/log-corpus-real.ts), are parsed and graded by bottega and by
 * swebench's own functions (infra/swebench/parity.py). In the default (official) mode every resolved
 * verdict, every "found" decision and every per-test status map must be identical; any difference
 * fails the test. bottega's strict check is reported beside: how many verdicts it changes, by reason.
 * Skipped when the package index is unreachable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { gradeRun } from '../../activities/grading/grade';
import { officialStatuses } from '../../activities/grading/official';
import { judgeLog } from '../../activities/grading/verdict';
import { type CorpusItem, generateCorpus } from '../helpers/log-corpus';
import { loadRealCorpus } from '../helpers/log-corpus-real';
import { setupFailed } from '../helpers/prereq';

const ROOT = join(import.meta.dirname, '..', '..');

/** What parity.py returns per item. */
interface Official {
  id: string;
  /** null when swebench's parser raises. */
  statuses: Record<string, string> | null;
  valid: boolean;
  crashed: boolean;
  report: { resolved: boolean; patch_successfully_applied?: boolean };
}

function setupPython(): { python?: string; skip?: string } {
  const r = spawnSync('bash', [join(ROOT, 'infra/swebench/setup.sh')], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0)
    return { skip: setupFailed('swebench', `infra/swebench/setup.sh exited ${r.status}:\n${r.stderr}`) };
  return { python: r.stdout.trim().split('\n').pop()! };
}

function runOfficial(python: string, items: CorpusItem[]): { version: string; results: Official[] } {
  const input = items.map((i) => ({
    id: i.id,
    repo: i.repo,
    parser: i.officialParser,
    log: i.output,
    FAIL_TO_PASS: i.FAIL_TO_PASS,
    PASS_TO_PASS: i.PASS_TO_PASS,
    patch: i.patch,
  }));
  const r = spawnSync(python, [join(ROOT, 'infra/swebench/parity.py')], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `parity.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as { version: string; results: Official[] };
}

/** A strict reason without its test id, for counting (`test_passes: strict PASSED, official missing`). */
function reasonKind(reason: string): string {
  const m = /^(test_passes|test_fails): \w+ ".*" (strict .*)$/.exec(reason);
  return m ? `${m[1]}: ${m[2]}` : reason;
}

/** The comparison of one corpus: the figures to print and every difference from swebench. */
interface Parity {
  lines: string[];
  differences: string[];
}

/** Grades `corpus` with bottega and swebench and compares verdicts, "found" decisions and status maps. */
function compare(python: string, corpus: CorpusItem[]): Parity {
  const official = runOfficial(python, corpus);
  assert.equal(official.results.length, corpus.length);
  const differences: string[] = [];
  const strictReasons = new Map<string, Set<string>>();
  const scenarios = new Map<string, number>();
  let keys = 0;
  let sameKeys = 0;
  let strictKeys = 0;
  let sameStrictKeys = 0;
  let sameVerdicts = 0;
  let sameFound = 0;
  let resolved = 0;
  let strictDisagreements = 0;
  corpus.forEach((item, n) => {
    const off = official.results[n]!;
    scenarios.set(item.scenario, (scenarios.get(item.scenario) ?? 0) + 1);
    const log = { exitCode: item.exitCode, timedOut: item.timedOut, output: item.output };
    const ours = gradeRun({
      task: item,
      patch: item.patch,
      applied: !item.output.includes('>>>>> Patch Apply Failed'),
      log,
      parser: item.parser,
    });
    const where = `${item.id} (${item.scenario})`;
    // Per-test statuses of the official parser: identical maps, key by key.
    const ourMap = officialStatuses(item.parser, item.output);
    const theirMap = off.statuses ?? {};
    for (const key of new Set([...Object.keys(ourMap), ...Object.keys(theirMap)])) {
      keys++;
      if (ourMap[key] === theirMap[key]) sameKeys++;
      else differences.push(`${where} test ${JSON.stringify(key)}: bottega ${ourMap[key]}, swebench ${theirMap[key]}`);
    }
    if (off.statuses === null && !off.crashed && Object.keys(ourMap).length)
      differences.push(`${where}: swebench's parser raised, bottega's did not`);
    // swebench reads the log even for a None patch; bottega does not need to.
    const found = item.patch === null ? off.valid : ours.official.found;
    if (found === off.valid) sameFound++;
    else differences.push(`${where} found: bottega ${found} (${ours.official.reason}), swebench ${off.valid}`);
    if (off.report.resolved) resolved++;
    if (ours.report.resolved === off.report.resolved) sameVerdicts++;
    else differences.push(`${where} resolved: bottega ${ours.report.resolved}, swebench ${off.report.resolved}`);
    // The strict check, beside: its own map and verdict.
    const strictMap = judgeLog(item.parser, log).statuses;
    for (const key of new Set([...Object.keys(strictMap), ...Object.keys(theirMap)])) {
      strictKeys++;
      if (strictMap[key] === theirMap[key]) sameStrictKeys++;
    }
    const strict = ours.report.strict!;
    if (strict.resolved !== ours.report.resolved) {
      strictDisagreements++;
      assert.ok(strict.reasons.length > 0, `${where}: strict verdict differs without a reason`);
      for (const r of new Set(strict.reasons.map(reasonKind))) {
        if (!strictReasons.has(r)) strictReasons.set(r, new Set());
        strictReasons.get(r)!.add(item.id);
      }
    }
  });
  const lines = [
    `swebench ${official.version}: ${corpus.length} logs (${[...scenarios].map(([s, c]) => `${s} ${c}`).join(', ')}), ${resolved} resolved by swebench`,
    `default (official) mode: resolved verdicts ${sameVerdicts}/${corpus.length} identical, found ${sameFound}/${corpus.length}, per-test statuses ${sameKeys}/${keys}`,
    `strict check: ${strictDisagreements}/${corpus.length} verdicts differ from the official one; strict per-test statuses equal the official map's on ${sameStrictKeys}/${strictKeys}`,
    ...[...strictReasons].sort((a, b) => b[1].size - a[1].size).map(([r, ids]) => `  ${ids.size} logs: ${r}`),
  ];
  return { lines, differences };
}

void test('bottega grades exactly like the official swebench package; the strict check is reported beside', (t) => {
  const { python, skip } = setupPython();
  if (skip) {
    t.skip(skip);
    return;
  }
  const { lines, differences } = compare(python!, generateCorpus(7, 800));
  t.diagnostic(lines.join('\n'));
  console.log(lines.join('\n'));
  assert.deepEqual(differences.slice(0, 40), [], `${differences.length} differences from swebench`);
});

void test('real logs (sympy, Django, requests, flask, click run in bottega containers) grade like swebench', (t) => {
  const { python, skip } = setupPython();
  if (skip) {
    t.skip(skip);
    return;
  }
  const corpus = loadRealCorpus();
  const repos = new Map<string, number>();
  for (const i of corpus) repos.set(i.repo, (repos.get(i.repo) ?? 0) + 1);
  assert.ok(
    repos.size >= 4 && repos.has('sympy/sympy') && repos.has('django/django'),
    'the real-log corpus is missing'
  );
  const { lines, differences } = compare(python!, corpus);
  lines.unshift(`real logs: ${[...repos].map(([r, c]) => `${r} ${c}`).join(', ')}`);
  t.diagnostic(lines.join('\n'));
  console.log(lines.join('\n'));
  assert.deepEqual(differences.slice(0, 40), [], `${differences.length} differences from swebench`);
});
