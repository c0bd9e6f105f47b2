import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatBuildSummary, formatMineSummary } from '../../cli/summary';
import { MineSummary } from '../../contracts';

const ref = { uri: 'file:///x', sha256: 'a'.repeat(64), bytes: 1, records: 2, schemaVersion: 1 };

describe('CLI output', () => {
  it('prints the build funnel with failures by reason', () => {
    const text = formatBuildSummary({
      summary: {
        candidates: 7,
        built: 6,
        validated: 3,
        kept: 3,
        failed: { install_failed: 1, tests_timed_out: 1 },
        flaky_tests: 1,
        lists: { official: 1, derived: 2, mismatched: 1 },
        images_built: { env: 2, instance: 6 },
        images_pruned: 0,
      },
      artifacts: { tasks: ref, outcomes: ref, summary: ref },
    });
    assert.match(text, /candidates 7 → built 6 → validated 3 → kept 3/);
    assert.match(text, /install_failed\s+1/);
    assert.match(text, /flaky tests excluded: 1; images built now: 2 env, 6 instance/);
    assert.match(text, /test lists kept: 1 official \(verbatim\), 2 derived; records whose own lists did not hold: 1/);
  });

  it('prints how the mine stage found its PRs and what it found that is not a PR', () => {
    const summary = MineSummary.parse({
      repos: 1,
      prs_seen: 12,
      discovery: {
        prs_found: { merge: 9, squash: 3 },
        duplicates_merged: 4,
        not_prs: { branch_merge: 2 },
        pull_refs_not_merged: 5,
      },
      prs_kept: 12,
      prs_dropped: {},
      formats: {},
      files_skipped: {},
      enhance: { calls: 0, failures: 0, failure_reasons: {} },
      task_candidates: 0,
      task_candidates_skipped: {},
      samples: 12,
      tokens: 100,
    });
    const text = formatMineSummary({ summary, artifacts: { decisions: ref, summary: ref } });
    assert.match(text, /PRs found, by how they were merged:\n\s+merge\s+9\n\s+squash\s+3/);
    assert.match(text, /duplicate sightings merged\s+4/);
    assert.match(text, /not PRs \(not sampled\), by reason:\n\s+branch_merge\s+2/);
    assert.match(text, /pull refs not merged into the ref\s+5/);
    const old = formatMineSummary({
      summary: { ...summary, discovery: undefined } as never,
      artifacts: { decisions: ref, summary: ref },
    });
    assert.match(old, /PRs found, by how they were merged:\n\s+\(none\)/, 'a result from before discovery counts');
  });
});
