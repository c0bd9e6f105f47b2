import type Docker from 'dockerode';
import type { EvalTask, GradedInstance, GradeTimings } from '../../contracts/evaluate';
import type { TestScope } from '../../contracts/task';
import type { RunOptions, RunPipeline } from '../build/docker';
import {
  gradeRun,
  patchApplied,
  recordedTestScope,
  runTaskTests,
  taskRunOptions,
  type TestRunOptions,
  type TestRunTimings,
} from '../grading';
import { isEmptyPatch } from './predictions';
import { classify } from './reports';
import { imageTag } from './tasks';

/** Container settings of a grading run. */
export interface GradeRunOptions {
  timeoutMs: number;
  limits: { cpus: number; memoryMb: number; pids: number };
  /** Overrides the task's recorded test scope (benchmarks compare `files` with `suite`). */
  scope?: TestScope;
  /**
   * Cancellation: once aborted no grading container starts, a running one is killed and removed,
   * and {@link gradePatch} rejects with the signal's reason (never an infra failure).
   */
  signal?: AbortSignal;
  /** Extra labels of the grading containers (e.g. `bottega.eval-run`), to find them with `docker ps`. */
  labels?: Record<string, string>;
}

/** The result for a prediction with no patch: nothing runs. */
export function emptyPatchResult(instanceId: string): GradedInstance {
  return {
    instance_id: instanceId,
    outcome: 'empty_patch',
    reason: 'empty_patch',
    report: null,
    log: '',
    timings: null,
  };
}

/** The result when grading could not run (image missing, container failed). */
export function infraFailureResult(instanceId: string, reason: string, detail: string): GradedInstance {
  return { instance_id: instanceId, outcome: 'infra_failure', reason, report: null, log: detail, timings: null };
}

/**
 * The image id of `tag` on this engine, or null when the image is not there. The id is the
 * image's content digest, so it keys cached results on what was actually tested.
 */
export async function resolveImageId(docker: Docker, tag: string): Promise<string | null> {
  try {
    return (await docker.getImage(tag).inspect()).Id;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw e;
  }
}

/** The test run that grades `patch` on `task` (without a runner). */
export function gradeTestRun(task: EvalTask, patch: string, opts: GradeRunOptions): TestRunOptions {
  return {
    image: imageTag(task),
    task,
    config: task.install_config,
    scope: opts.scope ?? recordedTestScope(task),
    patch,
    timeoutMs: opts.timeoutMs,
    limits: opts.limits,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.labels ? { labels: opts.labels } : {}),
  };
}

/**
 * The container run of {@link gradePatch} for `patch` on `task` (timed, as gradePatch runs it):
 * what a {@link RunPipeline} is told to prepare ahead, keyed on the instance id.
 */
export function gradeContainerRun(task: EvalTask, patch: string, opts: GradeRunOptions): RunOptions {
  return taskRunOptions(gradeTestRun(task, patch, opts), true);
}

/**
 * Grades one non-empty patch in a fresh container of the task's image (no network, resource
 * limits): SWE-bench's apply fall-through, test files the patch touches reset to the base, the
 * test patch applied, the tests run (the task's test scope: the files `test_patch` touches, or the suite); then swebench 5.0.2's verdict ({@link gradeRun}: official
 * parser, `get_logs_eval`, `get_eval_tests_report`) with bottega's strict check beside it. A container that cannot be started or
 * fails under the run is an infra failure, not a verdict. With `pipeline`, the container is the one
 * it prepared for the instance id ({@link gradeContainerRun}), removed in the background.
 */
export async function gradePatch(
  docker: Docker,
  task: EvalTask,
  patch: string,
  opts: GradeRunOptions,
  pipeline?: RunPipeline
): Promise<GradedInstance> {
  const id = task.instance_id;
  if (isEmptyPatch(patch)) return emptyPatchResult(id);
  const cfg = task.install_config;
  let split: TestRunTimings | undefined;
  let log;
  try {
    const run = gradeTestRun(task, patch, opts);
    if (pipeline) run.runner = (o) => pipeline.run(id, o);
    log = await runTaskTests(docker, run, (t) => (split = t));
  } catch (e) {
    // A cancelled grading is no verdict and no infra failure: the cancellation propagates.
    opts.signal?.throwIfAborted();
    return infraFailureResult(id, 'container_failed', (e as Error).message);
  }
  const p0 = performance.now();
  const { report, official } = gradeRun({ task, patch, applied: patchApplied(log), log, parser: cfg.log_parser });
  const { outcome, reason } = classify(report, { valid: official.found, reason: official.reason });
  const parseMs = performance.now() - p0;
  const timings: GradeTimings = {
    container_start_ms: split?.containerStartMs ?? 0,
    patch_apply_ms: split?.patchApplyMs ?? 0,
    test_run_ms: split?.testRunMs ?? 0,
    teardown_ms: split?.teardownMs ?? 0,
    parse_ms: parseMs,
    total_ms: (split?.totalMs ?? 0) + parseMs,
  };
  return {
    instance_id: id,
    outcome,
    reason,
    report: outcome === 'error' ? null : report,
    log: log.output,
    timings,
  };
}
