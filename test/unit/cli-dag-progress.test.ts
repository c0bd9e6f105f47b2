import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { finalFromProgress, formatFinalStages, renderProgress } from '../../cli/progress';
import type { ExperimentProgress } from '../../workflows/experiment';

/**
 * `bottega run --wait` on an experiment's DAG: stages running side by side are all shown (and
 * named above the bars), a waiting stage names what it waits for, a stage that never started or
 * was cancelled says so; after a failure each stage's final status is printed.
 */
const needs = {
  mine: [],
  build: [],
  rollout: ['build'],
  mix: ['mine', 'rollout'],
} satisfies ExperimentProgress['needs'];

describe('run --wait progress on a DAG', () => {
  it('shows every running stage, not only the current one, and what a pending stage waits for', () => {
    const lines = renderProgress(
      {
        experimentId: 'e',
        current: 'mine',
        running: ['mine', 'build'],
        needs,
        stages: { mine: 'running', build: 'running', rollout: 'pending', mix: 'pending', train: 'skipped' },
        children: { mine: 'e/mine', build: 'e/build' },
      },
      { mine: { repos: 4, reposDone: 1, prsSeen: 9, samples: 30 }, build: { candidates: 2, done: 1, validated: 1 } },
      4
    );
    assert.deepEqual(lines, [
      '2 stages running side by side: mine, build',
      'mine     [█░░░]  1/4 repositories · 9 PRs · 30 samples  running',
      'build    [██░░]  1/2 tasks · 1 validated  running',
      'rollout  [░░░░]  waiting for build',
      'mix      [░░░░]  waiting for mine, rollout',
    ]);
  });

  it('says which stages never started (and why) and which were cancelled', () => {
    const lines = renderProgress(
      {
        experimentId: 'e',
        current: null,
        running: [],
        needs,
        stages: { mine: 'failed', build: 'cancelled', rollout: 'not_started', mix: 'not_started' },
        children: {},
      },
      {},
      4
    );
    assert.deepEqual(lines, [
      'mine     [░░░░]  failed',
      'build    [░░░░]  cancelled',
      'rollout  [░░░░]  not started (build cancelled)',
      'mix      [░░░░]  not started (mine failed, rollout not started)',
    ]);
  });

  it('prints each stage final status from the memo dag, naming what a stage that never started reads', () => {
    assert.deepEqual(
      formatFinalStages({ mine: 'failed', build: 'ran', rollout: 'cached', mix: 'not_started' }, needs),
      [
        'stages:',
        '  mine     failed',
        '  build    ran',
        '  rollout  cached',
        '  mix      not started (reads from mine)',
      ]
    );
    assert.deepEqual(formatFinalStages({}), []);
  });

  it('lists named evaluations (graph nodes evaluate.<name>) in pipeline order, none dropped', () => {
    assert.deepEqual(
      formatFinalStages(
        { 'evaluate.sft': 'not_started', 'evaluate.base': 'ran', train: 'failed', mix: 'cached' },
        { 'evaluate.sft': ['train'], 'evaluate.base': [], train: ['mix'] }
      ),
      [
        'stages:',
        '  mix           cached',
        '  train         failed',
        '  evaluate.base ran',
        '  evaluate.sft  not started (reads from train)',
      ]
    );
  });

  it('falls back to the last progress answer for runs without the memo', () => {
    assert.deepEqual(
      finalFromProgress({
        experimentId: 'e',
        current: null,
        stages: { mine: 'completed', build: 'cached', rollout: 'failed', mix: 'pending', train: 'skipped' },
        children: {},
      }),
      { mine: 'ran', build: 'cached', rollout: 'failed', mix: 'not_started' }
    );
  });
});
