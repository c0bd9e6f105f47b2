import type { InstanceReport, RunLog, TestOutcomes } from '../../contracts/grading';
import type { LogParserName } from '../../contracts/task';
import { infraLabel } from './infra-labels';
import { matchTest } from './match-test';
import { isPass } from './parsers/common';
import { judgeLog } from './verdict';

/** Inputs of {@link gradeInstance}. */
export interface GradeInput {
  /** The task's test lists; FAIL_TO_FAIL and PASS_TO_FAIL are reported only. */
  task: { FAIL_TO_PASS: string[]; PASS_TO_PASS: string[]; FAIL_TO_FAIL?: string[]; PASS_TO_FAIL?: string[] };
  /** The candidate patch; null when the prediction had none. */
  patch: string | null;
  /** Whether the apply script reported success. */
  applied: boolean;
  /** The eval script's run. */
  log: RunLog;
  parser: LogParserName;
}

const none = (): TestOutcomes => ({ success: [], failure: [] });

/** Labels that are SWE-bench 5.0 infra / ambiguous tiers or log rejections, carried as `infra_failure`. */
function verdictLabel(reason: string): string {
  return reason === 'no_tests_ran' ? 'no_tests_collected' : reason;
}

/**
 * Grades one instance like SWE-bench 5.0. Resolved iff every FAIL_TO_PASS test passes (PASSED or
 * XFAIL; skipped or missing fails) and every PASS_TO_PASS test passes or is skipped (a skip is no
 * regression); empty lists are satisfied. A None/empty patch or one that did not apply is not
 * resolved and has empty test lists. An invalid log is not resolved, reports every task test as a
 * failure and carries its reason as `infra_failure` (`no_tests_ran` is reported as
 * `no_tests_collected`); an unresolved valid run may carry an advisory label (`missing_module`, …).
 */
export function gradeInstance(input: GradeInput): InstanceReport {
  const { task, patch, log } = input;
  const report: InstanceReport = {
    patch_is_None: patch === null,
    patch_exists: patch !== null && patch.trim() !== '',
    patch_successfully_applied: false,
    resolved: false,
    infra_failure: null,
    tests_status: { FAIL_TO_PASS: none(), PASS_TO_PASS: none(), FAIL_TO_FAIL: none(), PASS_TO_FAIL: none() },
  };
  if (!report.patch_exists || !input.applied) return report;
  const verdict = judgeLog(input.parser, log);
  if (verdict.reason === 'patch_apply_failed') return report;
  report.patch_successfully_applied = true;
  const lists = {
    FAIL_TO_PASS: task.FAIL_TO_PASS,
    PASS_TO_PASS: task.PASS_TO_PASS,
    FAIL_TO_FAIL: task.FAIL_TO_FAIL ?? [],
    PASS_TO_FAIL: task.PASS_TO_FAIL ?? [],
  };
  if (!verdict.valid) {
    for (const key of ['FAIL_TO_PASS', 'PASS_TO_PASS', 'FAIL_TO_FAIL', 'PASS_TO_FAIL'] as const) {
      report.tests_status[key].failure = [...lists[key]];
    }
    report.infra_failure = verdictLabel(verdict.reason ?? 'invalid_log');
    return report;
  }
  for (const key of ['FAIL_TO_PASS', 'PASS_TO_PASS', 'FAIL_TO_FAIL', 'PASS_TO_FAIL'] as const) {
    const skipOk = key === 'PASS_TO_PASS';
    for (const id of lists[key]) {
      const status = matchTest(id, verdict.statuses);
      const ok = isPass(status) || (skipOk && status === 'SKIPPED');
      report.tests_status[key][ok ? 'success' : 'failure'].push(id);
    }
  }
  report.resolved =
    report.tests_status.FAIL_TO_PASS.failure.length === 0 && report.tests_status.PASS_TO_PASS.failure.length === 0;
  if (!report.resolved) report.infra_failure = infraLabel(log.output, log.exitCode);
  return report;
}
