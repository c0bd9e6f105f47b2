import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  experimentWarnings,
  stageWarnings,
  warningsOfStages,
  type ExperimentResult,
  type MixStageResult,
  type StageOutcome,
} from '../../contracts';
import { formatExperimentResult } from '../../cli/summary';
import { experimentData } from '../../report/experiment-data';
import { renderMarkdown } from '../../report/render';

/**
 * Empty-output warnings (contracts/run-warnings.ts): a stage that completed but produced nothing
 * somewhere warns, from its own counts; a healthy stage does not; the CLI summary and the report
 * show them.
 */
const codes = (stage: string, result: unknown) => stageWarnings(stage, result).map((w) => w.code);
const ref = { uri: 'file:///x', sha256: 'a'.repeat(64), bytes: 0, records: 0, schemaVersion: 1 };
const outcome = (result: unknown): StageOutcome => ({
  status: 'ran',
  cacheKey: 'k',
  producer: { workflowId: 'w', runId: 'r' },
  result,
});

const mine = (over: Record<string, unknown>) => ({
  summary: {
    repos: 1,
    prs_seen: 5,
    prs_kept: 5,
    prs_dropped: {},
    formats: { general: { eligible: 5, filtered: {}, samples: 5, tokens: 100, dropped: {}, retention: {} } },
    files_skipped: {},
    enhance: { calls: 0, failures: 0, failure_reasons: {} },
    task_candidates: 0,
    task_candidates_skipped: {},
    samples: 5,
    tokens: 100,
    ...over,
  },
  artifacts: { decisions: ref, summary: ref },
});

/** A mix result whose source `bad` had only invalid records and whose only stage came out empty. */
const emptyMix: MixStageResult = {
  summary: {
    tokenizer: 'qwen2.5',
    sources: {
      bad: {
        documents_in: 3,
        tokens_in: 0,
        removed: { invalid: { documents: 3, tokens: 0 } },
        documents_kept: 0,
        tokens_kept: 0,
      },
    },
    stages: {
      mt1: { sequences: 0, tokens: 0, content_tokens: 0, loss_tokens: 0, documents: 0, shards: 0, sources: {} },
    },
  },
  artifacts: { manifests: { mt1: ref }, report: ref },
};

