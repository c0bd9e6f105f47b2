import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { StoreConfig, UNSAFE_NAME } from '../../contracts';
import { openStore, S3ArtifactStore } from '../../activities/store/artifact-store';
import { prerequisites } from '../helpers/prereq';

/**
 * The S3 store against the real S3-compatible server (SeaweedFS, `bottega dev up s3`) refuses keys
 * that would leave its prefix with a non-retryable `UnsafeName` failure naming the key, and writes
 * nothing for them. (Unchecked, SeaweedFS answers `a/../b` with a bare `400 InvalidRequest` that an
 * activity would retry; other servers and proxies may normalise it into an object outside the prefix.)
 */
const bucket = process.env.BOTTEGA_S3_BUCKET ?? 'bottega';
const HOSTILE = ['../escaped', 'a/../../escaped', '/abs', 'a\\b', 'a\0b', 'a//b', './a', 'a/b.tmp-1'];

const refused = (e: unknown) => {
  assert.ok(e instanceof ApplicationFailure, String(e));
  assert.equal(e.type, UNSAFE_NAME);
  assert.equal(e.nonRetryable, true);
  assert.match(e.message, /^artifact store key: .* must stay under the store's root/);
  return true;
};

describe('S3 store key refusal (real S3 server)', { skip: await prerequisites('s3') }, () => {
  const root = `it-keys-${randomBytes(4).toString('hex')}`;
  // The store under test sits one level down, so an escape to `root/escaped` would be visible.
  let store: S3ArtifactStore;
  let parent: S3ArtifactStore;

  before(async () => {
    store = openStore(StoreConfig.parse({ uri: `s3://${bucket}/${root}/inner` })) as S3ArtifactStore;
    parent = openStore(StoreConfig.parse({ uri: `s3://${bucket}/${root}` })) as S3ArtifactStore;
    await store.ensureBucket();
  });

  it('refuses keys that leave the prefix at put, putFile, uriFor and list; writes nothing', async () => {
    const src = join(mkdtempSync(join(tmpdir(), 'bottega-s3-keys-')), 'src.txt');
    writeFileSync(src, 'x\n');
    for (const key of HOSTILE) {
      await assert.rejects(store.put(key, 'x\n'), refused, key);
      await assert.rejects(store.putFile(key, src), refused, key);
      assert.throws(() => store.uriFor(key), refused, key);
    }
    await assert.rejects(store.list('../'), refused);
    assert.deepEqual(await parent.list(''), [], 'no object anywhere under the parent prefix');
  });

  it('keeps the layout of valid keys', async () => {
    const key = 'experiments/e/build/0123/logs/django__django-11099.no_recipe.log';
    const ref = await store.put(key, 'log\n', { records: null });
    assert.equal(ref.uri, `s3://${bucket}/${root}/inner/${key}`);
    assert.deepEqual(await parent.list(''), [`inner/${key}`]);
  });
});
