import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatBuildSummary } from '../../cli/summary';

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
});
