import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BOM, stripBom } from '../../activities/text-input';
import { parseTaskJsonl } from '../../activities/build/task-io';
import { readEvalTasks, readPredictions } from '../../activities/evaluate';
import { createEvaluateStageActivities } from '../../activities/evaluate/stage-activities';
import { readRecords } from '../../activities/mix/read-records';
import { loadIssuesFile } from '../../activities/mine/git-source';
import { readTrajectoryFile } from '../../activities/rollout/convert/readers';
import { readSpecFile } from '../../cli/spec-file';
import { EvaluateConfig, StoreConfig, type EvaluateConfigInput, type EvaluateRun } from '../../contracts';

/**
 * A UTF-8 byte order mark at the start of an input file (Notepad, Excel exports, PowerShell) is
 * not content: every JSONL/JSON reader of user files accepts it, through one helper
 * (activities/text-input.ts), and reads the first record as if it were not there.
 */
const dir = mkdtempSync(join(tmpdir(), 'bottega-bom-'));
const line = (o: unknown) => JSON.stringify(o);
/** Writes `text` with a leading BOM under the test's directory; returns the path. */
const withBom = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, BOM + text);
  return path;
};

describe('stripBom', () => {
  it('removes one leading BOM and nothing else', () => {
    assert.equal(stripBom('\uFEFF{"a":1}'), '{"a":1}');
    assert.equal(stripBom('{"a":1}'), '{"a":1}');
    assert.equal(stripBom('\uFEFF\uFEFFx'), '\uFEFFx', 'a second one is content');
    assert.equal(stripBom('a\uFEFFb'), 'a\uFEFFb', 'inside the text it is content');
  });
});

describe('UTF-8 BOM at the start of each input bottega reads', () => {
  it('task records (build.tasks.files, bottega build --plan)', () => {
    const text = readFileSync(new URL('../fixtures/tasks/swe-bench.jsonl', import.meta.url), 'utf8');
    const plain = parseTaskJsonl(text, 't.jsonl');
    const r = parseTaskJsonl(BOM + text, 't.jsonl');
    assert.deepEqual(r.problems, plain.problems);
    assert.deepEqual(r.records, plain.records);
    assert.ok(r.records.length > 0);
  });

  it('predictions files: JSONL, a JSON list and preds.json (bottega eval, evaluate)', () => {
    const ids = new Set(['a__b-1']);
    const p = { instance_id: 'a__b-1', model_name_or_path: 'm', model_patch: 'diff' };
    for (const [file, text] of [
      ['p.jsonl', `${line(p)}\n`],
      ['p.json', line([p])],
      ['preds.json', line({ 'a__b-1': { model_name_or_path: 'm', model_patch: 'diff' } })],
    ] as const) {
      const r = readPredictions(file, ids, BOM + text);
      assert.deepEqual(r.problems, [], file);
      assert.equal(r.predictions[0]?.prediction.instance_id, 'a__b-1', file);
    }
  });

  const task = {
    instance_id: 'a__b-1',
    repo: 'a/b',
    base_commit: 'abc1234',
    test_patch: 'diff --git a/t.py b/t.py\n',
    FAIL_TO_PASS: ['t.py::x'],
    PASS_TO_PASS: [],
    image: { tag: 'bottega/inst.a__b:1', id: 'sha256:1' },
    install_config: { test_cmd: 'pytest -rA', log_parser: 'pytest' },
  };

  it('evaluation task files (bottega eval --tasks)', () => {
    const r = readEvalTasks('t.jsonl', `${BOM}${line(task)}\n`);
    assert.deepEqual(r.problems, []);
    assert.equal(r.tasks.size, 1);
  });

  it('evaluate.tasks.path is stored without the BOM, and baseline run reports read with one', async () => {
    const acts = createEvaluateStageActivities({ env: process.env });
    const store = StoreConfig.parse({ uri: pathToFileURL(join(dir, 'store')).href });
    const config: EvaluateConfigInput = {
      tasks: { path: withBom('tasks.validated.jsonl', `${line(task)}\n`) },
      policy: 'replay-gold',
      runs: 1,
      baselines: [{ name: 'theirs', run_report: withBom('theirs.json', line({ resolved_ids: ['a__b-1'] })) }],
    };
    const base = { experimentId: 'exp-bom', config: EvaluateConfig.parse(config), store, prefix: 'exp-bom/evaluate' };
    const tasks = await acts.importEvaluationTasks({ ...base, path: (config.tasks as { path: string }).path });
    const stored = readFileSync(fileURLToPath(tasks.uri), 'utf8');
    assert.ok(stored.startsWith('{'), JSON.stringify(stored.slice(0, 5)));
    const run: EvaluateRun = {
      run: 1,
      seed: 1,
      total: 1,
      submitted: 1,
      resolved: 1,
      unresolved: 0,
      empty_patch: 0,
      error: 0,
      resolved_rate: 1,
      resolved_ids: ['a__b-1'],
      strict_disagreement_ids: [],
      exits: {},
      artifacts: { predictions: tasks, reports: tasks, run_report: tasks, trajectories: tasks },
    };
    const r = await acts.summarizeEvaluation({ ...base, tasks, model: 'm', runs: [run], serving: null });
    assert.equal(r.summary.tasks, 1);
    assert.deepEqual(r.summary.baselines[0]!.rates, [1]);
  });

  it('mix sources and decontamination benchmarks: JSONL and a JSON array', async () => {
    const store = StoreConfig.parse({ uri: pathToFileURL(join(dir, 'store')).href });
    const read = async (path: string) => {
      const out = [];
      for await (const r of readRecords(pathToFileURL(path).href, store, process.env)) out.push(r);
      return out;
    };
    const jsonl = await read(withBom('docs.jsonl', `${line({ text: 'one' })}\n${line({ text: 'two' })}\n`));
    assert.deepEqual(jsonl, [
      { line: 1, value: { text: 'one' } },
      { line: 2, value: { text: 'two' } },
    ]);
    const array = await read(withBom('docs-array.jsonl', line([{ text: 'one' }])));
    assert.deepEqual(array, [{ line: 1, value: { text: 'one' } }]);
  });

  it('issues files of git sources', async () => {
    const issues = await loadIssuesFile(
      withBom('issues.jsonl', `${line({ number: 7, title: 'Crash on empty input', body: 'boom' })}\n`)
    );
    assert.equal(issues.get(7)?.title, 'Crash on empty input');
  });

  it('JSON and YAML experiment specs', () => {
    const json = readSpecFile(withBom('spec.json', line({ id: 'exp-bom' })));
    assert.ok(json.ok, JSON.stringify(json));
    assert.deepEqual(json.value, { id: 'exp-bom' });
    const yaml = readSpecFile(withBom('spec.yaml', 'id: exp-bom\n'));
    assert.ok(yaml.ok);
    assert.deepEqual(yaml.value, { id: 'exp-bom' });
  });

  it('imported agent trajectories (SWE-agent .traj)', () => {
    const src = fileURLToPath(new URL('../fixtures/trajectories/textkit__textkit-12.traj', import.meta.url));
    const plain = readTrajectoryFile(src);
    const copy = join(dir, 'textkit__textkit-12.traj');
    copyFileSync(src, copy);
    writeFileSync(copy, BOM + readFileSync(copy, 'utf8'));
    assert.deepEqual(readTrajectoryFile(copy), plain);
  });
});
