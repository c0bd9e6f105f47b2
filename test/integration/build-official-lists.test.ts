/**
 * SWE-bench-exact test lists and test scope (issue 14, parts 1-2), end to end on the real Temporal
 * dev server and the real Docker engine, with the scope fixtures (infra/fixtures/make-scope-repos.ts):
 * - a record's own FAIL_TO_PASS / PASS_TO_PASS come back byte for byte; lists that hold report no
 *   mismatch; a deliberately wrong PASS_TO_PASS entry is reported, exactly that test, and drops the
 *   task (or keeps it flagged with `official_lists_mismatch: flag`);
 * - a mined task's derived lists, graded by swebench 5.0.2 (infra/swebench/parity.py) on logs of gold,
 *   empty and wrong patches run in containers, get the verdicts bottega gives;
 * - runs are file-scoped: the module no test patch touches runs only with `test_scope: suite`, in
 *   validation, rollout-style grading (runTaskTests) and `bottega eval`'s grading (gradePatch).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { gradePatch } from '../../activities/evaluate/grade-one';
import { gradeRun, runTaskTests } from '../../activities/grading';
import { BuildStageResult, BuildTaskOutcome, type RunLog } from '../../contracts';
import { EvalTask } from '../../contracts/evaluate';
import { InstallConfig, LogParserName, TestScope } from '../../contracts/task';
import { makeScopeFixtures, type ScopeFixtures } from '../../infra/fixtures/make-scope-repos';
import { dockerOrSkip } from '../helpers/docker';
import { setupFailed } from '../helpers/prereq';
import { runFixtureBuild, runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

const ROOT = join(import.meta.dirname, '..', '..');
const probe = await dockerOrSkip('temporal');
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-lists-'));
const LIMITS = { cpus: 1, memoryMb: 1024, pids: 256 };
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;
let fx: ScopeFixtures;
let docker: Docker;

const readLines = (uri: string) =>
  readFileSync(fileURLToPath(uri), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function runBuild(id: string, over: Record<string, unknown> = {}, force: string[] = []): Promise<BuildStageResult> {
  const artifacts = join(tmp, 'artifacts');
  const build = { test_timeout_s: 60, ...over };
  return runFixtureBuild(env, {
    id,
    force,
    artifacts,
    tasksFile: fx.tasksFile,
    repos: fx.repos,
    home: BOTTEGA_HOME,
    build,
  });
}

/** swebench's PARSER_REGISTRY name for a bottega parser (unittest logs are read with parse_log_django). */
const officialParser = (p: LogParserName) => `parse_log_${p === 'unittest' ? 'django' : p}`;

