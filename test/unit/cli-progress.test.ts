import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bar, ProgressPrinter, renderProgress, stageCounts } from '../../cli/progress';
import type { ExperimentProgress } from '../../workflows/experiment';

const progress = (stages: ExperimentProgress['stages'], current: ExperimentProgress['current'] = null) =>
  ({ experimentId: 'e', current, stages, children: {} }) satisfies ExperimentProgress;

describe('progress bars', () => {
  it('fills bars at 0, 50 and 100%', () => {
    assert.equal(bar(0, 10), '░░░░░░░░░░');
    assert.equal(bar(0.5, 10), '█████░░░░░');
    assert.equal(bar(1, 10), '██████████');
    assert.equal(bar(1.7, 4), '████', 'clamped');
    assert.equal(bar(null, 4), '░░░░', 'unknown total');
  });

  it('renders one line per enabled stage with counts from its progress query', () => {
    const lines = renderProgress(
      progress({ mine: 'running', build: 'pending', rollout: 'skipped', mix: 'pending' }, 'mine'),
      { mine: { repos: 24, reposDone: 12, prsSeen: 80, samples: 340, tokens: 9 } }
    );
    assert.deepEqual(lines, [
      'mine     [██████████░░░░░░░░░░]  12/24 repositories · 80 PRs · 340 samples  running',
      'build    [░░░░░░░░░░░░░░░░░░░░]  pending',
      'mix      [░░░░░░░░░░░░░░░░░░░░]  pending',
    ]);
  });

  it('shows finished stages full, keeps their last counts, and a failed stage where it stopped', () => {
    const lines = renderProgress(
      progress({ mine: 'cached', build: 'completed', rollout: 'failed' }),
      {
        build: { candidates: 7, done: 7, validated: 3, failed: {} },
        rollout: { rollouts: 8, done: 2, passed: 1, exits: {} },
      },
      8
    );
    assert.deepEqual(lines, [
      'mine     [████████]  cached',
      'build    [████████]  7/7 tasks · 3 validated  completed',
      'rollout  [██░░░░░░]  2/8 rollouts · 1 passed  failed',
    ]);
  });

  it('marks unknown totals with ? and an empty bar', () => {
    const [mix] = renderProgress(
      progress({ mix: 'running' }, 'mix'),
      { mix: { step: 'plan', shards: 0, written: 0, reused: 0 } },
      4
    );
    assert.equal(mix, 'mix      [░░░░]  0/? shards · plan  running');
    const [train] = renderProgress(
      progress({ train: 'running' }, 'train'),
      { train: { stages: [], current: null } },
      4
    );
    assert.equal(train, 'train    [░░░░]  0/? jobs  running');
    const [evaluate] = renderProgress(progress({ evaluate: 'planning' }, 'evaluate'), {}, 4);
    assert.equal(evaluate, 'evaluate [░░░░]  …  planning');
  });

  it('reads each stage query shape', () => {
    assert.deepEqual(
      stageCounts('train', {
        stages: [
          { name: 'sft', state: 'COMPLETED' },
          { name: 'rl', state: 'RUNNING' },
        ],
        current: 1,
      }),
      {
        done: 1,
        total: 2,
        unit: 'jobs',
        extra: ['rl RUNNING'],
      }
    );
    assert.deepEqual(stageCounts('evaluate', { phase: 'running', runsDone: 1, runs: 3, resolved: [0.5] }), {
      done: 1,
      total: 3,
      unit: 'runs',
      extra: ['running', '1 scored'],
    });
    assert.deepEqual(stageCounts('mix', { step: 'write', shards: 4, written: 1, reused: 2 }), {
      done: 3,
      total: 4,
      unit: 'shards',
      extra: ['write', '2 reused'],
    });
    // A running job: elapsed counted on from its start, and the trainer's latest metrics.
    const running = {
      stages: [
        {
          name: 'mt1',
          state: 'RUNNING',
          jobId: '34',
          elapsed: 60,
          logTail: [],
          updatedAt: 1_000_000,
          runningSince: 940_000,
          metrics: { step: 120, total_steps: 1000, loss: 2.5, tokens_per_s: 12_345, lr: null, time: null },
        },
      ],
      current: 0,
    };
    assert.deepEqual(stageCounts('train', running, 1_010_000)?.extra, [
      'mt1 RUNNING 1m10s · step 120/1000 · loss 2.5 · 12.3k tok/s',
    ]);
    assert.equal(
      renderProgress(progress({ train: 'running' }, 'train'), { train: running }, 4, 1_010_000)[0],
      'train    [░░░░]  0/1 jobs · mt1 RUNNING 1m10s · step 120/1000 · loss 2.5 · 12.3k tok/s  running'
    );
    assert.equal(stageCounts('mine', {}), null);
    assert.equal(stageCounts('build', undefined), null);
  });
});

describe('ProgressPrinter', () => {
  it('without a TTY prints only the lines that changed', () => {
    const out: string[] = [];
    const p = new ProgressPrinter({ tty: false, write: (s) => out.push(s) });
    p.update(['mine a', 'build b']);
    p.update(['mine a', 'build b']);
    p.update(['mine a', 'build c']);
    assert.deepEqual(out, ['  mine a', '  build b', '  build c']);
  });

  it('on a TTY redraws the frame in place, cut to the terminal width', () => {
    const out: string[] = [];
    const p = new ProgressPrinter({ tty: true, write: (s) => out.push(s), columns: 6 });
    p.update(['mine 1234567', 'build']);
    p.update(['mine 1234567', 'build']);
    p.update(['mine2', 'build']);
    assert.equal(out.length, 2);
    assert.equal(out[0], '\x1b[2Kmine \n\x1b[2Kbuild');
    assert.equal(out[1], '\x1b[2A\x1b[0J\x1b[2Kmine2\n\x1b[2Kbuild');
  });
});
