import {
  WorkflowFailedError,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import {
  DagStatus,
  EXPERIMENT_ID_TAKEN,
  INVALID_SPEC,
  SA,
  STAGES,
  TASK_QUEUES,
  type ExperimentResult,
  type ExperimentSpec,
  type StageName,
} from '../contracts';
import type { ExperimentProgress } from '../workflows/experiment';
import { neededCapabilities } from './capabilities';
import { workflowUrl } from './client';
import { finalFromProgress, formatFinalStages, ProgressPrinter, renderProgress } from './progress';
import { watchWorkers } from './worker-check';

/**
 * Exit codes of `bottega run`. `warnings`: under `--strict`, the experiment completed but a stage
 * produced nothing (contracts/run-warnings.ts); distinct from `failed`.
 */
export const EXIT = { ok: 0, failed: 1, invalid: 2, unavailable: 3, warnings: 4 } as const;

/** Starts an experiment; returns its workflow handle. */
export async function startExperiment(client: Client, spec: ExperimentSpec) {
  return client.workflow.start('experimentWorkflow', {
    workflowId: spec.id,
    taskQueue: TASK_QUEUES.cpu,
    args: [spec],
    typedSearchAttributes: [
      { key: SA.ExperimentId, value: spec.id },
      ...(spec.sweep_id ? [{ key: SA.SweepId, value: spec.sweep_id }] : []),
    ],
    staticSummary: spec.description || `experiment ${spec.id}`,
  });
}

/** Runs an experiment (optionally waiting), printing progress to stderr. */
export async function runExperiment(
  client: Client,
  spec: ExperimentSpec,
  opts: {
    wait: boolean;
    json: boolean;
    out: (s: string) => void;
    err: (s: string) => void;
    /** Redraw progress in place; default: whether stderr is a terminal. */
    tty?: boolean;
    columns?: number;
    /**
     * Warn when no worker polls a task queue the spec needs (default true): at once, then, while
     * waiting, as a reminder under the progress lines until one starts.
     */
    checkWorkers?: boolean;
  }
): Promise<{ code: number; result?: ExperimentResult }> {
  let handle;
  try {
    handle = await startExperiment(client, spec);
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      const runId = await client.workflow
        .getHandle(spec.id)
        .describe()
        .then((d) => d.runId)
        .catch(() => undefined);
      opts.err(`experiment ${spec.id} is already running: ${workflowUrl(spec.id, runId)}`);
      return { code: EXIT.failed };
    }
    throw e;
  }
  opts.err(`started experiment ${spec.id} (run ${handle.firstExecutionRunId})`);
  opts.err(`Web UI: ${workflowUrl(spec.id, handle.firstExecutionRunId)}`);
  const waiting = opts.wait || opts.json;
  // Only the stages still to run need their workers (known once the progress query answers).
  let last: ExperimentProgress | undefined;
  const remaining = () => {
    const p = last;
    return p ? STAGES.filter((s) => ['pending', 'planning', 'running'].includes(p.stages[s] ?? '')) : undefined;
  };
  const watch =
    opts.checkWorkers === false
      ? undefined
      : watchWorkers(client, () => neededCapabilities(spec, remaining()), { err: opts.err });
  await watch?.ready;
  if (!waiting) {
    watch?.stop();
    return { code: EXIT.ok };
  }

  const follow = followProgress(client, handle, {
    ...opts,
    footer: () => watch?.lines() ?? [],
    onProgress: (p) => (last = p),
  });
  let result: ExperimentResult;
  try {
    result = (await handle.result()) as ExperimentResult;
  } catch (e) {
    watch?.stop();
    // The last frame goes before any message, so that a redraw never overwrites it.
    await follow.stop();
    const failure = experimentFailure(e, spec.id);
    if (!failure) throw e;
    opts.err(failure.message);
    for (const l of await finalStageLines(handle, last)) opts.err(l);
    return { code: failure.code };
  }
  watch?.stop();
  await follow.stop();
  return { code: EXIT.ok, result };
}

/**
 * What `run --wait` and `retry --wait` print when an experiment run fails: its innermost
 * application failure (the stage's own error, not "Child Workflow execution failed"), and the exit
 * code: 2 when the spec is at fault (InvalidSpec) or the experiment id belongs to another workflow
 * id, 1 otherwise. Undefined for errors that are not a workflow failure (the caller rethrows them).
 */
