import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import Docker from 'dockerode';
import {
  checkName,
  checkStoreKey,
  modelNameProblem,
  modelSlug,
  nameProblem,
  Prediction,
  repoSlug,
  storeKeyProblem,
  UNSAFE_NAME,
} from '../../contracts';
import { parseTaskJsonl } from '../../activities/build/task-io';
import { evaluatePredictions, formatProblem, readEvalTasks, readPredictions } from '../../activities/evaluate';
import { LocalArtifactStore } from '../../activities/store/artifact-store';
import { jobPaths } from '../../activities/train/paths';

const HOSTILE = ['..', '.', '../x', 'a/b', '/abs', 'a\\b', 'a\0b', 'a\nb', 'x.tmp-1', '', 'é'.repeat(101)];

/** The thrown value is a non-retryable UnsafeName ApplicationFailure whose message matches `re`. */
function unsafe(re: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure, String(e));
    assert.equal(e.type, UNSAFE_NAME);
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, re);
    return true;
  };
}

describe('names that become paths (contracts/safe-names.ts)', () => {
  it('keeps SWE-bench-style ids and other ordinary names as they are', () => {
    for (const ok of [
      'django__django-11099',
      'acme__calc-1.forge',
      'owner__repo.abc123.func_pm__x',
      'v1',
      'a b',
      'ü',
    ]) {
      assert.equal(nameProblem(ok), null, ok);
      assert.equal(checkName('instance_id', ok), ok);
    }
  });

  it('refuses every name that is not one file name, saying why and how to fix it', () => {
    for (const bad of HOSTILE) assert.ok(nameProblem(bad), JSON.stringify(bad));
    assert.match(nameProblem('..')!, /^"\.\." names a directory itself or its parent.*; use one file name/);
    assert.match(nameProblem('../x')!, /contains "\/"/);
    assert.match(nameProblem('a\\b')!, /backslash/);
    assert.match(nameProblem('a\0b')!, /control character/);
    assert.match(nameProblem('é'.repeat(101))!, /longer than 200 bytes/, 'bytes, not characters');
    assert.throws(
      () => checkName('tasks.jsonl:3: instance_id', '../x'),
      unsafe(/^tasks\.jsonl:3: instance_id: "\.\.\/x"/)
    );
  });

  it('slugs model names as SWE-bench does and refuses only those that would not be one directory', () => {
    assert.equal(modelSlug('org/model-7b'), 'org__model-7b');
    assert.equal(modelSlug('/ckpt/a/step-100'), '__ckpt__a__step-100');
    assert.equal(modelSlug(null), 'None');
    assert.equal(modelSlug(''), 'None');
    for (const ok of ['org/model-7b', '/ckpt/step-100', '../models/x', null, 'gpt-4o'])
      assert.equal(modelNameProblem(ok), null);
    assert.match(modelNameProblem('..')!, /^"\.\." names a directory itself or its parent.*org\/model-7b/);
    assert.match(modelNameProblem('.')!, /names a directory/);
    assert.match(modelNameProblem('org\\m')!, /backslash/);
    assert.equal(repoSlug('acme/calc'), 'acme__calc');
  });

  it('zod contracts refuse hostile ids and model names with the field named', () => {
    const r = Prediction.safeParse({ instance_id: '../../x', model_name_or_path: '..', model_patch: '' });
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues.map((i) => i.path.join('.')).sort(), ['instance_id', 'model_name_or_path']);
  });
});