describe('official test lists and test scope (real Docker, real Temporal)', { skip: probe.skip ?? false }, () => {
  let first: BuildStageResult;
  let outcomes: BuildTaskOutcome[];
  let validated: Record<string, unknown>[];

  before(async () => {
    if (probe.skip !== undefined) return;
    docker = probe.docker;
    env = await startTemporal();
    fx = await makeScopeFixtures(join(tmp, 'fixtures'));
    workers = await runWorkers(env, BOTTEGA_HOME, ['cpu', 'docker']);
  });
  after(async () => {
    await workers?.stop();
    await env?.teardown();
  });

  it('keeps official lists byte for byte, reports exactly the wrong test, derives lists for mined tasks', async () => {
    first = await runBuild('exp-it-lists');
    outcomes = readLines(first.artifacts.outcomes.uri).map((o) => BuildTaskOutcome.parse(o));
    validated = readLines(first.artifacts.tasks.uri);
    for (const t of fx.tasks) {
      const o = outcomes.find((x) => x.instance_id === t.instance_id)!;
      const detail = `${t.instance_id}: ${o.reason} ${o.detail}`;
      assert.equal(o.test_scope, 'files', detail);
      if (t.expected.outcome === 'valid') {
        assert.equal(o.status, 'validated', detail);
        assert.deepEqual(o.list_mismatches, [], detail);
        assert.equal(o.lists, t.FAIL_TO_PASS ? 'official' : 'derived', detail);
        const rec = validated.find((v) => v.instance_id === t.instance_id)!;
        assert.equal(JSON.stringify(rec.FAIL_TO_PASS), JSON.stringify(t.expected.FAIL_TO_PASS), detail);
        assert.equal(JSON.stringify(rec.PASS_TO_PASS), JSON.stringify(t.expected.PASS_TO_PASS), detail);
        assert.equal(rec.test_scope, 'files');
      } else {
        assert.equal(o.status, 'failed', detail);
        assert.equal(o.reason, 'official_lists_mismatch', detail);
        assert.deepEqual([...new Set(o.list_mismatches.map((m) => m.test))], t.expected.mismatched, detail);
        assert.deepEqual(
          o.list_mismatches.map((m) => [m.list, m.problem, m.seen]),
          [
            ['PASS_TO_PASS', 'missing_before', { before: ['missing', 'missing'], after: ['missing', 'missing'] }],
            ['PASS_TO_PASS', 'missing_after', { before: ['missing', 'missing'], after: ['missing', 'missing'] }],
          ]
        );
        assert.match(o.detail ?? '', /PASS_TO_PASS "tests\/test_shapes\.py::test_volume" missing_before/);
        assert.deepEqual(o.PASS_TO_PASS, t.PASS_TO_PASS, 'the record is reported with its own lists');
      }
    }
    // The record as written to the input file: its lists verbatim in the validated record.
    const raw = readFileSync(fx.tasksFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r.instance_id === 'acme__geo-2')!;
    const geo2 = validated.find((v) => v.instance_id === 'acme__geo-2')!;
    assert.equal(JSON.stringify(geo2.FAIL_TO_PASS), JSON.stringify(raw.FAIL_TO_PASS));
    assert.equal(JSON.stringify(geo2.PASS_TO_PASS), JSON.stringify(raw.PASS_TO_PASS));
    assert.deepEqual(first.summary.failed, { official_lists_mismatch: 1 });
    assert.deepEqual(first.summary.lists, { official: 1, derived: 2, mismatched: 1 });
    assert.equal(first.summary.kept, 3);
  });

  it('with official_lists_mismatch: flag, the task is kept and flagged', async () => {
    const flagged = await runBuild('exp-it-lists-flag', { official_lists_mismatch: 'flag' });
    assert.equal(flagged.summary.kept, 4);
    assert.deepEqual(flagged.summary.failed, {});
    assert.equal(flagged.summary.lists.mismatched, 1);
    const geo3 = readLines(flagged.artifacts.tasks.uri).find((v) => v.instance_id === 'acme__geo-3')!;
    const fixture = fx.tasks.find((t) => t.instance_id === 'acme__geo-3')!;
    assert.deepEqual(geo3.PASS_TO_PASS, fixture.PASS_TO_PASS, 'never rewritten');
    const marks = (geo3.bottega as { official_lists_mismatch?: { test: string }[] }).official_lists_mismatch ?? [];
    assert.deepEqual([...new Set(marks.map((m) => m.test))], ['tests/test_shapes.py::test_volume']);
  });

  it('derived lists: swebench 5.0.2 grades gold, empty and wrong patches as bottega does', async (t) => {
    const setup = spawnSync('bash', [join(ROOT, 'infra/swebench/setup.sh')], { encoding: 'utf8', timeout: 300_000 });
    if (setup.status !== 0) {
      t.skip(setupFailed('swebench', `infra/swebench/setup.sh exited ${setup.status}:\n${setup.stderr}`));
      return;
    }
    const python = setup.stdout.trim().split('\n').pop()!;
    const items: {
      id: string;
      repo: string;
      parser: string;
      log: string;
      FAIL_TO_PASS: string[];
      PASS_TO_PASS: string[];
      patch: string;
    }[] = [];
    const ours: boolean[] = [];
    const expected: boolean[] = [];
    for (const id of ['acme__geo-1', 'acme__clock-1']) {
      const rec = validated.find((v) => v.instance_id === id)!;
      const fixture = fx.tasks.find((x) => x.instance_id === id)!;
      const cfg = InstallConfig.parse(rec.install_config);
      const task = { repo: fixture.repo, base_commit: fixture.base_commit, test_patch: fixture.test_patch };
      const lists = { FAIL_TO_PASS: rec.FAIL_TO_PASS as string[], PASS_TO_PASS: rec.PASS_TO_PASS as string[] };
      for (const [kind, patch, resolved] of [
        ['gold', fixture.patch, true],
        ['empty', '', false],
        ['wrong', fixture.wrong_patch, false],
      ] as const) {
        const log: RunLog = await runTaskTests(docker, {
          image: (rec.image as { tag: string }).tag,
          task,
          config: cfg,
          scope: TestScope.parse(rec.test_scope),
          patch: patch === '' ? null : patch,
          timeoutMs: 120_000,
          limits: LIMITS,
        });
        if (kind === 'gold') assert.doesNotMatch(log.output, /test_suite_only/, `${id}: only the touched files ran`);
        ours.push(gradeRun({ task: lists, patch, applied: true, log, parser: cfg.log_parser }).report.resolved);
        expected.push(resolved);
        items.push({
          id: `${id}/${kind}`,
          repo: fixture.repo,
          parser: officialParser(cfg.log_parser),
          log: log.output,
          ...lists,
          patch,
        });
      }
    }
    const r = spawnSync(python, [join(ROOT, 'infra/swebench/parity.py')], {
      input: JSON.stringify(items),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.equal(r.status, 0, r.stderr);
    const official = (JSON.parse(r.stdout) as { results: { report: { resolved: boolean } }[] }).results.map(
      (x) => x.report.resolved
    );
    assert.deepEqual(official, expected, `swebench's verdicts for ${items.map((i) => i.id).join(', ')}`);
    assert.deepEqual(ours, official, "bottega's verdicts are swebench's");
  });

  it('file-scoped by default in evaluation; the whole suite only when asked', async () => {
    const rec = validated.find((v) => v.instance_id === 'acme__geo-1')!;
    const task = EvalTask.parse(rec);
    const patch = fx.tasks.find((x) => x.instance_id === 'acme__geo-1')!.patch;
    const run = { timeoutMs: 120_000, limits: LIMITS };
    const files = await gradePatch(docker, task, patch, run);
    assert.equal(files.outcome, 'resolved', files.log);
    assert.doesNotMatch(files.log, /test_suite_only/);
    assert.match(files.log, /collected 5 items/, 'tests/test_shapes.py only');
    const suite = await gradePatch(docker, task, patch, { ...run, scope: 'suite' });
    assert.equal(suite.outcome, 'resolved', suite.log);
    assert.match(suite.log, /collected 25 items/);
    assert.match(suite.log, /PASSED tests\/test_suite_only\.py::test_suite_only\[0\]/);
  });
});
