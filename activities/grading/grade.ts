import type { InstanceReport, RunLog } from '../../contracts/grading';
import type { LogParserName } from '../../contracts/task';
import { APPLY_PATCH_FAIL } from './eval-script';
import { infraLabel } from './infra-labels';
import { logLines } from './parsers/common';
import { type OfficialLogEval, officialLogsEval, officialTestsReport, resolutionStatus } from './official';
import { strictCheck } from './strict';

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

/** A graded run: the report and the official log decision behind it. */
export interface GradedRun {
  report: InstanceReport;
  official: OfficialLogEval;
}

const none = () => ({ success: [] as string[], failure: [] as string[] });
const NOTHING_COLLECTED = /\bcollected 0 items\b|\/ 0 selected\b|\bno tests ran\b|^Ran 0 tests\b/im;

/** The `infra_failure` label of a log the official grading did not find: its reason, refined. */
function notFoundLabel(official: OfficialLogEval, output: string): string | null {
  const reason = official.reason ?? 'invalid_log';
  if (reason === 'patch_apply_failed') return null;
  if (reason !== 'no_tests_ran') return reason;
  if (NOTHING_COLLECTED.test(output)) return 'no_tests_collected';
  return /ModuleNotFoundError: No module named|ImportError/.test(output) ? 'missing_module' : 'no_tests_collected';
}

/**
 * Grades one run exactly as swebench 5.0.2's `get_eval_report` does: a None patch is not graded
 * (`patch_is_None`); a patch that did not apply, or a log `get_logs_eval` does not find (bad-code
 * marker, no start/end markers, nothing parsed and no `SUITE_RAN`, first exit-code line non-zero
 * with no FAILED/ERROR, timed out), is not resolved and `patch_successfully_applied` stays false;
 * otherwise `get_eval_tests_report` and `get_resolution_status` decide (resolved iff RESOLVED_FULL).
 * bottega additions, which never change `resolved`: `tests_status` is always present (a log not
 * found lists every task test as a failure), FAIL_TO_FAIL/PASS_TO_FAIL are computed when given,
 * `infra_failure` carries a label (the not-found reason, or an advisory tier label of an unresolved
 * run), and `strict` holds bottega's strict check ({@link strictCheck}).
 */
export function gradeRun(input: GradeInput): GradedRun {
  const { task, patch, log } = input;
  const report: InstanceReport = {
    patch_is_None: patch === null,
    patch_exists: patch !== null,
    patch_successfully_applied: false,
    resolved: false,
    infra_failure: null,
    tests_status: { FAIL_TO_PASS: none(), PASS_TO_PASS: none(), FAIL_TO_FAIL: none(), PASS_TO_FAIL: none() },
  };
  const official: OfficialLogEval =
    patch !== null && input.applied
      ? officialLogsEval(input.parser, log)
      : { statuses: {}, found: false, reason: patch === null ? 'patch_is_none' : 'patch_apply_failed', parsed: {} };
  if (patch !== null && official.found) {
    report.patch_successfully_applied = true;
    report.tests_status = officialTestsReport(official.statuses, task);
    report.resolved = resolutionStatus(report.tests_status) === 'RESOLVED_FULL';
    if (!report.resolved) report.infra_failure = infraLabel(log.output, log.exitCode);
  } else if (patch !== null && input.applied) {
    for (const key of ['FAIL_TO_PASS', 'PASS_TO_PASS', 'FAIL_TO_FAIL', 'PASS_TO_FAIL'] as const) {
      report.tests_status[key].failure = [...(task[key] ?? [])];
    }
    report.infra_failure = notFoundLabel(official, log.output);
  }
  report.strict = strictCheck(input, official, report);
  return { report, official };
}

/** Whether the candidate patch applied: the apply script's {@link APPLY_PATCH_FAIL} line is absent. */
export function patchApplied(log: RunLog): boolean {
  return !logLines(log.output).some((l) => l.trim() === APPLY_PATCH_FAIL);
}

/** The per-instance report of {@link gradeRun}. */
export function gradeInstance(input: GradeInput): InstanceReport {
  return gradeRun(input).report;
}
