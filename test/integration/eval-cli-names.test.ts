import { after, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerOrSkip } from '../helpers/docker';

/**
 * `bottega eval` with names from its input files that would leave `--out` as paths: a hostile
 * `instance_id`, a `model_name_or_path` of `..`, a `--run-id` of `..`. Each is refused up front
 * (exit 2, `file:line: … field: …`) and nothing is written anywhere, inside `--out` or out of it.
 * Needs Docker only so that the old behaviour (grading, then writing the files) could be reached.
 */
const probe = await dockerOrSkip();
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'bottega-eval-names-'));
const cwd = join(tmp, 'run');
const tasksFile = join(cwd, 'tasks.jsonl');
const predsFile = join(cwd, 'preds.jsonl');

function bottega(args: string[]) {
  const r = spawnSync(
    process.execPath,
    [join(REPO, 'bin/bottega.mjs'), 'eval', '--predictions', predsFile, '--tasks', tasksFile, '--out', 'out', ...args],
    { cwd, env: { ...process.env, BOTTEGA_HOME: join(tmp, 'home') }, encoding: 'utf8', timeout: 120_000 }
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `tmp` except the two input files, relative to `tmp`. */
function written(): string[] {
  const inputs = new Set([tasksFile, predsFile]);
  return (readdirSync(tmp, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile() && !inputs.has(join(e.parentPath, e.name)))
    .map((e) => relative(tmp, join(e.parentPath, e.name)))
    .sort();
}

const jsonl = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).join('\n') + '\n';
const task = (instance_id: string) => ({
  instance_id,
  repo: 'acme/calc',
  base_commit: 'abc1234',
  test_patch: '',
  FAIL_TO_PASS: [],
  PASS_TO_PASS: [],
  image: 'bottega/none:never-used',
  install_config: { test_cmd: 'pytest -rA', log_parser: 'pytest' },
});
// An empty patch is graded without a container: before the fix, its files were written at once.
const pred = (instance_id: string, model: string | null) => ({
  instance_id,
  model_name_or_path: model,
  model_patch: '',
});

describe('bottega eval refuses names that would leave --out', { skip: 'skip' in probe ? probe.skip : false }, () => {
  // Each case starts from an empty directory: only what that run wrote is found after it.
  beforeEach(() => {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(cwd, { recursive: true });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('an instance_id with ../ is refused with file:line and field; nothing is written', () => {
    // From out/logs/run_evaluation/<run>/<model>/, five `..` reach `run/`, beside `out/`.
    const hostile = '../../../../../escaped';
    writeFileSync(tasksFile, jsonl([task('acme__calc-1'), task(hostile)]));
    writeFileSync(predsFile, jsonl([pred('acme__calc-1', 'org/model-7b'), pred(hostile, 'org/model-7b')]));
    const r = bottega(['--run-id', 'names']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /tasks\.jsonl:2: invalid task record: instance_id: .*"\/"/);
    assert.match(r.stderr, /preds\.jsonl:2: invalid prediction: instance_id: .*"\/"/);
    assert.deepEqual(written(), [], 'nothing graded, nothing written');
  });

  it('a model_name_or_path of ".." is refused: instance directories would sit one level up', () => {
    writeFileSync(tasksFile, jsonl([task('acme__calc-1')]));
    writeFileSync(predsFile, jsonl([pred('acme__calc-1', '..')]));
    const r = bottega(['--run-id', 'names']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /preds\.jsonl:1: invalid prediction: model_name_or_path: "\.\." /);
    assert.deepEqual(written(), []);
  });

  it('a --run-id of ".." is refused', () => {
    writeFileSync(tasksFile, jsonl([task('acme__calc-1')]));
    writeFileSync(predsFile, jsonl([pred('acme__calc-1', 'org/model-7b')]));
    const r = bottega(['--run-id', '..']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--run-id: "\.\." /);
    assert.deepEqual(written(), []);
  });

  it('SWE-bench ids and org/model names keep the official layout', () => {
    writeFileSync(tasksFile, jsonl([task('acme__calc-1')]));
    writeFileSync(predsFile, jsonl([pred('acme__calc-1', 'org/model-7b')]));
    const r = bottega(['--run-id', 'names', '--no-cache']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(written(), [
      'run/out/logs/run_evaluation/names/org__model-7b/acme__calc-1/patch.diff',
      'run/out/logs/run_evaluation/names/org__model-7b/acme__calc-1/run_instance.log',
      'run/out/org__model-7b.names.json',
    ]);
  });
});
