import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheKey, formatProblem, GradeCache, readEvalTasks, readPredictions } from '../../activities/evaluate';
import { EvalTask, type GradedInstance } from '../../contracts';

const ids = new Set(['a__b-1', 'a__b-2']);
const line = (o: unknown) => JSON.stringify(o);

describe('readPredictions', () => {
  it('reads JSONL, a JSON list and a dict keyed by instance id', () => {
    const p = { instance_id: 'a__b-1', model_name_or_path: 'm', model_patch: 'diff' };
    assert.equal(readPredictions('p.jsonl', ids, `${line(p)}\n\n`).predictions.length, 1);
    assert.equal(readPredictions('p.json', ids, JSON.stringify([p])).predictions.length, 1);
    const dict = readPredictions(
      'preds.json',
      ids,
      JSON.stringify({ 'a__b-2': { model_name_or_path: 'm', model_patch: null } })
    );
    assert.deepEqual(dict.problems, []);
    assert.equal(dict.predictions[0]!.prediction.instance_id, 'a__b-2');
    assert.equal(dict.predictions[0]!.prediction.model_patch, null);
  });
  it('locates bad lines, duplicates and unknown ids by file:line', () => {
    const text = [
      line({ instance_id: 'a__b-1', model_name_or_path: 'm', model_patch: '' }),
      '{oops',
      line({ instance_id: 'a__b-1', model_name_or_path: 'm', model_patch: 'x' }),
      line({ instance_id: 'c__d-9', model_name_or_path: 'm', model_patch: 'x' }),
      line({ instance_id: 'a__b-2', model_patch: 'x' }),
    ].join('\n');
    const r = readPredictions('p.jsonl', ids, text);
    const msgs = r.problems.map(formatProblem);
    assert.equal(msgs.length, 4);
    assert.match(msgs[0]!, /^p\.jsonl:2: not valid JSON/);
    assert.match(msgs[1]!, /^p\.jsonl:3: duplicate instance_id a__b-1 \(first at p\.jsonl:1\)$/);
    assert.match(msgs[2]!, /^p\.jsonl:4: unknown instance_id c__d-9/);
    assert.match(msgs[3]!, /^p\.jsonl:5: invalid prediction: model_name_or_path/);
    assert.deepEqual(
      r.unknown.map((u) => u.at),
      ['p.jsonl:4']
    );
    assert.equal(r.predictions.length, 1);
  });
  it('an empty file is a problem', () => {
    assert.match(formatProblem(readPredictions('p.jsonl', ids, '\n').problems[0]!), /no predictions/);
  });
});

const task = {
  instance_id: 'a__b-1',
  repo: 'a/b',
  base_commit: 'abc1234',
  test_patch: 'diff --git a/t.py b/t.py\n',
  FAIL_TO_PASS: '["t.py::x"]',
  PASS_TO_PASS: [],
  image: { tag: 'bottega/inst.a__b:1', id: 'sha256:1' },
  install_config: { test_cmd: 'pytest -rA', log_parser: 'pytest' },
};

describe('readEvalTasks', () => {
  it('parses validated records (JSON-encoded test lists too) and locates bad ones', () => {
    const r = readEvalTasks(
      't.jsonl',
      [line(task), line({ ...task, instance_id: 'a__b-2', image: undefined }), line(task)].join('\n')
    );
    assert.deepEqual(r.tasks.get('a__b-1')!.FAIL_TO_PASS, ['t.py::x']);
    assert.equal(r.problems.length, 2);
    assert.match(formatProblem(r.problems[0]!), /^t\.jsonl:2: invalid task record: image/);
    assert.match(formatProblem(r.problems[1]!), /^t\.jsonl:3: duplicate instance_id a__b-1/);
  });
});

describe('cache key', () => {
  const t = EvalTask.parse(task);
  it('depends on the patch bytes, the image id and the task, not on anything else', () => {
    const k = cacheKey(t, 'diff A', 'sha256:1').key;
    assert.equal(cacheKey(t, 'diff A', 'sha256:1').key, k);
    assert.notEqual(cacheKey(t, 'diff B', 'sha256:1').key, k);
    assert.notEqual(cacheKey(t, 'diff A', 'sha256:2').key, k);
    assert.notEqual(cacheKey({ ...t, PASS_TO_PASS: ['t.py::y'] }, 'diff A', 'sha256:1').key, k);
    assert.notEqual(cacheKey({ ...t, instance_id: 'a__b-2' }, 'diff A', 'sha256:1').key, k);
    assert.match(k, /^[0-9a-f]{64}$/);
  });
  it('round-trips results on disk', () => {
    const cache = new GradeCache(join(mkdtempSync(join(tmpdir(), 'eval-cache-')), 'c'));
    const { key, inputs } = cacheKey(t, 'diff A', 'sha256:1');
    const result: GradedInstance = {
      instance_id: 'a__b-1',
      outcome: 'unresolved',
      reason: 'tests_failed',
      report: null,
      log: 'x',
      timings: null,
    };
    assert.equal(cache.get(key), null);
    cache.put(key, inputs, result);
    assert.deepEqual(cache.get(key), result);
  });
});
