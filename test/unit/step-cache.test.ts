import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalArtifactStore } from '../../activities/store/artifact-store';
import { canonicalJson } from '../../activities/store/canonical';
import { collectRefs, lookupStep, recordStep, stepCacheKey } from '../../activities/store/step-cache';

const producer = { workflowId: 'exp/mine', runId: 'r1' };

describe('canonical JSON and cache keys', () => {
  it('ignores key order and undefined members', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }),
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}'
    );
  });
  it('changes with stage version, input, upstream content and environment, not with upstream location', () => {
    const base = { stage: 'mine', version: '1', input: { a: 1 }, upstream: [], environment: { tok: 'x' } };
    const k = stepCacheKey(base);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(stepCacheKey({ ...base, input: { a: 1 } }), k);
    assert.notEqual(stepCacheKey({ ...base, version: '2' }), k);
    assert.notEqual(stepCacheKey({ ...base, input: { a: 2 } }), k);
    assert.notEqual(stepCacheKey({ ...base, environment: { tok: 'y' } }), k);
    const ref = { uri: 'file:///a', sha256: 'f'.repeat(64), bytes: 1, records: 1, schemaVersion: 1 };
    const withUp = stepCacheKey({ ...base, upstream: [ref] });
    assert.notEqual(withUp, k);
    assert.equal(stepCacheKey({ ...base, upstream: [{ ...ref, uri: 's3://b/a' }] }), withUp);
  });
});

describe('local artifact store and step cache', () => {
  it('writes atomically with exact sha256, bytes and records, and lists by prefix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-store-'));
    const store = new LocalArtifactStore(dir);
    const ref = await store.put('a/b/x.jsonl', '{"i":1}\n{"i":2}\n');
    assert.equal(ref.records, 2);
    assert.equal(ref.bytes, 16);
    assert.equal(ref.sha256, createHash('sha256').update('{"i":1}\n{"i":2}\n').digest('hex'));
    assert.equal(readFileSync(fileURLToPath(ref.uri), 'utf8'), '{"i":1}\n{"i":2}\n');
    await store.put('a/b/y.jsonl', '');
    await store.put('a/c.json', '{}', { records: null });
    assert.deepEqual(await store.list('a/b/'), ['a/b/x.jsonl', 'a/b/y.jsonl']);
    assert.equal(await store.exists(ref.uri, ref.bytes), true);
    assert.equal(await store.exists(ref.uri, ref.bytes + 1), false);
    rmSync(dir, { recursive: true });
  });

  it('hits only while every referenced artifact still exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-cache-'));
    const store = new LocalArtifactStore(dir);
    const out = await store.put('out/samples.jsonl', 'x\n');
    const result = { artifacts: { samples: out }, summary: { n: 1 } };
    assert.deepEqual(collectRefs(result), [out]);
    assert.deepEqual(await lookupStep(store, 'mine', 'k1'), { hit: false, reason: 'absent' });
    await recordStep(store, {
      key: 'k1',
      stage: 'mine',
      version: '1',
      producer,
      createdAt: 'now',
      artifacts: collectRefs(result),
      result,
    });
    const hit = await lookupStep(store, 'mine', 'k1');
    assert.ok(hit.hit);
    assert.deepEqual(hit.entry.result, result);
    assert.deepEqual(hit.entry.producer, producer);
    rmSync(fileURLToPath(out.uri));
    const miss = await lookupStep(store, 'mine', 'k1');
    assert.equal(miss.hit, false);
    assert.equal(!miss.hit && miss.reason, 'artifact_missing');
    rmSync(dir, { recursive: true });
  });
});
