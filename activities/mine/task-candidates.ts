import type { PrRecord, TaskCandidate } from '../../contracts';
import { FileStateError, netFileChanges } from './file-states';
import { formatGitDiff } from './unified-diff';

/** Why a PR did not become a task candidate. */
export const CandidateSkipReason = {
  noLinkedIssue: 'no_linked_issue',
  noTestChanges: 'no_test_changes',
  noCodeChanges: 'no_code_changes',
  unreadableFile: 'unreadable_file',
  patchMismatch: 'patch_mismatch',
} as const;
export type CandidateSkipReason = (typeof CandidateSkipReason)[keyof typeof CandidateSkipReason];

/** SWE-bench's rule of thumb: a path with a test directory or a test_*.py / *_test.py name. */
export function isTestPath(path: string): boolean {
  if (/(^|\/)(tests?|testing|e2e)(\/|$)/i.test(path)) return true;
  const base = path.slice(path.lastIndexOf('/') + 1);
  return /^test_.*\.py$|_tests?\.py$|^conftest\.py$/i.test(base);
}

/**
 * Builds a SWE-bench-style task candidate from a merged PR that resolves an issue and changes
 * both tests and code. `base_commit` is the parent of the PR's first commit (the state the
 * relevant files were read from), so `patch` and `test_patch` apply to it.
 */
export function buildTaskCandidate(
  pr: PrRecord
): { candidate: TaskCandidate; reason: null } | { candidate: null; reason: CandidateSkipReason } {
  if (pr.linked_issues.length === 0) return { candidate: null, reason: CandidateSkipReason.noLinkedIssue };
  const tests = pr.changed_files.filter((f) => isTestPath(f.path));
  if (tests.length === 0) return { candidate: null, reason: CandidateSkipReason.noTestChanges };
  if (tests.length === pr.changed_files.length) return { candidate: null, reason: CandidateSkipReason.noCodeChanges };
  let changes;
  try {
    changes = netFileChanges(pr);
  } catch (e) {
    if (e instanceof FileStateError) {
      return {
        candidate: null,
        reason: e.reason === 'patch_mismatch' ? CandidateSkipReason.patchMismatch : CandidateSkipReason.unreadableFile,
      };
    }
    throw e;
  }
  let patch = '';
  let testPatch = '';
  for (const c of changes) {
    const d = formatGitDiff({ oldPath: c.oldPath, newPath: c.path, oldContent: c.before, newContent: c.after });
    if (isTestPath(c.path)) testPatch += d;
    else patch += d;
  }
  const first = pr.commits[0];
  const baseCommit = first?.parents[0] ?? pr.base_sha;
  const firstCommitTime = first ? Date.parse(first.authored_at) : Number.POSITIVE_INFINITY;
  // hints_text: issue comments written before the first commit (SWE-bench's definition).
  const hints = pr.linked_issues
    .flatMap((i) => i.comments)
    .filter((c) => Date.parse(c.created_at) < firstCommitTime)
    .map((c) => c.body)
    .join('\n');
  const problem = pr.linked_issues.map((i) => `${i.title}\n${i.body}\n`).join('\n');
  const [owner, name] = pr.repo.split('/');
  return {
    reason: null,
    candidate: {
      instance_id: `${owner}__${name}-${pr.number}`,
      repo: pr.repo,
      pull_number: pr.number,
      base_commit: baseCommit,
      patch,
      test_patch: testPatch,
      problem_statement: problem,
      hints_text: hints,
      created_at: pr.created_at,
      issue_numbers: pr.linked_issues.map((i) => i.number),
    },
  };
}
