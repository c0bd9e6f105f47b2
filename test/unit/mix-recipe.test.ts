import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MixManifest, MixRemoval } from '../../contracts';
import { runMixPipeline, type RunMixPipelineOutput } from '../../activities/mix/pipeline';
import { getTokenizer, type Tokenizer } from '../../activities/mine/tokenizer';
import { spansToTokenMask, trajectoryToTrainingText } from '../../activities/rollout/convert/to-text';
import { makeMixFixtures, paperRecipe, type MixFixtures } from '../helpers/mix-fixtures';
import { readStage } from '../helpers/mix-readback';

/**
 * The paper's recipe on small generated sources (mt1 = general PRs; mt2 = python PRs + passing
 * trajectories ×3 + failing ones; SFT = passing trajectories ×5, unpacked, assistant-only loss),
 * checked against a hand computation with the real tokenizer.
 */
const EOS = 151643;
const tmp = mkdtempSync(join(tmpdir(), 'bottega-mix-recipe-'));
let fx: MixFixtures;
let tok: Tokenizer;
let run1: RunMixPipelineOutput;
let run2: RunMixPipelineOutput;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('mix stage: the paper recipe', () => {
  before(async () => {
    fx = makeMixFixtures(join(tmp, 'fx'));
    tok = await getTokenizer('qwen2.5');
    run1 = await runMixPipeline({ config: paperRecipe(fx), inputs: fx.inputs, outDir: join(tmp, 'out1') });
    run2 = await runMixPipeline({
      config: paperRecipe(fx),
      inputs: fx.inputs,
      outDir: join(tmp, 'out2'),
      concurrency: 1,
    });
  });

  const trajIds = (t: MixFixtures['pass'][number]) => tok.encode(trajectoryToTrainingText(t.messages).text);
  const keptGeneral = () =>
    fx.general.filter(
      (s) =>
        ![
          fx.planted.exactDuplicate,
          fx.planted.nearDuplicate,
          fx.planted.contaminatedNgram,
          fx.planted.contaminatedIdentity,
        ].includes(s.id)
    );
  const keptPass = () => fx.pass.filter((t) => t.id !== fx.planted.overCapTask);

  it('removes the planted exact and near duplicates, the contaminated samples and the over-cap trajectory, and reports them', () => {
    const report = readFileSync(fileURLToPath(run1.result.artifacts.report.uri), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as MixRemoval);
    const by = (id: string) => report.find((r) => r.id === id);
    assert.equal(by(fx.planted.exactDuplicate)?.reason, 'duplicate_exact');
    assert.equal(by(fx.planted.exactDuplicate)?.match, fx.planted.exactOriginal);
    assert.equal(by(fx.planted.nearDuplicate)?.reason, 'duplicate_near');
    assert.equal(by(fx.planted.nearDuplicate)?.match, fx.planted.nearOriginal);
    assert.match(by(fx.planted.nearDuplicate)!.detail!, /^estimated Jaccard 0\.9\d+ ≥ threshold 0\.7071$/);
    for (const id of fx.planted.bandOnlyPair) assert.equal(by(id), undefined, `${id} shares a band but is kept`);
    assert.equal(by(fx.planted.contaminatedNgram)?.reason, 'contaminated_ngram');
    assert.equal(by(fx.planted.contaminatedNgram)?.match, fx.planted.benchItem);
    assert.match(by(fx.planted.contaminatedNgram)!.detail!, /problem_statement/);
    assert.equal(by(fx.planted.contaminatedIdentity)?.reason, 'contaminated_identity');
    assert.equal(by(fx.planted.contaminatedIdentity)?.match, 'swe-bench-verified:django__django-11099');
    assert.equal(by(fx.planted.overCapTask)?.reason, 'task_cap');
    assert.equal(report.length, 5, `nothing else removed: ${JSON.stringify(report.map((r) => r.id))}`);
    const gen = run1.result.summary.sources.general_prs!;
    assert.equal(gen.documents_in, fx.general.length);
    assert.equal(gen.tokens_in, sum(fx.general.map((s) => tok.count(s.text))));
    assert.equal(gen.documents_kept, keptGeneral().length);
    assert.equal(gen.tokens_kept, sum(keptGeneral().map((s) => tok.count(s.text))));
    // the numbers add up exactly, per source
    for (const [name, s] of Object.entries(run1.result.summary.sources)) {
      const removed = Object.values(s.removed);
      assert.equal(s.documents_in, s.documents_kept + sum(removed.map((r) => r.documents)), name);
      assert.equal(s.tokens_in, s.tokens_kept + sum(removed.map((r) => r.tokens)), name);
      for (const [reason, c] of Object.entries(s.removed)) {
        const lines = report.filter((r) => r.source === name && r.reason === reason);
        assert.equal(lines.length, c.documents);
        assert.equal(sum(lines.map((l) => l.tokens)), c.tokens);
      }
    }
  });

  it('mt1 and mt2 manifests match a hand computation; repetition factors hold to the token', () => {
    const mt1 = run1.manifests.mt1!;
    const genTokens = keptGeneral().map((s) => tok.count(s.text));
    assert.equal(mt1.content_tokens, sum(genTokens));
    assert.equal(mt1.eos_tokens, genTokens.length);
    assert.equal(mt1.sequences, Math.ceil((sum(genTokens) + genTokens.length) / 512));
    assert.equal(mt1.tokens, mt1.sequences * 512);
    assert.equal(mt1.pad_tokens, mt1.tokens - sum(genTokens) - genTokens.length);
    assert.equal(mt1.loss_tokens, sum(genTokens) + genTokens.length, 'mid-training: every real token, not the pad');
    assert.equal(mt1.sources.general_prs!.repetition, 1);
    assert.equal(mt1.sources.general_prs!.share, 1);

    const mt2 = run1.manifests.mt2!;
    const py = sum(fx.python.map((s) => tok.count(s.text)));
    const pass = sum(keptPass().map((t) => trajIds(t).length));
    const fail = sum(fx.fail.map((t) => trajIds(t).length));
    assert.equal(mt2.sources.python_prs!.tokens_out, py);
    assert.equal(mt2.sources.traj_pass!.tokens_out, 3 * pass, 'pass ×3 to the token');
    assert.equal(mt2.sources.traj_pass!.documents_out, 3 * keptPass().length);
    assert.equal(mt2.sources.traj_pass!.repetition, 3);
    assert.equal(mt2.sources.traj_fail!.tokens_out, fail);
    assert.equal(mt2.content_tokens, py + 3 * pass + fail);
    assert.equal(mt2.documents, fx.python.length + 3 * keptPass().length + fx.fail.length);
    assert.ok(Math.abs(mt2.sources.traj_pass!.share - (3 * pass) / (py + 3 * pass + fail)) < 1e-12);
    for (const m of [mt1, mt2]) {
      assert.equal(sum(Object.values(m.sources).map((s) => s.tokens_out)), m.content_tokens);
      assert.equal(m.content_tokens + m.eos_tokens + m.pad_tokens, m.tokens);
      assert.equal(
        m.sources.general_prs?.documents_in ?? fx.python.length,
        m.sources.general_prs ? fx.general.length : fx.python.length
      );
    }
  });

  it('output reads back: recounted tokens and loss tokens equal the manifest; packed documents and bounds are exact', () => {
    for (const m of Object.values(run1.manifests) as MixManifest[]) {
      const { sequences, jsonl } = readStage(m);
      assert.equal(sequences.length, m.sequences);
      assert.equal(sum(sequences.map((s) => s.ids.length)), m.tokens);
      assert.equal(sum(sequences.map((s) => sum(s.mask))), m.loss_tokens);
      assert.equal(jsonl.length, m.documents);
      for (const s of sequences) assert.equal(s.bounds[0], 0);
      if (!m.pack) continue;
      assert.ok(sequences.every((s) => s.ids.length === m.seq_len));
      // the concatenated stream is each JSONL document, tokenized, plus EOS, then pad
      const stream = sequences.flatMap((s) => s.ids);
      const expected: number[] = [];
      const starts: number[] = [];
      for (const d of jsonl) {
        starts.push(expected.length);
        const ids =
          'text' in d ? tok.encode(d.text as string) : tok.encode(trajectoryToTrainingText(d.messages as never).text);
        expected.push(...ids, EOS);
      }
      assert.deepEqual(stream.slice(0, expected.length), expected);
      assert.ok(
        stream.slice(expected.length).every((t) => t === EOS),
        'pad is EOS'
      );
      assert.equal(stream.length - expected.length, m.pad_tokens);
      const L = m.seq_len;
      sequences.forEach((s, i) => {
        const want = [
          0,
          ...starts.filter((p) => p > i * L && p < (i + 1) * L && p < expected.length).map((p) => p - i * L),
        ];
        assert.deepEqual(s.bounds, want, `bounds of sequence ${i}`);
      });
    }
  });

  it('sft: one sequence per trajectory, ×5, loss only on assistant spans', () => {
    const sft = run1.manifests.sft!;
    assert.equal(sft.pack, false);
    const kept = keptPass();
    assert.equal(sft.sequences, 5 * kept.length);
    assert.equal(sft.sources.traj_pass!.repetition, 5);
    assert.equal(sft.pad_tokens, 0);
    const { sequences, jsonl } = readStage(sft);
    let loss = 0;
    for (const t of kept) {
      const r = trajectoryToTrainingText(t.messages);
      loss += sum(spansToTokenMask(r.text, r.spans, tok).mask);
    }
    assert.equal(sft.loss_tokens, 5 * loss);
    sequences.forEach((s, i) => {
      const d = jsonl[i]!;
      const r = trajectoryToTrainingText(d.messages as never);
      const m = spansToTokenMask(r.text, r.spans, tok);
      assert.deepEqual(s.ids, [...m.ids, EOS]);
      assert.deepEqual(s.mask, [...m.mask, 0], 'EOS is masked under SFT');
      // every assistant span's tokens are 1, and nothing outside assistant spans
      const decodedLoss = s.ids.filter((_, k) => s.mask[k] === 1).length;
      assert.ok(decodedLoss > 0 && decodedLoss < s.ids.length);
    });
    const first = trajectoryToTrainingText(jsonl[0]!.messages as never);
    const tokOfSystem = tok.encode(first.text.slice(0, first.spans[1]!.start));
    assert.ok(
      sequences[0]!.mask.slice(0, tokOfSystem.length).every((x) => x === 0),
      'system and user tokens masked'
    );
  });

  it('is deterministic: two runs give byte-identical shards', () => {
    for (const stage of ['mt1', 'mt2', 'sft']) {
      const a = run1.manifests[stage]!;
      const b = run2.manifests[stage]!;
      assert.ok(a.shards.length > 1 || stage === 'sft' || a.shards.length === 1);
      assert.deepEqual(
        a.shards.map((s) => Object.values(s.files).map((f) => f.sha256)),
        b.shards.map((s) => Object.values(s.files).map((f) => f.sha256))
      );
      assert.deepEqual(a.sources, b.sources);
    }
    assert.ok(run1.manifests.mt2!.shards.length > 1, 'mt2 spans several shards');
  });
});
