import type { EvalOutcome, EvalRunReport, GradedInstance } from '../../contracts/evaluate';
import type { InstanceReport, LogVerdict } from '../../contracts/grading';

/** Log verdicts that give no trustworthy answer about the patch: the instance is an error. */
export const ERROR_REASONS: ReadonlySet<string> = new Set([
  'test_patch_apply_failed',
  'tests_timed_out',
  'no_tests_ran',
  'no_tests_collected',
]);

/** SWE-bench 5.0's ambiguous tier: advisory labels on graded instances. */
export const AMBIGUOUS_LABELS: ReadonlySet<string> = new Set([
  'missing_module',
  'no_tests_collected',
  'tests_timed_out',
]);

/**
 * Where a graded run lands. Not applied → unresolved (`patch_apply_failed`); a verdict in
 * {@link ERROR_REASONS} → error; resolved → resolved; otherwise unresolved, with the log's
 * rejection (`exit_code_mismatch`, `missing_module`), the report's advisory label, or `tests_failed`.
 */
export function classify(
  report: InstanceReport,
  verdict: Pick<LogVerdict, 'valid' | 'reason'>
): { outcome: EvalOutcome; reason: string | null } {
  if (!report.patch_successfully_applied) return { outcome: 'unresolved', reason: 'patch_apply_failed' };
  if (!verdict.valid && verdict.reason && ERROR_REASONS.has(verdict.reason))
    return { outcome: 'error', reason: verdict.reason };
  if (report.resolved) return { outcome: 'resolved', reason: null };
  return { outcome: 'unresolved', reason: verdict.reason ?? report.infra_failure ?? 'tests_failed' };
}

/** SWE-bench's `report.json` body: `{ "<instance_id>": report }`. */
export function instanceReportJson(instanceId: string, report: InstanceReport): Record<string, InstanceReport> {
  return { [instanceId]: report };
}

/** Inputs of {@link buildRunReport}. */
export interface RunReportInput {
  /** Every task id of the evaluation set (the denominator). */
  taskIds: string[];
  /** Graded results of the submitted predictions, by instance id. */
  results: Map<string, GradedInstance>;
  /** Predictions for instances outside the task set (only when allowed). */
  unknownIds?: string[];
  /** How many results came from the cache, and how many were graded now (containers run). */
  cache: { reused: number; graded: number };
}

const sorted = (xs: Iterable<string>) => [...xs].sort();

/**
 * The run report (SWE-bench schema_version 2 plus the 5.0 infra fields). Per task: no prediction →
 * incomplete; each submitted one in exactly one of resolved, unresolved, empty_patch, error and
 * infra_failure; completed = resolved + unresolved (those with a `report.json`). Ambiguous-tier
 * labels are advisory: those ids stay in their bucket and are also listed in `ambiguous_failure_ids`.
 */
export function buildRunReport(input: RunReportInput): EvalRunReport {
  const ids: Record<EvalOutcome, string[]> = {
    resolved: [],
    unresolved: [],
    empty_patch: [],
    error: [],
    infra_failure: [],
  };
  const incomplete: string[] = [];
  const ambiguous: string[] = [];
  const reasons: Record<string, string> = {};
  for (const id of sorted(input.taskIds)) {
    const r = input.results.get(id);
    if (!r) {
      incomplete.push(id);
      continue;
    }
    ids[r.outcome].push(id);
    if (r.reason) reasons[id] = r.reason;
    const label = r.report?.infra_failure ?? (r.outcome === 'error' ? r.reason : null);
    if (label && AMBIGUOUS_LABELS.has(label)) ambiguous.push(id);
  }
  const submitted = sorted(input.results.keys());
  const completed = sorted([...ids.resolved, ...ids.unresolved]);
  return {
    total_instances: input.taskIds.length,
    submitted_instances: submitted.length,
    completed_instances: completed.length,
    resolved_instances: ids.resolved.length,
    unresolved_instances: ids.unresolved.length,
    empty_patch_instances: ids.empty_patch.length,
    error_instances: ids.error.length,
    infra_failure_instances: ids.infra_failure.length,
    ambiguous_failure_instances: ambiguous.length,
    completed_ids: completed,
    incomplete_ids: incomplete,
    empty_patch_ids: ids.empty_patch,
    submitted_ids: submitted,
    resolved_ids: ids.resolved,
    unresolved_ids: ids.unresolved,
    error_ids: ids.error,
    infra_failure_ids: ids.infra_failure,
    ambiguous_failure_ids: ambiguous,
    unknown_ids: sorted(input.unknownIds ?? []),
    failure_reasons: reasons,
    unstopped_containers: [],
    unremoved_images: [],
    cache: input.cache,
    schema_version: 2,
  };
}

/** `owner/model` → `owner__model`, as SWE-bench names log directories and report files. */
export function modelSlug(model: string | null): string {
  return (model ?? 'None').replace(/\//g, '__') || 'None';
}