describe('task and prediction files: hostile names are problems located by file and line', () => {
  it('build task records', () => {
    const rec = (id: string) =>
      JSON.stringify({ instance_id: id, repo: 'a/b', base_commit: 'abc1234', patch: '', test_patch: '' });
    const r = parseTaskJsonl([rec('a__b-1'), rec('../../../escaped'), rec('a\\b')].join('\n'), 'tasks.jsonl');
    assert.deepEqual(
      r.records.map((t) => t.instance_id),
      ['a__b-1']
    );
    assert.equal(r.problems.length, 2);
    assert.match(r.problems[0]!.message, /^tasks\.jsonl:2: instance_id: "\.\.\/\.\.\/\.\.\/escaped" contains "\/"/);
    assert.equal(r.problems[0]!.path, 'instance_id');
    assert.match(r.problems[1]!.message, /^tasks\.jsonl:3: instance_id: .*backslash/);
  });

  it('eval tasks and predictions', () => {
    const task = {
      instance_id: '..',
      base_commit: 'abc1234',
      test_patch: '',
      FAIL_TO_PASS: [],
      PASS_TO_PASS: [],
      image: 'x:1',
      install_config: { test_cmd: 'pytest', log_parser: 'pytest' },
    };
    const t = readEvalTasks('tasks.jsonl', JSON.stringify(task));
    assert.match(
      formatProblem(t.problems[0]!),
      /^tasks\.jsonl:1: invalid task record: instance_id: "\.\." names a directory/
    );
    const p = readPredictions(
      'preds.json',
      new Set(['a__b-1']),
      JSON.stringify({ 'a__b-1': { model_name_or_path: '..', model_patch: '' } })
    );
    assert.match(
      formatProblem(p.problems[0]!),
      /^preds\.json:\["a__b-1"\]: invalid prediction: model_name_or_path: "\.\."/
    );
  });

  it('evaluatePredictions refuses hostile names before grading or writing anything', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bottega-names-eval-'));
    const base = {
      docker: new Docker({ socketPath: '/nonexistent' }),
      tasks: new Map(),
      outDir: join(out, 'out'),
      cacheDir: null,
      concurrency: 1,
      run: { timeoutMs: 1000, limits: { cpus: 1, memoryMb: 256, pids: 64 } },
    };
    const pred = (instance_id: string, model: string | null) => ({
      instance_id,
      model_name_or_path: model,
      model_patch: '',
    });
    await assert.rejects(
      evaluatePredictions({ ...base, runId: 'r', predictions: [pred('../../../x', 'm')] }),
      unsafe(/^instance_id: "\.\.\/\.\.\/\.\.\/x" contains "\/"/)
    );
    await assert.rejects(
      evaluatePredictions({ ...base, runId: 'r', predictions: [pred('a__b-1', '..')] }),
      unsafe(/^model_name_or_path of a__b-1: "\.\."/)
    );
    await assert.rejects(evaluatePredictions({ ...base, runId: '..', predictions: [] }), unsafe(/^run id: "\.\."/));
    assert.deepEqual(readdirSync(out), [], 'nothing written');
  });

  it('Slurm job directories refuse an experiment id or stage that is not one directory name', () => {
    assert.equal(jobPaths('/w', 'exp-1', 'mt1').dir, '/w/exp-1/mt1');
    assert.throws(() => jobPaths('/w', '../..', 'mt1'), unsafe(/^experiment id: "\.\.\/\.\."/));
    assert.throws(() => jobPaths('/w', 'exp', '..'), unsafe(/^stage: "\.\."/));
  });
});

describe('artifact store keys', () => {
  it('accepts the keys the stages write and refuses keys that leave the prefix', () => {
    for (const ok of ['experiments/e/build/0123/logs/a__b-1.no_recipe.log', 'cache/mine/abc.json', 'x/y.jsonl'])
      assert.equal(storeKeyProblem(ok), null, ok);
    const bad: [string, RegExp][] = [
      ['', /is empty/],
      ['/etc/passwd', /absolute/],
      ['a/../../b', /segment "\.\." that names a directory/],
      ['./a', /segment "\." /],
      ['a//b', /segment "" that is empty/],
      ['a/', /trailing/],
      ['a\\..\\b', /backslash/],
      ['a/b\0c', /control character/],
      ['a/b.tmp-123', /\.tmp-/],
      [`a/${'x'.repeat(256)}`, /longer than 255 bytes/],
      [`${'abcdefgh/'.repeat(114)}x`, /longer than 1024 bytes/],
    ];
    for (const [key, re] of bad) assert.match(storeKeyProblem(key) ?? 'accepted', re, JSON.stringify(key));
    assert.equal(storeKeyProblem('', { listing: true }), null, 'a listing may cover everything');
    assert.equal(storeKeyProblem('x/', { listing: true }), null);
    assert.match(storeKeyProblem('../', { listing: true })!, /"\.\."/);
    assert.throws(() => checkStoreKey('a/../../b'), unsafe(/^artifact store key: "a\/\.\.\/\.\.\/b" has a segment/));
  });

  it('the local store refuses them at every entry point and writes nothing outside its root', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bottega-names-store-'));
    const store = new LocalArtifactStore(join(tmp, 'store'));
    const src = join(tmp, 'src.txt');
    writeFileSync(src, 'x\n');
    for (const key of ['../escaped', 'a/../../escaped', '/abs', 'a\\b', 'a\0b', 'a//b']) {
      await assert.rejects(store.put(key, 'x\n'), unsafe(/^artifact store key: /), key);
      await assert.rejects(store.putFile(key, src), unsafe(/^artifact store key: /), key);
      assert.throws(() => store.uriFor(key), unsafe(/^artifact store key: /), key);
    }
    await assert.rejects(store.list('../'), unsafe(/^artifact store key: /));
    assert.deepEqual(readdirSync(tmp).sort(), ['src.txt'], 'nothing written, not even the store directory');
    const ref = await store.put('experiments/e/build/0123/logs/a__b-1.no_recipe.log', 'log\n');
    assert.equal(ref.uri, `file://${tmp}/store/experiments/e/build/0123/logs/a__b-1.no_recipe.log`, 'layout unchanged');
    assert.deepEqual(await store.list(''), ['experiments/e/build/0123/logs/a__b-1.no_recipe.log']);
  });
});
