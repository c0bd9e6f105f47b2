import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MixManifest } from '../../contracts';
import { runMixPipeline, type RunMixPipelineOutput } from '../../activities/mix/pipeline';
import { makeMixFixtures, paperRecipe, type MixFixtures } from '../helpers/mix-fixtures';
import { readStage, readStageParquet } from '../helpers/mix-readback';

/** `mix.outputs`: the shard Parquet file reads back with hyparquet as the JSONL's rows. */
const tmp = mkdtempSync(join(tmpdir(), 'bottega-mix-parquet-'));
let fx: MixFixtures;
let both1: RunMixPipelineOutput;
let both2: RunMixPipelineOutput;

const run = (outputs: Record<string, boolean> | undefined, out: string, over: Record<string, unknown> = {}) =>
  runMixPipeline({
    config: paperRecipe(fx, { ...(outputs ? { outputs } : {}), ...over }),
    inputs: fx.inputs,
    outDir: join(tmp, out),
    concurrency: out.endsWith('2') ? 1 : undefined,
  });

const sha = (uri: string) =>
  createHash('sha256')
    .update(readFileSync(fileURLToPath(uri)))
    .digest('hex');
const filesOf = (m: MixManifest) => readdirSync(fileURLToPath(new URL('.', m.shards[0]!.files.bin.uri)));

/** What the Parquet row of a JSONL document must be. */
const expectedRow = (d: Record<string, unknown>) => ({
  id: d.id,
  source: d.source,
  text: typeof d.text === 'string' ? d.text : null,
  messages: d.messages === undefined ? null : JSON.stringify(d.messages),
});

describe('mix outputs: Parquet next to the shard JSONL', () => {
  before(async () => {
    fx = makeMixFixtures(join(tmp, 'fx'));
    both1 = await run({ jsonl: true, parquet: true }, 'both1');
    both2 = await run({ jsonl: true, parquet: true }, 'both2');
  });

  it('holds the same rows as the JSONL (text, or messages as a JSON string), listed with sha256', async () => {
    for (const m of Object.values(both1.manifests)) {
      const { jsonl } = readStage(m);
      const rows = await readStageParquet(m);
      assert.equal(rows.length, m.documents);
      assert.deepEqual(rows, jsonl.map(expectedRow), m.stage);
      for (const s of m.shards) {
        assert.equal(s.files.parquet!.sha256, sha(s.files.parquet!.uri));
        assert.match(s.files.parquet!.uri, /\/shard-\d{5}\.parquet$/);
      }
    }
    const sft = await readStageParquet(both1.manifests.sft!);
    assert.ok(sft.every((r) => r.text === null && typeof r.messages === 'string'));
    const mt2 = await readStageParquet(both1.manifests.mt2!);
    assert.ok(mt2.some((r) => r.text !== null) && mt2.some((r) => r.messages !== null), 'mixed text and messages');
  });

  it('is deterministic: two runs give the same sha256 for every file', () => {
    for (const stage of ['mt1', 'mt2', 'sft']) {
      const files = (o: RunMixPipelineOutput) =>
        o.manifests[stage]!.shards.map((s) => Object.entries(s.files).map(([k, f]) => [k, f.sha256]));
      assert.deepEqual(files(both1), files(both2), stage);
      assert.ok(both1.manifests[stage]!.shards.every((s) => s.files.parquet && s.files.jsonl));
    }
  });

  it('defaults keep JSONL only; parquet alone drops the JSONL; token files are unchanged', async () => {
    const plain = await run(undefined, 'plain');
    const pq = await run({ jsonl: false, parquet: true }, 'pq');
    for (const stage of ['mt1', 'mt2', 'sft']) {
      const p = plain.manifests[stage]!;
      const q = pq.manifests[stage]!;
      const b = both1.manifests[stage]!;
      assert.ok(p.shards.every((s) => s.files.jsonl && !('parquet' in s.files)));
      assert.ok(q.shards.every((s) => s.files.parquet && !('jsonl' in s.files)));
      assert.ok(!filesOf(p).some((f) => f.endsWith('.parquet')));
      assert.ok(!filesOf(q).some((f) => f.endsWith('.jsonl')));
      const bins = (m: MixManifest) => m.shards.map((s) => [s.files.bin.sha256, s.files['mask.bin'].sha256]);
      assert.deepEqual(bins(p), bins(b));
      assert.deepEqual(bins(q), bins(b));
      assert.deepEqual(
        q.shards.map((s) => s.files.parquet!.sha256),
        b.shards.map((s) => s.files.parquet!.sha256)
      );
      assert.deepEqual(readStage(p).jsonl, readStage(b).jsonl);
    }
  });

  it('rewrites finished shards whose files do not match the outputs asked for', async () => {
    const first = await run(undefined, 'switch');
    const again = await run({ jsonl: true, parquet: true }, 'switch');
    for (const stage of ['mt1', 'mt2', 'sft']) {
      assert.ok(first.manifests[stage]!.shards.every((s) => !s.files.parquet));
      assert.deepEqual(
        again.manifests[stage]!.shards.map((s) => s.files.parquet!.sha256),
        both1.manifests[stage]!.shards.map((s) => s.files.parquet!.sha256)
      );
    }
  });

  it('a shard where no document starts gets an empty Parquet file that still reads back', async () => {
    const tiny = await run({ jsonl: true, parquet: true }, 'tiny', {
      shard_tokens: 64,
      stages: [{ name: 'mt1', seq_len: 64, sources: [{ source: 'general_prs' }] }],
    });
    const m = tiny.manifests.mt1!;
    const rows = await readStageParquet(m);
    assert.deepEqual(rows, readStage(m).jsonl.map(expectedRow));
    assert.ok(
      m.shards.some((s) => s.files.jsonl!.bytes === 0),
      'some shards hold no document start'
    );
  });
});
