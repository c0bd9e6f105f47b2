import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import {
  EvalRunReport,
  EvaluateConfig,
  EvaluateRun,
  EvaluateStageResult,
  INVALID_SPEC,
  StoreConfig,
  modelNameProblem,
  unsafeName,
  Trajectory,
  parseInput,
  type ArtifactRef,
  type EvaluateServing,
  type EvaluateSummary,
  type GradedInstance,
  type InstanceReport,
  type Prediction,
  type RolloutStageResult,
} from '../../contracts';
import { loggerFor } from '../logger';
import { openStore } from '../store/artifact-store';
import { emptyPatchResult, infraFailureResult } from './grade-one';
import { isEmptyPatch } from './predictions';
import { buildRunReport, classify, ERROR_REASONS, modelSlug } from './reports';
import { bootstrapInterval, compareWithBaseline, mean, perInstanceRates, tInterval } from './stats';
import { summaryMarkdown } from './stage-summary';
import { stripBom } from '../text-input';

/** Dependencies of the evaluate stage's bookkeeping activities. */
export interface EvaluateStageDeps {
  env: NodeJS.ProcessEnv;
}

/** Common input of the evaluate stage's activities. */
export interface EvaluateStepInput {
  experimentId: string;
  config: EvaluateConfig;
  store: StoreConfig;
  prefix: string;
}