describe('empty-output warnings from stage counts', () => {
  it('mine: 0 PRs seen; every PR dropped; every LLM enhancement call failed; an enabled format empty', () => {
    assert.deepEqual(codes('mine', mine({})), []);
    const none = stageWarnings('mine', mine({ prs_seen: 0, prs_kept: 0, samples: 0, formats: {} }));
    assert.deepEqual(
      none.map((w) => w.code),
      ['no_prs']
    );
    assert.match(none[0]!.message, /^mine: 0 PRs seen in 1 repositories: check each source's repo, ref\/path/);
    const dropped = stageWarnings(
      'mine',
      mine({ prs_kept: 0, prs_dropped: { bot_author: 2, not_merged: 3 }, samples: 0, formats: {} })
    );
    assert.equal(
      dropped[0]!.message,
      'mine: 0 samples from 5 PRs seen: every PR was dropped (not_merged 3, bot_author 2)'
    );
    const enhance = stageWarnings(
      'mine',
      mine({ enhance: { calls: 8, failures: 8, failure_reasons: { timeout: 8 } } })
    );
    assert.deepEqual(
      enhance.map((w) => w.code),
      ['enhance_all_failed']
    );
    assert.match(enhance[0]!.message, /every LLM enhancement call failed \(8 of 8: timeout 8\)/);
    assert.deepEqual(codes('mine', mine({ enhance: { calls: 8, failures: 7, failure_reasons: {} } })), []);
    const formats = {
      general: { eligible: 5, filtered: {}, samples: 5, tokens: 100, dropped: {}, retention: {} },
      python: { eligible: 0, filtered: { non_python: 5 }, samples: 0, tokens: 0, dropped: {}, retention: {} },
    };
    assert.match(
      stageWarnings('mine', mine({ formats }))[0]!.message,
      /format python: 0 samples \(eligible 0; filtered: non_python 5; dropped: no reason recorded\)/
    );
  });

  it('build: 0 task records; 0 of N validated, with the failures by reason', () => {
    assert.deepEqual(codes('build', { summary: { candidates: 0, kept: 0, failed: {} } }), ['no_tasks']);
    const w = stageWarnings('build', { summary: { candidates: 4, kept: 0, failed: { install_failed: 4 } } });
    assert.equal(
      w[0]!.message,
      'build: 0 of 4 tasks validated (failures: install_failed 4); see the outcomes artifact'
    );
    assert.deepEqual(codes('build', { summary: { candidates: 4, kept: 1, failed: { install_failed: 3 } } }), []);
  });

  it('rollout: 0 tasks; 0 trajectories kept', () => {
    assert.deepEqual(codes('rollout', { summary: { tasks: 0, rollouts: 0, passed: 0, failed: 0 } }), ['no_tasks']);
    const w = stageWarnings('rollout', {
      summary: { tasks: 2, rollouts: 8, passed: 0, failed: 0, dropped: { too_long: 8 }, exits: { submitted: 8 } },
    });
    assert.equal(
      w[0]!.message,
      'rollout: 0 trajectories kept from 8 rollouts of 2 tasks (dropped: too_long 8; exits: submitted 8)'
    );
    assert.deepEqual(codes('rollout', { summary: { tasks: 2, rollouts: 8, passed: 0, failed: 8 } }), []);
  });

  it('mix: a source of only invalid records, an empty source, a source cleaned away, an empty stage', () => {
    const w = stageWarnings('mix', emptyMix);
    assert.deepEqual(
      w.map((x) => x.code),
      ['source_invalid', 'stage_empty']
    );
    assert.match(w[0]!.message, /^mix: every record of source "bad" is invalid \(3 of 3\)/);
    assert.equal(w[1]!.message, 'mix: stage mt1: 0 sequences (no document of its sources survived cleaning)');
    const sources = {
      empty: { documents_in: 0, tokens_in: 0, removed: {}, documents_kept: 0, tokens_kept: 0 },
      dups: {
        documents_in: 4,
        tokens_in: 40,
        removed: { duplicate_exact: { documents: 3, tokens: 30 }, invalid: { documents: 1, tokens: 0 } },
        documents_kept: 0,
        tokens_kept: 0,
      },
      fine: { documents_in: 4, tokens_in: 40, removed: {}, documents_kept: 4, tokens_kept: 40 },
    };
    const more = stageWarnings('mix', { summary: { sources, stages: {} } });
    assert.deepEqual(
      more.map((x) => x.message),
      [
        'mix: source "empty" has no records: its input is empty',
        'mix: source "dups": all 4 records removed while cleaning (duplicate_exact 3, invalid 1)',
      ]
    );
  });

  it('train: a job that recorded 0 steps; evaluate: 0 tasks, a run of only errors, a run without patches', () => {
    assert.deepEqual(codes('train', { stages: [{ name: 'mt1', jobId: '7', metrics_summary: { steps: 0 } }] }), [
      'no_steps',
    ]);
    assert.deepEqual(codes('train', { stages: [{ name: 'mt1', jobId: '7', metrics_summary: null }] }), []);
    assert.deepEqual(codes('evaluate', { summary: { tasks: 0 }, runs: [] }), ['no_tasks']);
    const runs = [
      { run: 1, total: 3, submitted: 3, error: 3 },
      { run: 2, total: 3, submitted: 0, error: 0 },
      { run: 3, total: 3, submitted: 3, error: 1 },
    ];
    assert.deepEqual(codes('evaluate', { summary: { tasks: 3 }, runs }), ['run_all_errors', 'run_no_patches']);
  });

  it('an unknown stage or a result of another shape gives no warning (never a guess)', () => {
    assert.deepEqual(stageWarnings('nope', { summary: { prs_seen: 0 } }), []);
    assert.deepEqual(stageWarnings('mine', { x: 1 }), []);
    assert.deepEqual(stageWarnings('mix', null), []);
  });

  it("a result's own warnings win; a result recorded before them gets them recomputed from its counts", () => {
    const stages = { mix: outcome(emptyMix) };
    const recomputed = experimentWarnings({ stages });
    assert.deepEqual(recomputed, warningsOfStages(stages));
    assert.equal(recomputed.length, 2);
    assert.deepEqual(experimentWarnings({ stages, warnings: [] }), []);
  });
});

describe('where the warnings are shown', () => {
  const result: ExperimentResult = { experimentId: 'exp-e', stages: { mix: outcome(emptyMix) } };

  it('the summary of `bottega run --wait` lists them after the stages; none, no section', () => {
    const text = formatExperimentResult(result);
    assert.match(
      text,
      /\nwarnings: 2 \(the run completed but produced nothing here; `bottega run --strict` exits 4\):\n {2}warning: mix: every record of source "bad" is invalid \(3 of 3\)/
    );
    assert.match(text, /\n {2}warning: mix: stage mt1: 0 sequences/);
    const healthy: ExperimentResult = { experimentId: 'exp-ok', stages: { mine: outcome(mine({})) } };
    assert.doesNotMatch(formatExperimentResult(healthy), /warning/);
  });

  it('the report lists them under the stages table', async () => {
    const warnings: string[] = [];
    const d = await experimentData(result, async () => Buffer.from('{}'), warnings);
    assert.equal(d.empty_outputs?.length, 2);
    const md = renderMarkdown({ kind: 'experiment', id: 'exp-e', experiment: d, warnings });
    assert.match(md, /Empty outputs \(bottega run --strict exits 4\)/);
    assert.match(md, /every record of source "bad" is invalid \(3 of 3\)/);
  });
});
