import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { TrainConfig, parseInput } from '../../contracts';

const invalid = (input: unknown, pattern: RegExp) =>
  assert.throws(
    () => parseInput(TrainConfig, input, 'train config'),
    (e: unknown) => e instanceof ApplicationFailure && e.type === 'InvalidSpec' && pattern.test(e.message)
  );

describe('train config', () => {
  it("fills the paper's defaults: MT then SFT", () => {
    const c = TrainConfig.parse({ model_config: 'tiny' });
    assert.deepEqual(
      c.stages.map((s) => [s.name, s.kind, s.init]),
      [
        ['mt1', 'mt', undefined],
        ['mt2', 'mt', 'previous'],
        ['sft', 'sft', 'previous'],
      ]
    );
    const [mt, , sft] = c.stages;
    assert.deepEqual(
      [mt!.hparams.global_batch, mt!.hparams.lr, mt!.hparams.warmup, mt!.hparams.epochs, mt!.hparams.masked_loss],
      [1024, 8e-5, 0.05, 1, false]
    );
    assert.deepEqual(
      [sft!.hparams.global_batch, sft!.hparams.lr, sft!.hparams.warmup, sft!.hparams.epochs, sft!.hparams.masked_loss],
      [128, 1e-5, 0.1, 5, true]
    );
    assert.equal(c.cluster.backend, 'cli');
    assert.equal(c.signal_lead_s, 300);
    assert.equal(c.framework.type, 'reference');
  });

  it('overrides single hyperparameters and keeps extra ones', () => {
    const c = TrainConfig.parse({
      framework: { type: 'command', command: 'megatron --config {hparams_file}' },
      stages: [{ name: 'sft', data: 'sft', hparams: { lr: 2e-5, seq_len: 32768 } }],
    });
    assert.equal(c.stages[0]!.hparams.lr, 2e-5);
    assert.equal(c.stages[0]!.hparams.epochs, 5);
    assert.equal(c.stages[0]!.hparams.seq_len, 32768);
    // parsing the output again is stable (workflow → activity)
    assert.deepEqual(TrainConfig.parse(c), c);
  });

  it('rejects bad configs with the path of each problem', () => {
    invalid({ cluster: { backend: 'ssh' } }, /cluster\.ssh.*needs cluster\.ssh/);
    invalid({ cluster: { backend: 'rest' } }, /cluster\.rest/);
    invalid({ cluster: { backend: 'rest', rest: { url: 'http://x', token_env: 'not a name' } } }, /token_env/);
    invalid({ resources: { mem: 'lots' } }, /resources\.mem/);
    invalid({ resources: { time_limit: 'forever' } }, /time_limit/);
    invalid({ stages: [{ name: 'mt1', data: 'a', init: 'previous' }] }, /first stage has no previous/);
    invalid(
      {
        stages: [
          { name: 'mt1', data: 'a' },
          { name: 'mt1', data: 'b' },
        ],
      },
      /duplicate name/
    );
    invalid({ stages: [{ name: 'mt1', data: 'a', hparams: { schedule: 'linear' } }] }, /schedule/);
    invalid({ framework: { type: 'command' } }, /framework\.command/);
    invalid({ stages: [] }, /stages/);
    // The reference trainer: a model to start from, and only settings it knows.
    invalid({ stages: [{ name: 'mt1', data: 'a' }] }, /model_config: the reference trainer needs a model/);
    invalid(
      { model_config: 'tiny', stages: [{ name: 'mt1', data: 'a', hparams: { seq_len: 4096 } }] },
      /stages\[0\]\.hparams\.seq_len: the reference trainer has no setting "seq_len"/
    );
  });
});
