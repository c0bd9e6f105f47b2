import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { runMixPipeline } from '../../activities/mix/pipeline';
import { getTokenizer, type Tokenizer } from '../../activities/mine/tokenizer';
import { trajectoryToTrainingText } from '../../activities/rollout/convert/to-text';
import { Words } from '../helpers/mix-fixtures';
import { readStage } from '../helpers/mix-readback';

/** Ratios, budgets and fractional repetition; Parquet and `messages` sources; length gates. */
const tmp = mkdtempSync(join(tmpdir(), 'bottega-mix-weights-'));
let tok: Tokenizer;
const w = new Words(99);
const texts = Array.from({ length: 20 }, (_, i) => `doc ${i}: ${w.text(40 + (i % 7) * 10)}`);
const chats = Array.from({ length: 6 }, () => ({
  messages: [
    { role: 'user', content: w.text(12) },
    { role: 'assistant', content: w.text(20) },
  ],
}));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('mix weights and source formats', () => {
  before(async () => {
    tok = await getTokenizer('qwen2.5');
    writeFileSync(
      join(tmp, 'a.jsonl'),
      texts.map((t, i) => JSON.stringify({ body: t, id: `a${i}` })).join('\n') + '\n'
    );
    writeFileSync(
      join(tmp, 'b.parquet'),
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'id', data: texts.map((_, i) => `b${i}`), type: 'STRING' },
            { name: 'text', data: texts.map((t) => t.toUpperCase()), type: 'STRING' },
          ],
        })
      )
    );
    writeFileSync(join(tmp, 'c.jsonl'), chats.map((c) => JSON.stringify(c)).join('\n') + '\n');
  });

  it('fractional repetition: whole passes plus a seeded subset, ratios hit their targets, gates count', async () => {
    const aTokens = texts.map((t) => tok.count(t));
    const minTokens = [...aTokens].sort((x, y) => x - y)[5]!;
    const keptA = aTokens.filter((n) => n >= minTokens);
    const bTokens = sum(texts.map((t) => tok.count(t.toUpperCase())));
    const requested = Math.round((sum(keptA) * 2.5) / 0.5);
    const out = await runMixPipeline({
      config: {
        seed: 5,
        shard_tokens: 1024,
        dedup: { near: { enabled: false } },
        sources: [
          { name: 'a', path: join(tmp, 'a.jsonl'), format: 'text', text_field: 'body', min_tokens: minTokens },
          { name: 'b', path: join(tmp, 'b.parquet') },
          { name: 'c', path: join(tmp, 'c.jsonl'), format: 'messages' },
        ],
        stages: [
          {
            name: 'r',
            requested_tokens: requested,
            seq_len: 256,
            sources: [
              { source: 'a', ratio: 0.5 },
              { source: 'b', ratio: 0.5 },
            ],
          },
          {
            name: 'f',
            seq_len: 256,
            sources: [
              { source: 'a', repeat: 1.5 },
              { source: 'c', tokens: 300 },
            ],
          },
        ],
      },
      outDir: join(tmp, 'out'),
    });
    const a = out.result.summary.sources.a!;
    assert.equal(a.removed.too_short?.documents, aTokens.length - keptA.length);
    assert.equal(a.tokens_kept, sum(keptA));
    assert.equal(out.result.summary.sources.b!.tokens_kept, bTokens);
    const r = out.manifests.r!;
    // a: 2.5 passes = 2 whole + a subset of at most half its tokens
    assert.ok(r.sources.a!.tokens_out <= Math.round(2.5 * sum(keptA)));
    assert.ok(r.sources.a!.tokens_out >= 2 * sum(keptA) + Math.round(0.5 * sum(keptA)) - Math.max(...keptA));
    assert.ok(Math.abs(r.sources.a!.repetition - r.sources.a!.tokens_out / sum(keptA)) < 1e-12);
    const bTarget = Math.round(0.5 * requested);
    assert.ok(r.sources.b!.tokens_out <= bTarget && r.sources.b!.tokens_out > bTarget - 200);
    const f = out.manifests.f!;
    assert.ok(f.sources.a!.tokens_out > sum(keptA) && f.sources.a!.tokens_out <= Math.round(1.5 * sum(keptA)));
    const cMax = Math.max(...chats.map((c) => tok.count(trajectoryToTrainingText(c.messages as never).text)));
    assert.ok(f.sources.c!.tokens_out <= 300 && f.sources.c!.tokens_out > 300 - cMax, `c: ${f.sources.c!.tokens_out}`);
    for (const m of [r, f]) {
      const { sequences, jsonl } = readStage(m);
      assert.equal(sum(sequences.map((s) => s.ids.length)), m.tokens);
      assert.equal(jsonl.length, m.documents);
      assert.equal(sum(Object.values(m.sources).map((s) => s.tokens_out)), m.content_tokens);
      // documents out per source: count the JSONL lines
      for (const [name, s] of Object.entries(m.sources))
        assert.equal(jsonl.filter((d) => d.source === name).length, s.documents_out);
    }
    const c = readStage(f).jsonl.find((d) => d.source === 'c');
    assert.ok(c && Array.isArray(c.messages), 'messages sources keep their messages in the JSONL');
  });
});
