import { z } from 'zod';
import { ArtifactRef } from './artifact';
import { RunWarning } from './run-warnings';

/** Token-length thresholds at which retention is reported (paper §3.1). */
export const RETENTION_THRESHOLDS = [8192, 16384, 32768, 65536, 131072] as const;

/** Counts by reason. Every PR or file removed anywhere is counted under some reason. */
export const ReasonCounts = z.record(z.string(), z.number().int().nonnegative());
export type ReasonCounts = z.infer<typeof ReasonCounts>;

/** Per-format rendering outcome. */
export const FormatSummary = z.strictObject({
  /** PRs that reached this format's renderer (passed the shared and format filters). */
  eligible: z.number().int().nonnegative(),
  /** PRs removed by this format's filters (e.g. the Python subset rules), by reason. */
  filtered: ReasonCounts,
  /** Samples written. */
  samples: z.number().int().nonnegative(),
  /** Exact token count of the samples written. */
  tokens: z.number().int().nonnegative(),
  /** Rendered samples dropped by the length gate or a rendering error, by reason. */
  dropped: ReasonCounts,
  /** How many rendered samples would be kept at each length threshold (key: tokens). */
  retention: z.record(z.string(), z.number().int().nonnegative()),
});
export type FormatSummary = z.infer<typeof FormatSummary>;

/**
 * How the sources' PRs were found. Git sources count each PR once under the shape that found it
 * (merge, squash, rebase, pull_ref); the GitHub source lists PRs directly (`api`).
 */
export const MineDiscovery = z.strictObject({
  /** PRs found, by shape; they add up to prs_seen. */
  prs_found: ReasonCounts,
  /** Extra sightings folded into a PR seen once: its pull ref beside its commit, cherry-picked copies. */
  duplicates_merged: z.number().int().nonnegative(),
  /** Merges and `(#N)` commits that are not PRs, by reason (branch_merge, unnumbered_merge, ...). */
  not_prs: ReasonCounts,
  /** `refs/pull/N/head` refs whose PR is not merged into the ref (open, closed, merged elsewhere). */
  pull_refs_not_merged: z.number().int().nonnegative(),
});
export type MineDiscovery = z.infer<typeof MineDiscovery>;

/** Counters of the mine stage. They add up: seen = kept + sum(dropped). */
export const MineSummary = z.strictObject({
  repos: z.number().int().nonnegative(),
  prs_seen: z.number().int().nonnegative(),
  /** How the PRs seen were found, and what was found that is not a PR (absent in results of older runs). */
  discovery: MineDiscovery.default({ prs_found: {}, duplicates_merged: 0, not_prs: {}, pull_refs_not_merged: 0 }),
  /** PRs that produced at least one sample. */
  prs_kept: z.number().int().nonnegative(),
  /** PRs that produced no sample, by the first reason that removed them. */
  prs_dropped: ReasonCounts,
  formats: z.record(z.string(), FormatSummary),
  /** Relevant files whose content was left out, by reason (binary, non_utf8, ...). */
  files_skipped: ReasonCounts,
  enhance: z.strictObject({ calls: z.number().int(), failures: z.number().int(), failure_reasons: ReasonCounts }),
  task_candidates: z.number().int().nonnegative(),
  /** PRs kept for samples that did not become task candidates, by reason. */
  task_candidates_skipped: ReasonCounts,
  samples: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
});
export type MineSummary = z.infer<typeof MineSummary>;

/** The mine stage's output. */
export const MineStageResult = z.strictObject({
  summary: MineSummary,
  artifacts: z.strictObject({
    /** D^ctx_py samples (JSONL of MineSample), present when the python format is enabled. */
    python: ArtifactRef.optional(),
    /** D^ctx_gen samples (JSONL of MineSample). */
    general: ArtifactRef.optional(),
    /** SWE-bench-style task candidates (JSONL of TaskCandidate). */
    tasks: ArtifactRef.optional(),
    /** One line per PR seen: kept or dropped, with reasons. */
    decisions: ArtifactRef,
    /** The summary as JSON. */
    summary: ArtifactRef,
  }),
});
export type MineStageResult = z.infer<typeof MineStageResult>;

/** Lineage of a stage output: which workflow run produced it. */
export const Producer = z.strictObject({ workflowId: z.string(), runId: z.string() });
export type Producer = z.infer<typeof Producer>;

export const StageOutcome = z.strictObject({
  /** `ran`: executed in this run; `cached`: reused from the step cache. */
  status: z.enum(['ran', 'cached']),
  cacheKey: z.string(),
  producer: Producer,
  result: z.unknown(),
});
export type StageOutcome = z.infer<typeof StageOutcome>;

/** What happened to a stage of the experiment's graph. */
export const DagStatus = z.enum(['waiting', 'running', 'ran', 'cached', 'failed', 'not_started', 'cancelled']);
export type DagStatus = z.infer<typeof DagStatus>;

export const ExperimentResult = z.strictObject({
  experimentId: z.string(),
  stages: z.record(z.string(), StageOutcome),
  /**
   * Stages that completed but produced nothing somewhere, from their counts (contracts/run-warnings.ts).
   * Optional: results recorded before it existed have none (`experimentWarnings` recomputes them).
   */
  warnings: z.array(RunWarning).optional(),
  /**
   * The experiment's graph as it ran: the stages each stage reads from, and each stage's status.
   * Absent for runs started before the DAG (they ran their stages in a chain).
   */
  dag: z
    .strictObject({
      needs: z.record(z.string(), z.array(z.string())),
      status: z.record(z.string(), DagStatus),
    })
    .optional(),
});
export type ExperimentResult = z.infer<typeof ExperimentResult>;

/** The evaluation nodes of a result in the spec's order: `evaluate`, or `evaluate.<name>` for each named one. */
export function evaluationNodes(r: Pick<ExperimentResult, 'stages' | 'dag'>): string[] {
  return Object.keys(r.dag?.needs ?? r.stages).filter((k) => k === 'evaluate' || k.startsWith('evaluate.'));
}

/** The mean resolved rate of the experiment's (first) evaluation: a sweep arm's score, the EvalScore attribute. */
export function primaryEvalScore(r: Pick<ExperimentResult, 'stages' | 'dag'>): number | undefined {
  const node = evaluationNodes(r).find((n) => r.stages[n]);
  const mean = (r.stages[node ?? '']?.result as { summary?: { mean?: number } } | undefined)?.summary?.mean;
  return typeof mean === 'number' ? mean : undefined;
}
