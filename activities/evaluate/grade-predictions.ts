import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { EvalRunReport, EvalTask, GradedInstance, Prediction } from '../../contracts/evaluate';
import { checkName, modelNameProblem, unsafeName } from '../../contracts/safe-names';
import { loggerFor } from '../logger';
import { cacheable, cacheKey, GradeCache } from './grade-cache';
import { emptyPatchResult, gradePatch, infraFailureResult, resolveImageId, type GradeRunOptions } from './grade-one';
import { isEmptyPatch } from './predictions';
import { buildRunReport, instanceReportJson, modelSlug } from './reports';
import { imageTag } from './tasks';

/** Inputs of {@link evaluatePredictions}. */
export interface EvaluateOptions {
  docker: Docker;
  /** The evaluation set by instance id (the run report's denominator). */
  tasks: Map<string, EvalTask>;
  /** One prediction per instance, each for a task of `tasks`. */
  predictions: Prediction[];
  /** Predictions outside the task set, listed in the run report (only when the caller allows them). */
  unknownIds?: string[];
  /** Output root: `logs/run_evaluation/<run_id>/<model>/<instance_id>/` and `<model>.<run_id>.json`. */
  outDir: string;
  runId: string;
  /** Cache directory (`$BOTTEGA_HOME/eval-cache`), or null to grade everything afresh and store nothing. */
  cacheDir: string | null;
  /** Predictions graded at once (each in its own container). */
  concurrency: number;
  run: GradeRunOptions;
  logger?: Logger;
  /** Called as each prediction finishes. */
  onResult?: (r: GradedInstance, info: { reused: boolean; done: number; total: number }) => void;
}

/** What {@link evaluatePredictions} produced. */
export interface EvaluateResult {
  report: EvalRunReport;
  reportPath: string;
  /** Results by instance id. */
  results: Map<string, GradedInstance>;
  /** Ids whose result came from the cache. */
  reusedIds: string[];
  wallMs: number;
}

function writeInstanceFiles(dir: string, p: Prediction, r: GradedInstance, reused: boolean, key: string | null): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (p.model_patch !== null) writeFileSync(join(dir, 'patch.diff'), p.model_patch);
  if (r.log) writeFileSync(join(dir, r.outcome === 'infra_failure' ? 'infra_failure.txt' : 'test_output.txt'), r.log);
  if (r.report)
    writeFileSync(join(dir, 'report.json'), JSON.stringify(instanceReportJson(p.instance_id, r.report), null, 4));
  const lines = [
    `instance_id: ${p.instance_id}`,
    `outcome: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}`,
    `cache: ${key ? `${reused ? 'reused' : 'stored'} ${key}` : 'not cached'}`,
    ...(r.timings ? [`timings_ms: ${JSON.stringify(r.timings)}`] : []),
  ];
  writeFileSync(join(dir, 'run_instance.log'), `${lines.join('\n')}\n`);
}

/**
 * Refuses, before anything is graded or written, a run id, instance id or model name that would
 * not be one directory name under `outDir` (`..`, a `/`, …): an `UnsafeName` failure naming it.
 * Callers that read files report these by file and line first (contracts/safe-names.ts).
 */
function checkOutputNames(opts: EvaluateOptions): void {
  checkName('run id', opts.runId);
  for (const p of opts.predictions) {
    checkName('instance_id', p.instance_id);
    const m = modelNameProblem(p.model_name_or_path);
    if (m) throw unsafeName(`model_name_or_path of ${p.instance_id}`, m);
  }
}

/**
 * Grades `predictions` the way SWE-bench's harness does, with bounded concurrency, each in a fresh
 * container of its task's image. Results are keyed on (instance id, patch bytes, image id, task
 * test inputs, grading code version) in `cacheDir`, so a rerun — under any run id — reuses them and
 * starts no container for unchanged pairs. Writes per-instance `report.json`, `test_output.txt`,
 * `patch.diff` and `run_instance.log`, then the run report `<model>.<run_id>.json`.
 */
export async function evaluatePredictions(opts: EvaluateOptions): Promise<EvaluateResult> {
  checkOutputNames(opts);
  const t0 = performance.now();
  const log = opts.logger ?? loggerFor({ activity: 'evaluate', runId: opts.runId });
  const cache = opts.cacheDir ? new GradeCache(opts.cacheDir) : null;
  const limit = pLimit(Math.max(1, opts.concurrency));
  const results = new Map<string, GradedInstance>();
  const reusedIds: string[] = [];
  let graded = 0;
  let done = 0;

  const gradeOne = async (p: Prediction): Promise<void> => {
    const task = opts.tasks.get(p.instance_id);
    if (!task) throw new Error(`no task for prediction ${p.instance_id}`);
    let result: GradedInstance;
    let reused = false;
    let key: string | null = null;
    if (isEmptyPatch(p.model_patch)) result = emptyPatchResult(p.instance_id);
    else {
      const patch = p.model_patch!;
      let imageId: string | null = null;
      let infra: GradedInstance | null = null;
      try {
        imageId = await resolveImageId(opts.docker, imageTag(task));
        if (!imageId) infra = infraFailureResult(p.instance_id, 'image_missing', `image ${imageTag(task)} not found`);
      } catch (e) {
        infra = infraFailureResult(p.instance_id, 'container_failed', (e as Error).message);
      }
      if (infra || !imageId) result = infra!;
      else {
        const k = cacheKey(task, patch, imageId);
        key = cache ? k.key : null;
        const hit = cache?.get(k.key) ?? null;
        if (hit && hit.instance_id === p.instance_id) {
          result = hit;
          reused = true;
          reusedIds.push(p.instance_id);
        } else {
          result = await gradePatch(opts.docker, task, patch, opts.run);
          graded++;
          if (cache && cacheable(result)) cache.put(k.key, k.inputs, result);
          else key = null;
        }
      }
    }
    if (result.outcome === 'infra_failure') log.warn({ instance: p.instance_id, reason: result.reason }, result.log);
    else log.debug({ instance: p.instance_id, outcome: result.outcome, reason: result.reason, reused }, 'graded');
    results.set(p.instance_id, result);
    const dir = join(opts.outDir, 'logs', 'run_evaluation', opts.runId, modelSlug(p.model_name_or_path), p.instance_id);
    writeInstanceFiles(dir, p, result, reused, key);
    opts.onResult?.(result, { reused, done: ++done, total: opts.predictions.length });
  };

  // Settle every grading before rethrowing (e.g. an abort): each removes its container first.
  const settled = await Promise.allSettled(opts.predictions.map((p) => limit(() => gradeOne(p))));
  const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
  const report = buildRunReport({
    taskIds: [...opts.tasks.keys()],
    results,
    unknownIds: opts.unknownIds ?? [],
    cache: { reused: reusedIds.length, graded },
  });
  const model = modelSlug(opts.predictions[0]?.model_name_or_path ?? null);
  mkdirSync(opts.outDir, { recursive: true });
  const reportPath = join(opts.outDir, `${model}.${opts.runId}.json`);
  writeFileSync(reportPath, JSON.stringify(report, null, 4));
  return { report, reportPath, results, reusedIds: reusedIds.sort(), wallMs: performance.now() - t0 };
}
