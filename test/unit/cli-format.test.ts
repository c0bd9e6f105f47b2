import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { progressLine, stageDetail } from '../../cli/run';
import { formatBuildSummary } from '../../cli/summary';

const ref = { uri: 'file:///x', sha256: 'a'.repeat(64), bytes: 1, records: 2, schemaVersion: 1 };

describe('CLI output', () => {
  it('shows live stage status and the running stage counts', () => {
    assert.equal(
      progressLine({ experimentId: 'e', current: 'build', stages: { mine: 'cached', build: 'running' }, children: {} }),
      'mine: cached  build: running'
    );
    assert.equal(
      stageDetail({ repos: 2, reposDone: 1, prsSeen: 7, samples: 5, tokens: 9 }),
      'repositories 1/2, PRs 7, samples 5'
    );
    assert.equal(stageDetail({ candidates: 7, done: 3, validated: 2, failed: {} }), 'tasks 3/7, validated 2');
    assert.equal(stageDetail({ rollouts: 8, done: 5, passed: 2, exits: {} }), 'rollouts 5/8, passed 2');
    assert.equal(stageDetail({}), '');
  });

  it('prints the build funnel with failures by reason', () => {
    const text = formatBuildSummary({
      summary: {
        candidates: 7,
        built: 6,
        validated: 3,
        kept: 3,
        failed: { install_failed: 1, tests_timed_out: 1 },
        flaky_tests: 1,
        images_built: { env: 2, instance: 6 },
        images_pruned: 0,
      },
      artifacts: { tasks: ref, outcomes: ref, summary: ref },
    });
    assert.match(text, /candidates 7 → built 6 → validated 3 → kept 3/);
    assert.match(text, /install_failed\s+1/);
    assert.match(text, /flaky tests excluded: 1; images built now: 2 env, 6 instance/);
  });
});
