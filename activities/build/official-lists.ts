/**
 * A record's own FAIL_TO_PASS / PASS_TO_PASS (SWE-bench's curated lists) are authoritative: kept
 * verbatim and checked against the validation runs, test by test, with swebench 5.0.2's grading
 * functions; never rewritten.
 */
import type { ListMismatch } from '../../contracts/build';
import type { TaskRecord } from '../../contracts/task';
import { resolveCase, testMaintained, testPassed, type TestLists } from '../grading/official';

/** An official status map (swebench's parser output on one run). */
type StatusMap = Record<string, string>;

/**
 * The record's own lists, verbatim (same strings, same order, duplicates kept), or null when it has
 * none (a mined task: the lists are derived). A record with only one of the two has the other empty.
 */
export function recordLists(task: Pick<TaskRecord, 'FAIL_TO_PASS' | 'PASS_TO_PASS'>): TestLists | null {
  if (task.FAIL_TO_PASS === undefined && task.PASS_TO_PASS === undefined) return null;
  return { FAIL_TO_PASS: [...(task.FAIL_TO_PASS ?? [])], PASS_TO_PASS: [...(task.PASS_TO_PASS ?? [])] };
}

const statusIn = (id: string, sm: StatusMap): string => {
  const key = resolveCase(id, sm);
  return key === null ? 'missing' : (sm[key] ?? 'missing');
};

/**
 * Where `lists` do not hold on the runs before (test patch only) and after (test patch + gold
 * patch) the gold patch, one entry per (test, problem), in list order. A FAIL_TO_PASS test must not
 * pass (`test_passed`) in any run before and must pass in every run after; a PASS_TO_PASS test must
 * be maintained (`test_maintained`: passed or skipped) in every run of both phases. A test whose
 * status differs between runs fails in at least one of them, so flaky tests show up here with
 * every run's status in `seen`.
 */
export function checkOfficialLists(lists: TestLists, before: StatusMap[], after: StatusMap[]): ListMismatch[] {
  const out: ListMismatch[] = [];
  const check = (list: ListMismatch['list'], ids: string[]) => {
    for (const test of ids) {
      const seen = { before: before.map((sm) => statusIn(test, sm)), after: after.map((sm) => statusIn(test, sm)) };
      const add = (problem: ListMismatch['problem']) => out.push({ list, test, problem, seen });
      const missing = (sm: StatusMap) => resolveCase(test, sm) === null;
      if (list === 'FAIL_TO_PASS') {
        if (before.some((sm) => testPassed(test, sm))) add('passes_before');
      } else {
        const bad = before.filter((sm) => !testMaintained(test, sm));
        if (bad.some((sm) => !missing(sm))) add('fails_before');
        else if (bad.length > 0) add('missing_before');
      }
      const ok = list === 'FAIL_TO_PASS' ? testPassed : testMaintained;
      const bad = after.filter((sm) => !ok(test, sm));
      if (bad.some((sm) => !missing(sm))) add('fails_after');
      else if (bad.length > 0) add('missing_after');
    }
  };
  check('FAIL_TO_PASS', lists.FAIL_TO_PASS);
  check('PASS_TO_PASS', lists.PASS_TO_PASS);
  return out;
}

/** One line naming the mismatched tests: `PASS_TO_PASS "t" missing_after (after: missing, missing); …` (at most `max`). */
export function describeMismatches(ms: ListMismatch[], max = 5): string {
  const one = (m: ListMismatch) => {
    const phase = m.problem.endsWith('_before') ? 'before' : 'after';
    return `${m.list} ${JSON.stringify(m.test)} ${m.problem} (${phase}: ${m.seen[phase].join(', ')})`;
  };
  const shown = ms.slice(0, max).map(one).join('; ');
  return ms.length > max ? `${shown}; and ${ms.length - max} more` : shown;
}
