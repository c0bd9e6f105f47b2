import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { INVALID_SPEC, MixConfig, describeIssues } from '../../contracts';
import { runMixPipeline } from '../../activities/mix/pipeline';
import { makeMixFixtures, type MixFixtures } from '../helpers/mix-fixtures';

/** Bad mixtures fail with a message naming the field and how to fix it. */
const tmp = mkdtempSync(join(tmpdir(), 'bottega-mix-config-'));
const sources = [
  { name: 'a', path: 'a.jsonl' },
  { name: 'b', path: 'b.jsonl' },
];
const problems = (cfg: unknown) => {
  const r = MixConfig.safeParse(cfg);
  assert.equal(r.success, false, 'expected the config to be rejected');
  return describeIssues(r.error!).map((p) => `${p.path}: ${p.message}`);
};

describe('mix config: static checks', () => {
  it('accepts the paper recipe with defaults', () => {
    const c = MixConfig.parse({
      sources: [
        { name: 'general_prs', from: 'mine.general' },
        { name: 'traj_pass', from: 'rollout.pass' },
      ],
      stages: [{ name: 'sft', pack: false, loss_mask: 'sft', sources: [{ source: 'traj_pass', repeat: 3 }] }],
    });
    assert.equal(c.tokenizer, 'qwen2.5');
    assert.equal(c.dedup.near.bands * c.dedup.near.rows, c.dedup.near.num_perm);
    assert.equal(c.stages[0]!.requested_tokens, 'all');
    assert.equal(c.dedup.near.threshold, undefined, 'default: the LSH threshold (1/bands)^(1/rows)');
    assert.deepEqual(c.outputs, { jsonl: true, parquet: false });
  });

  it('near.threshold is a Jaccard similarity in [0, 1]; outputs are booleans', () => {
    const stages = [{ name: 's', sources: [{ source: 'a' }] }];
    const p = problems({ sources, stages, dedup: { near: { threshold: 1.5 } }, outputs: { parquet: 'yes' } });
    assert.ok(
      p.some((x) => x.startsWith('dedup.near.threshold: ')),
      p.join('\n')
    );
    assert.ok(
      p.some((x) => x.startsWith('outputs.parquet: ')),
      p.join('\n')
    );
    const c = MixConfig.parse({ sources, stages, dedup: { near: { threshold: 0 } }, outputs: { parquet: true } });
    assert.equal(c.dedup.near.threshold, 0);
    assert.deepEqual(c.outputs, { jsonl: true, parquet: true });
  });

  it('ratios that do not sum to 1', () => {
    const p = problems({
      sources,
      stages: [
        {
          name: 's',
          requested_tokens: 1000,
          sources: [
            { source: 'a', ratio: 0.5 },
            { source: 'b', ratio: 0.3 },
          ],
        },
      ],
    });
    assert.ok(
      p.some((x) => /^stages\[0\]\.sources: ratios sum to 0.8, not 1/.test(x)),
      p.join('\n')
    );
  });

  it('a ratio without an integer requested_tokens', () => {
    const p = problems({ sources, stages: [{ name: 's', sources: [{ source: 'a', ratio: 1 }] }] });
    assert.ok(
      p.some((x) => x.startsWith('stages[0].sources[0].ratio: a ratio needs an integer requested_tokens')),
      p.join('\n')
    );
  });

  it('unknown source, two weights, repeat over the cap, ratio over max_fraction, from and path together', () => {
    const p = problems({
      sources: [...sources, { name: 'c', path: 'c.jsonl', from: 'mine.python' }],
      stages: [
        {
          name: 's',
          sources: [
            { source: 'nope', repeat: 1 },
            { source: 'a', repeat: 2, tokens: 10 },
            { source: 'b', repeat: 6 },
          ],
        },
        { name: 't', requested_tokens: 10, sources: [{ source: 'a', ratio: 1, max_fraction: 0.5 }] },
      ],
    });
    const text = p.join('\n');
    assert.match(text, /stages\[0\]\.sources\[0\]\.source: unknown source "nope"; mix\.sources defines "a", "b", "c"/);
    assert.match(text, /stages\[0\]\.sources\[1\]\.repeat: give only one of ratio, tokens and repeat/);
    assert.match(text, /stages\[0\]\.sources\[2\]\.repeat: repeat 6 exceeds max_repetition 4/);
    assert.match(text, /stages\[1\]\.sources\[0\]\.ratio: ratio 1 exceeds max_fraction 0.5/);
    assert.match(text, /sources\[2\]\.from: give exactly one of "from"/);
  });

  it('near dedup bands × rows must equal num_perm', () => {
    const p = problems({
      sources,
      stages: [{ name: 's', sources: [{ source: 'a' }] }],
      dedup: { near: { bands: 10 } },
    });
    assert.ok(
      p.some((x) => x.startsWith('dedup.near.bands: bands × rows must equal num_perm')),
      p.join('\n')
    );
  });
});

describe('mix config: checks against the data', () => {
  let fx: MixFixtures;
  before(() => {
    fx = makeMixFixtures(join(tmp, 'fx'), { general: 4, python: 3, tasks: 2 });
  });
  const base = (stages: unknown[]) => ({
    sources: [
      { name: 'python_prs', from: 'mine.python' },
      { name: 'traj_fail', from: 'rollout.fail' },
    ],
    dedup: { near: { enabled: false } },
    stages,
  });
  const rejects = async (cfg: unknown, re: RegExp) => {
    await assert.rejects(
      runMixPipeline({ config: cfg as never, inputs: fx.inputs, outDir: join(tmp, `out-${Math.random()}`) }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.equal(err.type, INVALID_SPEC);
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, re);
        return true;
      }
    );
  };

  it('a source too small for its ratio without exceeding max_repetition, with the numbers', async () => {
    await rejects(
      base([
        {
          name: 'mt',
          requested_tokens: 100_000,
          sources: [
            { source: 'python_prs', ratio: 0.5 },
            { source: 'traj_fail', ratio: 0.5 },
          ],
        },
      ]),
      /mix\.stages\[0\]\.sources\[0\] \(source "python_prs" in stage "mt"\): needs 50000 tokens but has \d+ after cleaning, a repetition of [\d.]+ over max_repetition 4; lower its ratio/
    );
  });

  it('max_fraction exceeded by the data', async () => {
    await rejects(
      base([
        {
          name: 'mt',
          sources: [
            { source: 'python_prs', repeat: 3, max_fraction: 0.6 },
            { source: 'traj_fail', repeat: 1 },
          ],
        },
      ]),
      /mix\.stages\[0\]\.sources\[0\] \(source "python_prs" in stage "mt"\): takes [\d.]+% of the stage's \d+ content tokens \(\d+\), over max_fraction 0.6/
    );
  });

  it('a document longer than an unpacked stage sequence', async () => {
    await rejects(
      base([{ name: 'sft', seq_len: 64, pack: false, sources: [{ source: 'traj_fail' }] }]),
      /mix\.stages\[0\]\.sources\[0\] \(source "traj_fail" in stage "sft"\): a document of \d+ tokens does not fit an unpacked sequence of seq_len 64.*set the source's max_tokens to at most 63/
    );
  });

  it('an upstream artifact that this run does not have', async () => {
    await assert.rejects(
      runMixPipeline({
        config: { sources: [{ name: 'x', from: 'rollout.pass' }], stages: [{ name: 's', sources: [{ source: 'x' }] }] },
        inputs: {},
        outDir: join(tmp, 'none'),
      }),
      /mix\.sources\[0\]\.from: upstream artifact "rollout\.pass" is not available/
    );
  });
});
