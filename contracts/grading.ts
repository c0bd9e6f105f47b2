import { z } from 'zod';

/**
 * Outcome of one test as a log parser reads it (SWE-bench's `TestStatus`). XPASS is folded into
 * PASSED (a non-strict xfail that passed does not fail the run); unittest's "unexpected success"
 * is FAILED (it fails the run).
 */
export const TestStatus = z.enum(['PASSED', 'FAILED', 'SKIPPED', 'ERROR', 'XFAIL']);
export type TestStatus = z.infer<typeof TestStatus>;

/** Test id → status, as parsed from one test run. */
export const TestStatusMap = z.record(z.string(), TestStatus);
export type TestStatusMap = z.infer<typeof TestStatusMap>;

/** What one run of a script left behind: its exit code (null when killed), whether it timed out, and its output. */
export const RunLog = z.strictObject({
  exitCode: z.number().int().nullable(),
  timedOut: z.boolean(),
  /** stdout and stderr interleaved. */
  output: z.string(),
});
export type RunLog = z.infer<typeof RunLog>;

/** Tests of one category that passed (`success`) and did not (`failure`). */
export const TestOutcomes = z.strictObject({
  success: z.array(z.string()),
  failure: z.array(z.string()),
});
export type TestOutcomes = z.infer<typeof TestOutcomes>;

/**
 * bottega's strict check, reported beside the official verdict and never changing it: its own
 * verdict (whole ids, `-v`/xdist progress lines, XPASS and unittest outcomes read, the last exit-code
 * line trusted, suspicious logs rejected) and `reasons`, one per point where it departs from the
 * official grading (`rejects_log: exit_code_mismatch`, `test_passes: …`, `test_fails: …`, `accepts_log: …`).
 */
export const StrictCheck = z.strictObject({
  resolved: z.boolean(),
  reasons: z.array(z.string()),
});
export type StrictCheck = z.infer<typeof StrictCheck>;

/**
 * SWE-bench's per-instance `report.json` body (5.0 shape, with `infra_failure` as a label), the
 * official verdict, plus bottega's {@link StrictCheck} under the extra key `strict` (absent in
 * reports made before it existed).
 */
export const InstanceReport = z.strictObject({
  patch_is_None: z.boolean(),
  patch_exists: z.boolean(),
  patch_successfully_applied: z.boolean(),
  resolved: z.boolean(),
  /** Advisory infra / ambiguous label (e.g. `tests_timed_out`, `missing_module`); never changes the denominator. */
  infra_failure: z.string().nullable(),
  tests_status: z.strictObject({
    FAIL_TO_PASS: TestOutcomes,
    PASS_TO_PASS: TestOutcomes,
    FAIL_TO_FAIL: TestOutcomes,
    PASS_TO_FAIL: TestOutcomes,
  }),
  strict: StrictCheck.optional(),
});
export type InstanceReport = z.infer<typeof InstanceReport>;

/**
 * Whether a test log can be trusted, and what it says. `reason` names why it cannot
 * (`patch_apply_failed`, `test_patch_apply_failed`, `tests_timed_out`, `no_tests_ran`,
 * `no_tests_collected`, `missing_module`, `exit_code_mismatch`); `statuses` is what was parsed either way.
 */
export const LogVerdict = z.strictObject({
  valid: z.boolean(),
  reason: z.string().nullable(),
  statuses: TestStatusMap,
});
export type LogVerdict = z.infer<typeof LogVerdict>;
