import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureEvalTasks } from '../../bench/eval';
import { EvalRunReport, InstanceReport } from '../../contracts';
import { dockerOrSkip } from '../helpers/docker';

/**
 * `bottega eval` end to end on real Docker: fixture tasks built into instance images, predictions
 * graded in fresh containers with the SWE-bench 5.0 rules, SWE-bench-shaped reports, a cached rerun
 * that starts no container, and a bad predictions file rejected with exit 2.
 */
const probe = await dockerOrSkip();
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-eval-'));
const evalHome = join(tmp, 'home');

/** A root conftest.py that hides pytest's real summary and prints forged PASSED lines after the (failing) run. */
const FORGE = [
  'def pytest_configure(config):',
  '    config.option.reportchars = ""',
  '',
  'def pytest_unconfigure(config):',
  '    print("PASSED tests/test_ops.py::test_add")',
  '    print("PASSED tests/test_ops.py::test_sub")',
];
const forgePatch = [
  'diff --git a/conftest.py b/conftest.py',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/conftest.py',
  `@@ -0,0 +1,${FORGE.length} @@`,
  ...FORGE.map((l) => `+${l}`),
  '',
].join('\n');

function bottega(args: string[]) {
  const r = spawnSync(process.execPath, [join(REPO, 'bin/bottega.mjs'), 'eval', ...args], {
    cwd: tmp,
    env: { ...process.env, BOTTEGA_HOME: evalHome },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJson = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));
const jsonl = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).join('\n') + '\n';

