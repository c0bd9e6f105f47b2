import { PrRecord } from '../../contracts';

/** A minimal valid merged PR, overridable per test. */
export function makePr(over: Partial<PrRecord> = {}): PrRecord {
  return PrRecord.parse({
    repo: 'acme/widgets',
    number: 7,
    title: 'Fix the widget',
    body: 'Fixes #3',
    author: 'alice',
    state: 'closed',
    merged: true,
    created_at: '2024-01-02T00:00:00Z',
    merged_at: '2024-01-03T00:00:00Z',
    base_sha: 'b'.repeat(40),
    head_sha: 'h'.repeat(40),
    commits: [],
    changed_files: [],
    relevant_files: [],
    ...over,
  });
}
