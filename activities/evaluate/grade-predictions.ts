import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import type { EvalRunReport, EvalTask, GradedInstance, Prediction } from '../../contracts/evaluate';
import { checkName, modelNameProblem, unsafeName } from '../../contracts/safe-names';
import { loggerFor } from '../logger';
import { RunPipeline, type RunPipelineStats } from '../build/docker';
import { cacheable, cacheKey, GradeCache } from './grade-cache';
import {
  emptyPatchResult,
  gradeContainerRun,
  gradePatch,
  infraFailureResult,
  resolveImageId,
  type GradeRunOptions,
} from './grade-one';
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
  /**
   * Grading containers prepared ahead of their turn while others run (created, files copied in,
   * started with the script held, removed in the background; default: twice `concurrency`); 0 runs
   * each in turn without the pipeline (create, start, wait, remove: `runInContainer`).
   */
  ahead?: number;
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
  /** What the container pipeline did off the critical path (prepare and removal times); null with `ahead` 0. */
  pipeline: RunPipelineStats | null;
}

type CacheKey = ReturnType<typeof cacheKey>;

/** A prediction's outcome known without running anything, or the grading it needs. */
type Plan =
  | { p: Prediction; result: GradedInstance; reused: boolean; key: string | null }
  | { p: Prediction; task: EvalTask; patch: string; key: CacheKey };

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

  const imageIds = new Map<string, Promise<string | null>>();
  const plan = async (p: Prediction): Promise<Plan> => {
    const task = opts.tasks.get(p.instance_id);
    if (!task) throw new Error(`no task for prediction ${p.instance_id}`);
    if (isEmptyPatch(p.model_patch)) return { p, result: emptyPatchResult(p.instance_id), reused: false, key: null };
    const patch = p.model_patch!;
    const tag = imageTag(task);
    let imageId: string | null;
    try {
      if (!imageIds.has(tag)) imageIds.set(tag, resolveImageId(opts.docker, tag));
      imageId = await imageIds.get(tag)!;
    } catch (e) {
      return {
        p,
        result: infraFailureResult(p.instance_id, 'container_failed', (e as Error).message),
        reused: false,
        key: null,
      };
    }
    if (!imageId)
      return {
        p,
        result: infraFailureResult(p.instance_id, 'image_missing', `image ${tag} not found`),
        reused: false,
        key: null,
      };
    const k = cacheKey(task, patch, imageId);
    const hit = cache?.get(k.key) ?? null;
    if (hit && hit.instance_id === p.instance_id) {
      reusedIds.push(p.instance_id);
      return { p, result: hit, reused: true, key: k.key };
    }
    return { p, task, patch, key: k };
  };

  const finish = (p: Prediction, result: GradedInstance, reused: boolean, key: string | null): void => {
    if (result.outcome === 'infra_failure') log.warn({ instance: p.instance_id, reason: result.reason }, result.log);
    else log.debug({ instance: p.instance_id, outcome: result.outcome, reason: result.reason, reused }, 'graded');
    results.set(p.instance_id, result);
    const dir = join(opts.outDir, 'logs', 'run_evaluation', opts.runId, modelSlug(p.model_name_or_path), p.instance_id);
    writeInstanceFiles(dir, p, result, reused, key);
    opts.onResult?.(result, { reused, done: ++done, total: opts.predictions.length });
  };

  const gradeOne = async (x: Plan): Promise<void> => {
    if ('result' in x) return finish(x.p, x.result, x.reused, x.key);
    const result = await gradePatch(opts.docker, x.task, x.patch, opts.run, pipeline);
    graded++;
    const stored = cache !== null && cacheable(result);
    if (stored) cache.put(x.key.key, x.key.inputs, result);
    finish(x.p, result, false, stored ? x.key.key : null);
  };

  // Images and cache first (no container), so that the gradings can be announced in their order
  // and the next ones' containers prepared while others run.
  const plans: Plan[] = [];
  for (const p of opts.predictions) plans.push(await plan(p));
  const ahead = Math.max(0, opts.ahead ?? 2 * opts.concurrency);
  const pipeline =
    ahead === 0
      ? undefined
      : new RunPipeline(opts.docker, {
          ahead,
          ...(opts.run.signal ? { signal: opts.run.signal } : {}),
          logger: log,
        });
  let settled: PromiseSettledResult<void>[];
  try {
    for (const x of plans)
      if (!('result' in x)) pipeline?.announce(x.p.instance_id, gradeContainerRun(x.task, x.patch, opts.run));
    // Settle every grading before rethrowing (e.g. an abort): each removes its container first.
    settled = await Promise.allSettled(plans.map((x) => limit(() => gradeOne(x))));
  } finally {
    // Prepared containers not run, and the background removals: gone before this returns or throws.
    await pipeline?.close();
  }
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
  return {
    report,
    reportPath,
    results,
    reusedIds: reusedIds.sort(),
    wallMs: performance.now() - t0,
    pipeline: pipeline?.stats ?? null,
  };
}
