import { z } from 'zod';
import { InstanceReport } from './grading';
import { ModelNameOrPath, SafeName } from './safe-names';
import { InstallConfig, TestScope } from './task';

/**
 * One prediction in SWE-bench's shape: the patch a model produced for an instance. A null
 * `model_patch` is SWE-bench's "patch is None"; an empty or blank one is an empty patch.
 */
export const Prediction = z.strictObject({
  /** One directory name under `logs/run_evaluation/<run_id>/<model>/` (see contracts/safe-names.ts). */
  instance_id: SafeName,
  /** `org/model-7b` names the directory `org__model-7b`, as in SWE-bench's harness; `..` is refused. */
  model_name_or_path: ModelNameOrPath,
  model_patch: z.string().nullable(),
});
export type Prediction = z.infer<typeof Prediction>;

/** SWE-bench stores test lists as JSON-encoded strings in its parquet files; accept both forms. */
const TestList = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}, z.array(z.string()));

/** The instance image of a task: the build stage's `{tag, id}`, or a bare tag (SWE-rebench's `image_name`). */
export const EvalImage = z.union([z.strictObject({ tag: z.string().min(1), id: z.string() }), z.string().min(1)]);
export type EvalImage = z.infer<typeof EvalImage>;

/**
 * A task as the evaluator needs it: a validated record of the build stage's `tasks` artifact
 * (`tasks.validated.jsonl`) with its image, recipe and test lists. Other fields are kept.
 */
export const EvalTask = z.looseObject({
  /** One directory name of the grading logs (see contracts/safe-names.ts). */
  instance_id: SafeName,
  /** `owner/name`: Django's test directives are module labels (`django/django`). */
  repo: z.string().optional(),
  base_commit: z.string().min(1),
  test_patch: z.string(),
  FAIL_TO_PASS: TestList,
  PASS_TO_PASS: TestList,
  FAIL_TO_FAIL: TestList.optional(),
  PASS_TO_FAIL: TestList.optional(),
  image: EvalImage,
  install_config: InstallConfig,
  /**
   * The tests the task was validated with, and so graded with: `files` (the test files `test_patch`
   * touches) or `suite`. Absent (tasks built before scopes): `suite`, the test command as recorded.
   */
  test_scope: TestScope.optional(),
});
export type EvalTask = z.infer<typeof EvalTask>;

/**
 * Where one prediction ends up in the run report:
 * - `resolved` / `unresolved`: graded (a `report.json` was written; a patch that did not apply is
 *   unresolved with `patch_successfully_applied: false`);
 * - `empty_patch`: no patch, nothing run;
 * - `error`: the run gave no trustworthy verdict (test patch did not apply, timed out, suite did not run);
 * - `infra_failure`: grading could not run at all (image missing, container failed).
 */
export const EvalOutcome = z.enum(['resolved', 'unresolved', 'empty_patch', 'error', 'infra_failure']);
export type EvalOutcome = z.infer<typeof EvalOutcome>;

/** Wall-clock split of grading one instance, in milliseconds. */
export const GradeTimings = z.strictObject({
  /**
   * The instance's turn until the script's first line ran: container create + start, or with the
   * container pipeline (`bottega eval`), only what was left of preparing it ahead.
   */
  container_start_ms: z.number().nonnegative(),
  /** Writing and applying the candidate patch (the apply fall-through). */
  patch_apply_ms: z.number().nonnegative(),
  /** The eval script: reset test files, apply test_patch, run the tests. */
  test_run_ms: z.number().nonnegative(),
  /**
   * The script's end until the log is back on the host: container exit and removal, or with the
   * container pipeline, the end marker's arrival (the removal runs in the background).
   */
  teardown_ms: z.number().nonnegative(),
  /** Log verdict, parsing and grading on the host. */
  parse_ms: z.number().nonnegative(),
  total_ms: z.number().nonnegative(),
});
export type GradeTimings = z.infer<typeof GradeTimings>;

/** The graded result of one (instance, patch, image, grading code) tuple, as cached and reused. */
export const GradedInstance = z.strictObject({
  instance_id: z.string(),
  outcome: EvalOutcome,
  /** Why it is not resolved (`patch_apply_failed`, `tests_failed`, `exit_code_mismatch`, `image_missing`, …). */
  reason: z.string().nullable(),
  /** The per-instance report; null for empty patches, errors and infra failures. */
  report: InstanceReport.nullable(),
  /** The test run's log (empty when nothing ran). */
  log: z.string(),
  timings: GradeTimings.nullable(),
});
export type GradedInstance = z.infer<typeof GradedInstance>;

/** One cache file, `$BOTTEGA_HOME/eval-cache/<key>.json`. */
export const EvalCacheEntry = z.strictObject({
  key: z.string(),
  /** What the key hashes (for humans; the key is authoritative). */
  inputs: z.strictObject({
    instance_id: z.string(),
    patch_sha256: z.string(),
    image_id: z.string(),
    task_sha256: z.string(),
    grading_version: z.string(),
  }),
  graded_at: z.string(),
  result: GradedInstance,
});
export type EvalCacheEntry = z.infer<typeof EvalCacheEntry>;

const Ids = z.array(z.string());

/**
 * SWE-bench's run report `<model>.<run_id>.json` (schema_version 2, with the 5.0 infra fields),
 * plus bottega's `unknown_ids` (predictions for instances not in the task file, when allowed),
 * `strict_disagreements` (the strict check beside the official counts) and `cache` (how many
 * results were reused).
 */
export const EvalRunReport = z.strictObject({
  total_instances: z.number().int(),
  submitted_instances: z.number().int(),
  completed_instances: z.number().int(),
  resolved_instances: z.number().int(),
  unresolved_instances: z.number().int(),
  empty_patch_instances: z.number().int(),
  error_instances: z.number().int(),
  infra_failure_instances: z.number().int(),
  ambiguous_failure_instances: z.number().int(),
  completed_ids: Ids,
  incomplete_ids: Ids,
  empty_patch_ids: Ids,
  submitted_ids: Ids,
  resolved_ids: Ids,
  unresolved_ids: Ids,
  error_ids: Ids,
  infra_failure_ids: Ids,
  ambiguous_failure_ids: Ids,
  unknown_ids: Ids,
  /** Instance id → why it is not resolved. */
  failure_reasons: z.record(z.string(), z.string()),
  unstopped_containers: Ids,
  unremoved_images: Ids,
  /** bottega's strict check: instances where it reached the other verdict, with its reasons (never scored). */
  strict_disagreements: z
    .strictObject({ count: z.number().int(), ids: Ids, reasons: z.record(z.string(), z.array(z.string())) })
    .default({ count: 0, ids: [], reasons: {} }),
  cache: z.strictObject({ reused: z.number().int(), graded: z.number().int() }),
  schema_version: z.literal(2),
});
export type EvalRunReport = z.infer<typeof EvalRunReport>;