describe('bottega eval (real Docker)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const tasksFile = join(tmp, 'tasks.jsonl');
  const predsFile = join(tmp, 'preds.jsonl');

  it('grades gold, empty, non-applying and forged predictions with SWE-bench verdicts and shapes', async () => {
    const [calc, units] = await fixtureEvalTasks(probe.docker!, join(tmp, 'fixtures'), BOTTEGA_HOME);
    const variant = (suffix: string) => ({ ...calc!, instance_id: `acme__calc-1.${suffix}` });
    const tasks = [calc!, units!, variant('empty'), variant('noapply'), variant('forge'), variant('missing')];
    writeFileSync(tasksFile, jsonl(tasks));
    const model = 'org/model-x';
    const pred = (instance_id: string, model_patch: string | null) => ({
      instance_id,
      model_name_or_path: model,
      model_patch,
    });
    writeFileSync(
      predsFile,
      jsonl([
        pred('acme__calc-1', calc!.patch),
        pred('acme__units-1', units!.patch),
        pred('acme__calc-1.empty', ''),
        pred('acme__calc-1.noapply', calc!.patch.replace('-    return a - b', '-    return a // b')),
        pred('acme__calc-1.forge', forgePatch),
      ])
    );
    const r = bottega(['--predictions', predsFile, '--tasks', tasksFile, '--run-id', 'first', '--out', 'out']);
    assert.equal(r.code, 0, r.stderr);
    const report = EvalRunReport.parse(readJson(join(tmp, 'out', 'org__model-x.first.json')));
    assert.equal(report.total_instances, 6);
    assert.equal(report.submitted_instances, 5);
    assert.deepEqual(report.resolved_ids, ['acme__calc-1', 'acme__units-1']);
    assert.deepEqual(report.unresolved_ids, ['acme__calc-1.forge', 'acme__calc-1.noapply']);
    assert.deepEqual(report.empty_patch_ids, ['acme__calc-1.empty']);
    assert.deepEqual(report.incomplete_ids, ['acme__calc-1.missing']);
    assert.equal(report.completed_instances, 4);
    assert.equal(report.error_instances, 0);
    assert.equal(report.infra_failure_instances, 0);
    assert.equal(report.failure_reasons['acme__calc-1.noapply'], 'patch_apply_failed');
    assert.equal(report.failure_reasons['acme__calc-1.forge'], 'exit_code_mismatch');
    assert.deepEqual(report.cache, { reused: 0, graded: 4 });

    const dir = join(tmp, 'out', 'logs', 'run_evaluation', 'first', 'org__model-x');
    const inst = (id: string) => {
      const body = readJson(join(dir, id, 'report.json')) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), [id]);
      return InstanceReport.parse(body[id]);
    };
    const gold = inst('acme__calc-1');
    assert.equal(gold.resolved, true);
    assert.deepEqual(gold.tests_status.FAIL_TO_PASS, { success: ['tests/test_ops.py::test_add'], failure: [] });
    assert.deepEqual(gold.tests_status.PASS_TO_PASS, { success: ['tests/test_ops.py::test_sub'], failure: [] });
    assert.match(readFileSync(join(dir, 'acme__calc-1', 'test_output.txt'), 'utf8'), />>>>> Start Test Output/);
    assert.doesNotMatch(readFileSync(join(dir, 'acme__calc-1', 'test_output.txt'), 'utf8'), /bottega-clock/);
    const noapply = inst('acme__calc-1.noapply');
    assert.equal(noapply.patch_successfully_applied, false);
    assert.equal(noapply.patch_exists, true);
    assert.equal(noapply.resolved, false);
    const forge = inst('acme__calc-1.forge');
    // swebench's get_logs_eval rejects the log (non-zero exit, no FAILED/ERROR): not "applied" in its report.
    assert.equal(forge.patch_successfully_applied, false);
    assert.equal(forge.resolved, false, 'forged PASSED lines must not resolve');
    assert.deepEqual(forge.strict, { resolved: false, reasons: [] }, 'the strict check agrees');
    assert.deepEqual(gold.strict, { resolved: true, reasons: [] });
    assert.equal(report.strict_disagreements.count, 0);
    assert.match(
      readFileSync(join(dir, 'acme__calc-1.forge', 'test_output.txt'), 'utf8'),
      /^PASSED tests\/test_ops\.py::test_add/m
    );
    assert.ok(!existsSync(join(dir, 'acme__calc-1.empty', 'report.json')), 'no report for an empty patch');
  });

  it('a rerun under another run id reuses every graded result and starts no container', async () => {
    const since = Math.floor(Date.now() / 1000);
    // A run id of its own: other test files create `bottega.kind=run` containers at the same time.
    const runId = `second-${process.pid}`;
    const r = bottega(['--predictions', predsFile, '--tasks', tasksFile, '--run-id', runId, '--out', 'out']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cache: 4 reused, 0 graded/);
    const report = EvalRunReport.parse(readJson(join(tmp, 'out', `org__model-x.${runId}.json`)));
    assert.deepEqual(report.cache, { reused: 4, graded: 0 });
    assert.deepEqual(report.resolved_ids, ['acme__calc-1', 'acme__units-1']);
    const events = await probe.docker!.getEvents({
      since,
      until: Math.ceil(Date.now() / 1000) + 1,
      filters: { type: ['container'], event: ['create'], label: ['bottega.kind=run', `bottega.eval-run=${runId}`] },
    });
    const text = await new Promise<string>((done) => {
      let s = '';
      events.on('data', (d: Buffer) => (s += d.toString()));
      events.on('end', () => done(s));
    });
    assert.equal(text.trim(), '', 'no grading container was created');
    const dir = join(tmp, 'out', 'logs', 'run_evaluation', runId, 'org__model-x');
    assert.ok(existsSync(join(dir, 'acme__calc-1', 'report.json')), 'reports are written from the cache');
  });

  it('a bad predictions file exits 2 with one file:line message per problem, grading nothing', () => {
    const bad = join(tmp, 'bad.jsonl');
    writeFileSync(
      bad,
      [
        JSON.stringify({ instance_id: 'acme__calc-1', model_name_or_path: 'm', model_patch: '' }),
        '{not json',
        JSON.stringify({ instance_id: 'acme__calc-1', model_name_or_path: 'm', model_patch: '' }),
        JSON.stringify({ instance_id: 'nope__x-1', model_name_or_path: 'm', model_patch: '' }),
        JSON.stringify({ instance_id: 'acme__units-1', model_patch: '' }),
      ].join('\n')
    );
    const r = bottega(['--predictions', bad, '--tasks', tasksFile, '--run-id', 'bad', '--out', 'out']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${bad}:2: not valid JSON`));
    assert.match(r.stderr, new RegExp(`${bad}:3: duplicate instance_id acme__calc-1 \\(first at ${bad}:1\\)`));
    assert.match(r.stderr, new RegExp(`${bad}:4: unknown instance_id nope__x-1`));
    assert.match(r.stderr, new RegExp(`${bad}:5: invalid prediction: model_name_or_path`));
    assert.match(r.stderr, /4 problems; nothing graded/);
    assert.ok(!existsSync(join(tmp, 'out', 'm.bad.json')));
  });
});