const lines = (xs: string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
const jsonl = (text: string) => text.split('\n').filter((l) => l.trim());

/**
 * A graded instance from the rollout's own grading of its final patch. The rollout graded it with
 * the grading core (swebench 5.0.2's verdict plus the strict check, fresh container, test-file edits
 * reverted); a log the official grading did not find has `patch_successfully_applied: false` and its
 * reason in `report.infra_failure` (none: the patch did not apply), so `test_patch_apply_failed`,
 * `tests_timed_out` or `no_tests_collected` is an error and anything else unresolved is unresolved.
 * Reports made before the official verdict marked an invalid log only by its label; both are read.
 */
export function gradedFromTrajectory(t: Trajectory): GradedInstance {
  if (isEmptyPatch(t.final_patch)) return emptyPatchResult(t.instance_id);
  if (!t.report) return infraFailureResult(t.instance_id, 'not_graded', `rollout exit ${t.exit_reason}`);
  const label = t.report.infra_failure;
  const verdict = !t.report.patch_successfully_applied
    ? { valid: false, reason: label ?? 'patch_apply_failed' }
    : label && ERROR_REASONS.has(label)
      ? { valid: false, reason: label }
      : { valid: true, reason: null };
  const { outcome, reason } = classify(t.report, verdict);
  return { instance_id: t.instance_id, outcome, reason, report: t.report, log: '', timings: null };
}

/** Instance ids of a validated-tasks JSONL. */
function taskIdsOf(text: string): string[] {
  return jsonl(text).map((l) => (JSON.parse(l) as { instance_id: string }).instance_id);
}

/** A local path or `file://` URI. */
const localPath = (p: string) => (p.startsWith('file://') ? fileURLToPath(p) : p);

/** Creates the evaluate stage's store-side activities (cpu task queue). */
export function createEvaluateStageActivities(deps: EvaluateStageDeps) {
  const storeOf = (s: StoreConfig) => openStore(parseInput(StoreConfig, s, 'store config'), deps.env);
  return {
    /** Copies a validated-tasks JSONL from the worker's filesystem into the store (`tasks: {path}`). */
    async importEvaluationTasks(raw: EvaluateStepInput & { path: string }): Promise<ArtifactRef> {
      let text: string;
      try {
        text = stripBom(await readFile(localPath(raw.path), 'utf8'));
      } catch (e) {
        throw ApplicationFailure.create({
          type: INVALID_SPEC,
          nonRetryable: true,
          message: `evaluate tasks: cannot read ${raw.path}: ${(e as Error).message}`,
        });
      }
      return storeOf(raw.store).put(`${raw.prefix}/tasks.jsonl`, text);
    },

    /**
     * Turns run `run`'s rollouts into SWE-bench outputs: the predictions JSONL, the per-instance
     * reports (`{instance_id: report}`) and the run report, from the rollout's grading of each
     * final patch.
     */
    async recordEvaluationRun(
      raw: EvaluateStepInput & {
        tasks: ArtifactRef;
        run: number;
        seed: number;
        model: string;
        rollout: RolloutStageResult;
      }
    ): Promise<EvaluateRun> {
      const config = parseInput(EvaluateConfig, raw.config, 'evaluate config');
      const store = storeOf(raw.store);
      const taskIds = taskIdsOf((await store.get(raw.tasks.uri)).toString('utf8'));
      const texts = [
        ...jsonl((await store.get(raw.rollout.artifacts.pass.uri)).toString('utf8')),
        ...jsonl((await store.get(raw.rollout.artifacts.fail.uri)).toString('utf8')),
      ];
      const trajectories = new Map<string, Trajectory>();
      for (const l of texts) {
        const t = Trajectory.parse(JSON.parse(l));
        trajectories.set(t.instance_id, t);
      }
      const predictions: Prediction[] = [];
      const results = new Map<string, GradedInstance>();
      const reports: Record<string, InstanceReport> = {};
      const exits: Record<string, number> = {};
      for (const id of [...taskIds].sort()) {
        const t = trajectories.get(id);
        if (!t) continue;
        exits[t.exit_reason] = (exits[t.exit_reason] ?? 0) + 1;
        predictions.push({ instance_id: id, model_name_or_path: raw.model, model_patch: t.final_patch });
        const g = gradedFromTrajectory(t);
        results.set(id, g);
        if (g.report) reports[id] = g.report;
      }
      const report = EvalRunReport.parse(
        buildRunReport({ taskIds, results, cache: { reused: 0, graded: results.size } })
      );
      // The model names the run report, as in SWE-bench: `org/m` → `org__m.<run_id>-run<r>.json`.
      const badModel = modelNameProblem(raw.model);
      if (badModel) throw unsafeName('evaluate model', badModel);
      const dir = `${raw.prefix}/run-${raw.run}`;
      const artifacts = {
        predictions: await store.put(`${dir}/predictions.jsonl`, lines(predictions.map((p) => JSON.stringify(p)))),
        reports: await store.put(`${dir}/reports.json`, JSON.stringify(reports, null, 4) + '\n', { records: null }),
        run_report: await store.put(
          `${dir}/${modelSlug(raw.model)}.${config.run_id}-run${raw.run}.json`,
          JSON.stringify(report, null, 4) + '\n',
          { records: null }
        ),
        trajectories: await store.put(`${dir}/trajectories.jsonl`, lines(texts)),
      };
      loggerFor({ experimentId: raw.experimentId, stage: 'evaluate', activity: 'recordEvaluationRun' }).info(
        {
          run: raw.run,
          resolved: report.resolved_instances,
          total: report.total_instances,
          strict_disagreements: report.strict_disagreements.count,
        },
        'run graded'
      );
      return EvaluateRun.parse({
        run: raw.run,
        seed: raw.seed,
        total: report.total_instances,
        submitted: report.submitted_instances,
        resolved: report.resolved_instances,
        unresolved: report.unresolved_instances,
        empty_patch: report.empty_patch_instances,
        error: report.error_instances,
        resolved_rate: report.total_instances ? report.resolved_instances / report.total_instances : 0,
        resolved_ids: report.resolved_ids,
        strict_disagreement_ids: report.strict_disagreements.ids,
        exits,
        artifacts,
      });
    },

    /**
     * The evaluation's summary: resolved rate per run, the mean (Pass@1), a t-interval over runs
     * and a bootstrap interval over instances, and each baseline's difference of means; stored as
     * `summary.json` and `report.md`.
     */
    async summarizeEvaluation(
      raw: EvaluateStepInput & {
        tasks: ArtifactRef;
        model: string;
        runs: EvaluateRun[];
        serving: EvaluateServing | null;
      }
    ): Promise<EvaluateStageResult> {
      const config = parseInput(EvaluateConfig, raw.config, 'evaluate config');
      const store = storeOf(raw.store);
      const taskIds = taskIdsOf((await store.get(raw.tasks.uri)).toString('utf8')).sort();
      const runs = [...raw.runs].sort((a, b) => a.run - b.run);
      const rates = runs.map((r) => r.resolved_rate);
      const resolvedSets = runs.map((r) => new Set(r.resolved_ids));
      const perInstance = perInstanceRates(taskIds, resolvedSets);
      const baselines: EvaluateSummary['baselines'] = [];
      for (const b of config.baselines) {
        const files = typeof b.run_report === 'string' ? [b.run_report] : b.run_report;
        const theirs: Set<string>[] = [];
        for (const f of files) {
          let parsed: { resolved_ids?: unknown };
          try {
            parsed = JSON.parse(stripBom(await readFile(localPath(f), 'utf8'))) as { resolved_ids?: unknown };
          } catch (e) {
            throw ApplicationFailure.create({
              type: INVALID_SPEC,
              nonRetryable: true,
              message: `evaluate baseline ${b.name}: cannot read run report ${f}: ${(e as Error).message}`,
            });
          }
          if (!Array.isArray(parsed.resolved_ids))
            throw ApplicationFailure.create({
              type: INVALID_SPEC,
              nonRetryable: true,
              message: `evaluate baseline ${b.name}: ${f} is not a SWE-bench run report (no resolved_ids)`,
            });
          theirs.push(new Set(parsed.resolved_ids.map(String)));
        }
        baselines.push({ name: b.name, ...compareWithBaseline(taskIds, resolvedSets, theirs) });
      }
      const summary: EvaluateSummary = {
        model: raw.model,
        policy: config.policy,
        tasks: taskIds.length,
        runs: runs.length,
        seeds: runs.map((r) => r.seed),
        resolved_rates: rates,
        mean: rates.length ? mean(rates) : 0,
        ci95: tInterval(rates),
        ci95_instances: bootstrapInterval(perInstance),
        per_instance: Object.fromEntries(taskIds.map((id) => [id, resolvedSets.filter((s) => s.has(id)).length])),
        baselines,
      };
      return EvaluateStageResult.parse({
        summary,
        runs,
        serving: raw.serving,
        artifacts: {
          summary: await store.put(
            `${raw.prefix}/summary.json`,
            JSON.stringify({ ...summary, serving: raw.serving }, null, 2) + '\n',
            { records: null }
          ),
          report: await store.put(`${raw.prefix}/report.md`, summaryMarkdown(summary, runs), { records: null }),
        },
      });
    },
  };
}

/** The evaluate stage activities' type. */
export type EvaluateStageActivities = ReturnType<typeof createEvaluateStageActivities>;
