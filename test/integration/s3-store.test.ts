import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreConfig } from '../../contracts';
import { openStore, S3ArtifactStore } from '../../activities/store/artifact-store';
import { lookupStep, recordStep } from '../../activities/store/step-cache';
import { prerequisites } from '../helpers/prereq';

/**
 * Against the real S3-compatible server `bottega dev up s3` starts (SeaweedFS). CI exports its
 * endpoint and credentials (`bash infra/dev.sh env`).
 */
const bucket = process.env.BOTTEGA_S3_BUCKET ?? 'bottega';

describe(
  'S3 artifact store (real S3 server)',
  {
    skip: await prerequisites('s3'),
  },
  () => {
    const prefix = `it-${randomBytes(4).toString('hex')}`;
    let store: S3ArtifactStore;

    before(async () => {
      store = openStore(StoreConfig.parse({ uri: `s3://${bucket}/${prefix}` })) as S3ArtifactStore;
      assert.ok(store instanceof S3ArtifactStore);
      await store.ensureBucket();
    });

    it('puts and gets with exact references', async () => {
      const body = '{"a":1}\n{"a":2}\n{"a":3}\n';
      const ref = await store.put('x/y.jsonl', body);
      assert.equal(ref.uri, `s3://${bucket}/${prefix}/x/y.jsonl`);
      assert.equal(ref.records, 3);
      assert.equal(ref.bytes, Buffer.byteLength(body));
      assert.equal(ref.sha256, createHash('sha256').update(body).digest('hex'));
      assert.equal((await store.get(ref.uri)).toString('utf8'), body);
      assert.equal(await store.exists(ref.uri, ref.bytes), true);
      assert.equal(await store.exists(ref.uri, ref.bytes + 1), false);
      assert.equal(await store.exists(`s3://${bucket}/${prefix}/absent`), false);
      assert.deepEqual(await store.list('x/'), ['x/y.jsonl']);
    });

    it('presigned GET URLs: fetched without credentials; tampered, other-key and expired ones are refused', async () => {
      const body = randomBytes(4096);
      const ref = await store.put('x/p.bin', body);
      await store.put('x/q.bin', 'other');
      const url = await store.presignGet(ref.uri, 60);
      const secret = process.env[StoreConfig.parse({ uri: `s3://${bucket}` }).s3.secret_key_env];
      assert.ok(secret && !url.includes(secret), 'no secret in the URL');
      const ok = await fetch(url);
      assert.equal(ok.status, 200);
      assert.deepEqual(Buffer.from(await ok.arrayBuffer()), body);
      const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(url)![1]!;
      const flipped = url.replace(sig, sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0'));
      assert.equal((await fetch(flipped)).status, 403, 'a tampered signature');
      assert.equal((await fetch(url.replace('/x/p.bin?', '/x/q.bin?'))).status, 403, 'the URL of another key');
      const short = await store.presignGet(ref.uri, 1);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal((await fetch(short)).status, 403, 'an expired URL');
    });

    it('presigned URLs name the public endpoint when one is set (the address compute nodes use)', async () => {
      const cfg = StoreConfig.parse({ uri: `s3://${bucket}/${prefix}` });
      const endpoint = process.env[cfg.s3.endpoint_env]!;
      // Another name of the same server, as a container network name and a host address differ.
      const other = new URL(endpoint);
      other.hostname = other.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
      const pub = openStore(cfg, { ...process.env, [cfg.s3.public_endpoint_env]: other.origin }) as S3ArtifactStore;
      const ref = await pub.put('x/pub.bin', 'public');
      const url = await pub.presignGet(ref.uri, 60);
      assert.equal(new URL(url).host, other.host);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'public');
      assert.equal(new URL(await store.presignGet(ref.uri, 60)).host, new URL(endpoint).host, 'unset: the endpoint');
    });

    it('uploads a large file as a complete multipart object', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bottega-s3-'));
      const file = join(dir, 'big.bin');
      const data = randomBytes(12 * 1024 * 1024); // above lib-storage's 5 MiB part size
      writeFileSync(file, data);
      const ref = await store.putFile('big/big.bin', file, { records: null });
      assert.equal(ref.bytes, data.length);
      const back = await store.get(ref.uri);
      assert.equal(createHash('sha256').update(back).digest('hex'), ref.sha256);
      assert.equal(ref.sha256, createHash('sha256').update(data).digest('hex'));
    });

    it('serves the step cache from S3', async () => {
      const out = await store.put('cache-test/out.jsonl', 'a\n');
      const producer = { workflowId: 'w', runId: 'r' };
      await recordStep(store, {
        key: 'k',
        stage: 'mine',
        version: '1',
        producer,
        createdAt: 'now',
        artifacts: [out],
        result: { out },
      });
      const hit = await lookupStep(store, 'mine', 'k');
      assert.ok(hit.hit);
      assert.deepEqual(hit.entry.producer, producer);
    });
  }
);
