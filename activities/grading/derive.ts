import type { TestStatus, TestStatusMap } from '../../contracts/grading';
import { isFail, isPass } from './parsers/common';

/** The test lists a task gets from its validation runs. */
export interface DerivedTests {
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  FAIL_TO_FAIL: string[];
  PASS_TO_FAIL: string[];
  /** Tests whose outcome differed between runs of the same phase; excluded from the lists above. */
  flaky: string[];
}

type Outcome = 'pass' | 'fail' | 'skip';

/** pass = PASSED|XFAIL; fail = FAILED|ERROR|missing; skip = SKIPPED. */
function outcome(status: TestStatus | undefined): Outcome {
  if (isPass(status)) return 'pass';
  if (status === undefined || isFail(status)) return 'fail';
  return 'skip';
}

/** The single outcome of a test over every run of a phase, or null when the runs disagree. */
function stable(id: string, runs: TestStatusMap[]): Outcome | null {
  const seen = new Set(runs.map((r) => outcome(r[id])));
  return seen.size === 1 ? [...seen][0]! : null;
}

/**
 * Derives a task's test lists from N validation runs before (test patch only) and after (test
 * patch + gold patch). FAIL_TO_PASS: fails (or is missing) before and passes after, in every run;
 * PASS_TO_PASS: passes in every run of both phases; FAIL_TO_FAIL and PASS_TO_FAIL likewise. A test
 * whose outcome differs between runs of one phase is flaky and only reported; a test skipped in
 * either phase goes nowhere. Lists are sorted.
 */
export function deriveTask(before: TestStatusMap[], after: TestStatusMap[]): DerivedTests {
  if (before.length === 0 || after.length === 0) throw new Error('deriveTask needs at least one run per phase');
  const ids = new Set<string>();
  for (const run of [...before, ...after]) for (const id of Object.keys(run)) ids.add(id);
  const out: DerivedTests = { FAIL_TO_PASS: [], PASS_TO_PASS: [], FAIL_TO_FAIL: [], PASS_TO_FAIL: [], flaky: [] };
  for (const id of [...ids].sort()) {
    const b = stable(id, before);
    const a = stable(id, after);
    if (b === null || a === null) {
      out.flaky.push(id);
      continue;
    }
    if (b === 'skip' || a === 'skip') continue;
    if (b === 'fail' && a === 'pass') out.FAIL_TO_PASS.push(id);
    else if (b === 'pass' && a === 'pass') out.PASS_TO_PASS.push(id);
    else if (b === 'fail' && a === 'fail') out.FAIL_TO_FAIL.push(id);
    else out.PASS_TO_FAIL.push(id);
  }
  return out;
}
