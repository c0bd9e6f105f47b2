import type { EvalOutcome, EvalRunReport, GradedInstance } from '../../contracts/evaluate';
import type { InstanceReport, LogVerdict } from '../../contracts/grading';

/**
 * Reasons a log is not found that give no trustworthy answer about the patch: the instance is an
 * error (a timeout or a crashing parser is one for the official harness too).
 */
export const ERROR_REASONS: ReadonlySet<string> = new Set([
  'test_patch_apply_failed',
  'tests_timed_out',
  'no_tests_ran',
  'no_tests_collected',
  'parser_crashed',
]);

/** SWE-bench 5.0's ambiguous tier: advisory labels on graded instances. */
export const AMBIGUOUS_LABELS: ReadonlySet<string> = new Set([
  'missing_module',
  'no_tests_collected',
  'tests_timed_out',
]);

/**
 * Where a graded run lands, from the official verdict (`verdict` is `get_logs_eval`'s found flag and
 * reason). Not applied → unresolved (`patch_apply_failed`); a log not found for a reason in
 * {@link ERROR_REASONS} → error; resolved → resolved; otherwise unresolved, with the reason the log
 * was not found (`exit_code_mismatch`, `no_tests_ran`, …), the report's advisory label, or `tests_failed`.
 */
export function classify(
  report: InstanceReport,
  verdict: Pick<LogVerdict, 'valid' | 'reason'>
): { outcome: EvalOutcome; reason: string | null } {
  if (!verdict.valid) {
    const reason = verdict.reason ?? 'invalid_log';
    if (reason === 'patch_apply_failed') return { outcome: 'unresolved', reason };
    if (ERROR_REASONS.has(reason)) return { outcome: 'error', reason };
    return { outcome: 'unresolved', reason: report.infra_failure ?? reason };
  }
  if (report.resolved) return { outcome: 'resolved', reason: null };
  return { outcome: 'unresolved', reason: report.infra_failure ?? 'tests_failed' };
}

/** True when bottega's strict check reached another verdict than the official one. */
export function strictDisagrees(r: GradedInstance): boolean {
  return !!r.report?.strict && r.report.strict.resolved !== r.report.resolved;
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
 * `strict_disagreements` (an extra key) lists the instances whose strict check reached the other
 * verdict, with its reasons; the counts above are the official verdict's.
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
  const strictIds = submitted.filter((id) => strictDisagrees(input.results.get(id)!));
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
    strict_disagreements: {
      count: strictIds.length,
      ids: strictIds,
      reasons: Object.fromEntries(strictIds.map((id) => [id, input.results.get(id)!.report!.strict!.reasons])),
    },
    cache: input.cache,
    schema_version: 2,
  };
}

/** `owner/model` → `owner__model`, as SWE-bench names log directories and report files (contracts/safe-names.ts). */
export { modelSlug } from '../../contracts/safe-names';
