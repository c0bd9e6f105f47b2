import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExperimentSpec, SPEC_BOUNDS, describeIssues } from '../../contracts';
import { experimentJsonSchema } from '../../cli/schema';

/**
 * Upper bounds on spec numbers (contracts/limits.ts): a value that can only be a mistake is
 * rejected with a message naming the field's path and the limit; the limit itself is accepted.
 */

/** A spec with every stage, so any field can be set. */
function base(): Record<string, unknown> {
  return {
    id: 'exp-bounds',
    mine: { sources: [{ type: 'git', repo: 'a/b', path: 'repo' }] },
    build: { tasks: { files: ['tasks.jsonl'] } },
    rollout: { policy: 'replay-gold' },
    mix: { sources: [{ name: 'a', path: 'a.jsonl' }], stages: [{ name: 'mt1', sources: [{ source: 'a' }] }] },
    train: { model_config: 'tiny', stages: [{ name: 'mt1', data: 'mt1' }] },
    evaluate: { policy: 'replay-gold' },
  };
}

/** `base()` with `value` at the dotted `path` (numeric segments index arrays). */
function withValue(path: string, value: unknown): Record<string, unknown> {
  const spec = base();
  const keys = path.split('.');
  let at: Record<string, unknown> = spec;
  for (const k of keys.slice(0, -1)) {
    at[k] ??= {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys.at(-1)!] = value;
  return spec;
}

/** The problems of a spec, as the CLI prints them. */
function problems(spec: unknown): string[] {
  const r = ExperimentSpec.safeParse(spec);
  return r.success ? [] : describeIssues(r.error).map((p) => `${p.path}: ${p.message}`);
}

/** Field, a value over its bound, the printed path and the limit as the message writes it. */
const CASES: [string, number, string, string][] = [
  ['mix.stages.0.seq_len', 2_000_000, 'mix.stages[0].seq_len', '1,048,576 tokens'],
  ['mix.stages.0.sources.0.repeat', 1001, 'mix.stages[0].sources[0].repeat', '1,000 repetitions'],
  ['mix.stages.0.sources.0.max_repetition', 5000, 'mix.stages[0].sources[0].max_repetition', '1,000 repetitions'],
  ['mix.shard_tokens', 2 ** 31, 'mix.shard_tokens', '1,073,741,824 tokens (a 4 GiB shard'],
  ['mix.stages.0.requested_tokens', 1e15, 'mix.stages[0].requested_tokens', '100,000,000,000,000 tokens'],
  ['mix.sources.0.max_tokens', 2 ** 25, 'mix.sources[0].max_tokens', '16,777,216 tokens'],
  ['mix.dedup.near.num_perm', 16_384, 'mix.dedup.near.num_perm', '8,192 permutations'],
  ['mine.max_tokens', 1e9, 'mine.max_tokens', '16,777,216 tokens'],
  ['mine.repo_concurrency', 5000, 'mine.repo_concurrency', '1,024 at once'],
  ['mine.enhance.concurrency', 5000, 'mine.enhance.concurrency', '1,024 at once'],
  ['build.concurrency', 2048, 'build.concurrency', '1,024 at once'],
  ['build.test_timeout_s', 10 * 86_400, 'build.test_timeout_s', '604,800 s (a week)'],
  ['build.limits.memory_mb', 2 ** 23, 'build.limits.memory_mb', '4,194,304 MiB'],
  ['rollout.concurrency', 4096, 'rollout.concurrency', '1,024 at once'],
  ['rollout.limits.max_steps', 100_000, 'rollout.limits.max_steps', '10,000 steps'],
  ['rollout.batches_per_run', 5000, 'rollout.batches_per_run', '1,000 batches'],
  ['train.stages.0.hparams.epochs', 5000, 'train.stages[0].hparams.epochs', '1,000 epochs'],
  ['train.stages.0.hparams.global_batch', 2 ** 21, 'train.stages[0].hparams.global_batch', '1,048,576 sequences'],
  ['train.resources.gpus_per_node', 128, 'train.resources.gpus_per_node', '64 GPUs'],
  ['evaluate.parallel_runs', 2000, 'evaluate.parallel_runs', '1,024 at once'],
  ['evaluate.sampling.max_tokens', 2 ** 25, 'evaluate.sampling.max_tokens', '16,777,216 tokens'],
];

describe('spec upper bounds', () => {
  it('the base spec is valid', () => {
    assert.deepEqual(problems(base()), []);
  });

  for (const [field, value, path, limit] of CASES) {
    it(`${path}: names the path and the limit`, () => {
      // Other checks may add their own problems (repeat over max_repetition...); the bound's is one line.
      const got = problems(withValue(field, value));
      const line = got.find((p) => p.startsWith(`${path}: `) && p.includes('is above the limit'));
      assert.ok(line, got.join('\n'));
      assert.ok(line.includes(`is above the limit of ${limit}`), line);
    });
  }

  it('accepts each bound itself (generous for paper scale)', () => {
    const at = (field: string, value: number) => assert.deepEqual(problems(withValue(field, value)), [], field);
    at('mix.stages.0.seq_len', SPEC_BOUNDS.seq_len.max);
    at('mix.stages.0.sources.0.max_repetition', SPEC_BOUNDS.repeat.max);
    at('mix.shard_tokens', SPEC_BOUNDS.shard_tokens.max);
    at('rollout.concurrency', SPEC_BOUNDS.concurrency.max);
    at('train.stages.0.hparams.epochs', SPEC_BOUNDS.epochs.max);
  });

  it('every bound is in the JSON Schema as a maximum (the schema tells editors and the Web UI)', () => {
    const maxima = new Set<number>();
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'maximum' && typeof x === 'number') maxima.add(x);
          else walk(x);
        }
    };
    walk(experimentJsonSchema());
    for (const [name, b] of Object.entries(SPEC_BOUNDS)) assert.ok(maxima.has(b.max), `${name}: ${b.max}`);
  });

  it('`bottega run` exits 2 naming the field and the limit, before connecting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bottega-bounds-'));
    const file = join(dir, 'big.json');
    writeFileSync(
      file,
      JSON.stringify({
        id: 'exp-big',
        mix: {
          sources: [{ name: 'a', path: file }],
          stages: [{ name: 'mt1', seq_len: 4_194_304, sources: [{ source: 'a', repeat: 3000, max_repetition: 3000 }] }],
        },
      })
    );
    const r = spawnSync(process.execPath, ['bin/bottega.mjs', 'run', file], {
      encoding: 'utf8',
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^mix\.stages\[0\]\.seq_len: 4,194,304 is above the limit of 1,048,576 tokens/m);
    assert.match(r.stderr, /^mix\.stages\[0\]\.sources\[0\]\.repeat: 3,000 is above the limit of 1,000 repetitions/m);
  });
});