export function experimentFailure(e: unknown, id: string): { message: string; code: number } | undefined {
  if (!(e instanceof WorkflowFailedError)) return undefined;
  const cause = e.cause;
  let inner: unknown = cause;
  while (inner && !(inner instanceof ApplicationFailure) && (inner as Error).cause) inner = (inner as Error).cause;
  const af = inner instanceof ApplicationFailure ? inner : undefined;
  const invalid = af?.type === INVALID_SPEC || af?.type === EXPERIMENT_ID_TAKEN;
  return {
    message: `experiment ${id} failed: ${af?.message ?? cause?.message ?? e.message}`,
    code: invalid ? EXIT.invalid : EXIT.failed,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rejects after `ms`: a query to a closed workflow needs a worker to answer, which may be gone. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error('timed out')))]);

/**
 * Each stage's final status after a failed run, as lines for stderr ({@link formatFinalStages}):
 * from the workflow's memo `dag` (written when its graph settled), else from the `progress` answer
 * (`last`, or asked now; runs started before the DAG). Empty when neither can be read.
 */
export async function finalStageLines(handle: WorkflowHandle, last?: ExperimentProgress): Promise<string[]> {
  let status: Partial<Record<string, DagStatus>> | undefined;
  try {
    const memo = (await within(handle.describe(), 5000)).memo;
    const dag = z.record(z.string(), DagStatus).safeParse(memo?.dag);
    if (dag.success) status = dag.data;
  } catch {
    // The server is unreachable: fall back to what the progress query said last.
  }
  // The graph's edges (to say what a stage that never started reads): ask the closed run when the
  // caller has no progress answer (retry --wait); a worker answers from its history.
  const p = last ?? (await within(handle.query<ExperimentProgress>('progress'), 5000).catch(() => undefined));
  status ??= p ? finalFromProgress(p) : undefined;
  return status ? formatFinalStages(status, p?.needs ?? {}) : [];
}

/**
 * Polls the experiment's `progress` query and the running stage's own one every second and
 * draws {@link renderProgress} to stderr, with `footer()` (the missing-worker reminder) under it,
 * until `stop()`, which draws the final state once more.
 */
function followProgress(
  client: Client,
  handle: WorkflowHandle,
  opts: {
    err: (s: string) => void;
    tty?: boolean;
    columns?: number;
    footer: () => string[];
    onProgress: (p: ExperimentProgress) => void;
  }
): { stop(): Promise<void> } {
  const printer = new ProgressPrinter({
    tty: opts.tty ?? !!process.stderr.isTTY,
    write: opts.err,
    columns: opts.columns ?? process.stderr.columns,
  });
  // Last counts seen per stage, kept after the stage ends so its line still shows them.
  const details: Partial<Record<StageName, Record<string, unknown>>> = {};
  // Stages whose final counts were fetched after they ended.
  const settled = new Set<StageName>();
  const stageProgress = (workflowId: string, stage: StageName) =>
    within(client.workflow.getHandle(workflowId).query<Record<string, unknown>>('progress'), 5000).catch(
      () => details[stage]
    );
  // The last frame drawn: kept under the reminder while the query does not answer (no cpu worker).
  let frame: string[] = [];
  const tick = async () => {
    let p: ExperimentProgress;
    try {
      p = await within(handle.query<ExperimentProgress>('progress'), 5000);
    } catch (e) {
      printer.update([...frame, ...opts.footer()]);
      throw e;
    }
    opts.onProgress(p);
    for (const [stage, child] of Object.entries(p.children) as [StageName, string][]) {
      const status = p.stages[stage];
      // Drill into the running stage's own progress query for counts; once more when it has ended.
      if (status === 'running') details[stage] = await stageProgress(child, stage);
      else if ((status === 'completed' || status === 'failed' || status === 'cancelled') && !settled.has(stage)) {
        settled.add(stage);
        details[stage] = await stageProgress(child, stage);
      }
    }
    frame = renderProgress(p, details);
    printer.update([...frame, ...opts.footer()]);
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await sleep(1000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await tick().catch(() => undefined);
    },
  };
}
