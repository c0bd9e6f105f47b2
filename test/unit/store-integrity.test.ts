import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalArtifactStore } from '../../activities/store/artifact-store';
import { sweepLeftovers } from '../../activities/store/leftovers';
import { lookupStep, recordStep } from '../../activities/store/step-cache';
import { verifyArtifacts } from '../../activities/store/verify';

/**
 * Content checks of the local store (issue 15, defects 4 and 6): a same-size corruption of a cached
 * artifact is a miss naming the key with expected and actual sha256 (also behind a JSON artifact
 * that lists it, like a mix manifest's shards), and crash leftovers are swept only when stale.
 */
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const producer = { workflowId: 'exp/mine', runId: 'r1' };

/** Flips one byte in place: same size, other content. */
function corrupt(path: string, at = 0): void {
  const b = readFileSync(path);
  b[at] = b[at]! ^ 0xff;
  writeFileSync(path, b);
}

describe('step cache verifies sha256 (local store)', () => {
  it('a same-size corruption is a miss naming the key, expected and actual sha256; a rewrite hits again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-verify-'));
    const store = new LocalArtifactStore(dir);
    const body = '{"i":1}\n{"i":2}\n';
    const out = await store.put('experiments/e/mine/k/general.jsonl', body);
    const result = { artifacts: { general: out } };
    await recordStep(store, {
      key: 'k1',
      stage: 'mine',
      version: '1',
      producer,
      createdAt: 'now',
      artifacts: [out],
      result,
    });
    assert.ok((await lookupStep(store, 'mine', 'k1')).hit, 'intact: a hit');

    const path = fileURLToPath(out.uri);
    corrupt(path, 3);
    assert.equal(readFileSync(path).length, out.bytes, 'same size');
    const miss = await lookupStep(store, 'mine', 'k1');
    assert.equal(miss.hit, false);
    assert.ok(!miss.hit);
    assert.equal(miss.reason, 'artifact_corrupt');
    assert.deepEqual(miss.problem, {
      kind: 'sha256',
      key: 'experiments/e/mine/k/general.jsonl',
      uri: out.uri,
      expected: out.sha256,
      actual: sha(readFileSync(path)),
    });

    // The stage reruns and rewrites it: the entry is usable again.
    await store.put('experiments/e/mine/k/general.jsonl', body);
    assert.ok((await lookupStep(store, 'mine', 'k1')).hit);
    rmSync(dir, { recursive: true });
  });

  it('follows references inside JSON artifacts (a manifest listing shard files)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-verify-'));
    const store = new LocalArtifactStore(dir);
    const shard = await store.put('m/mt1/shard-00000.bin', Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), { records: null });
    const manifest = await store.put(
      'm/mt1/manifest.json',
      JSON.stringify({ shards: [{ files: { bin: { uri: shard.uri, sha256: shard.sha256, bytes: shard.bytes } } }] }),
      { records: null }
    );
    assert.deepEqual(await verifyArtifacts(store, [manifest]), {
      problem: null,
      checked: 2,
      hashedBytes: manifest.bytes + 8,
    });
    corrupt(fileURLToPath(shard.uri), 5);
    const r = await verifyArtifacts(store, [manifest]);
    assert.equal(r.problem?.kind, 'sha256');
    assert.equal(r.problem?.key, 'm/mt1/shard-00000.bin');
    assert.equal(r.problem?.via, 'm/mt1/manifest.json');
    // Shallow checks stop at the manifest.
    assert.equal((await verifyArtifacts(store, [manifest], { deep: false })).problem, null);
    rmSync(dir, { recursive: true });
  });

  it('a missing artifact and a size change are told apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-verify-'));
    const store = new LocalArtifactStore(dir);
    const a = await store.put('a.jsonl', 'x\n');
    writeFileSync(fileURLToPath(a.uri), 'xy\n');
    assert.deepEqual((await verifyArtifacts(store, [a])).problem, {
      kind: 'size',
      key: 'a.jsonl',
      uri: a.uri,
      expectedBytes: 2,
      actualBytes: 3,
    });
    rmSync(fileURLToPath(a.uri));
    assert.deepEqual((await verifyArtifacts(store, [a])).problem, { kind: 'missing', key: 'a.jsonl', uri: a.uri });
    rmSync(dir, { recursive: true });
  });
});

describe('crash leftovers in the local store', () => {
  it('sweeps temp files older than the cutoff under the prefix; leaves fresh ones and artifacts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-leftovers-'));
    const store = new LocalArtifactStore(dir);
    const file = (rel: string, bytes: number, ageS: number) => {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, Buffer.alloc(bytes, 7));
      const t = Date.now() / 1000 - ageS;
      utimesSync(p, t, t);
      return p;
    };
    const stale = file('experiments/e/mix/k/mt1/shard-00003.bin.tmp-0123456789ab', 1000, 3600);
    const staleDeep = file('experiments/e/mix/k/mt2/shard-00000.idx.tmp-abcdefabcdef', 24, 3600);
    const fresh = file('experiments/e/mix/k/mt1/shard-00004.bin.tmp-00112233aabb', 500, 0);
    const other = file('experiments/e/mine/k/general.jsonl.tmp-0123456789ab', 10, 3600);
    const artifact = file('experiments/e/mix/k/mt1/shard-00003.bin', 1000, 3600);
    const lookalike = file('experiments/e/mix/k/notes.tmp-x', 3, 3600);

    const cutoff = new Date(Date.now() - 60_000);
    const dry = await sweepLeftovers(store, 'experiments/e/mix/', cutoff, { dryRun: true });
    assert.deepEqual(
      dry.found.map((l) => l.key),
      [
        'experiments/e/mix/k/mt1/shard-00003.bin.tmp-0123456789ab',
        'experiments/e/mix/k/mt2/shard-00000.idx.tmp-abcdefabcdef',
      ]
    );
    assert.equal(dry.removed, 0);
    assert.equal(dry.bytes, 1024);
    assert.ok(existsSync(stale), 'a dry run removes nothing');

    const r = await sweepLeftovers(store, 'experiments/e/mix/', cutoff);
    assert.equal(r.removed, 2);
    assert.equal(r.bytes, 1024);
    for (const p of [stale, staleDeep]) assert.ok(!existsSync(p), `${p} swept`);
    for (const p of [fresh, other, artifact, lookalike]) assert.ok(existsSync(p), `${p} kept`);

    // The whole store ('' prefix) finds the other stage's leftover too.
    assert.deepEqual(
      (await sweepLeftovers(store, '', cutoff)).found.map((l) => l.key),
      ['experiments/e/mine/k/general.jsonl.tmp-0123456789ab']
    );
    rmSync(dir, { recursive: true });
  });
});
