import { WorkflowFailedError, WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { SA, TASK_QUEUES, type ExperimentResult, type ExperimentSpec } from '../contracts';
import type { ExperimentProgress } from '../workflows/experiment';
import { workflowUrl } from './client';

/** Exit codes of `bottega run`. */
export const EXIT = { ok: 0, failed: 1, invalid: 2, unavailable: 3 } as const;

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

/** Renders one line of live progress. */
export function progressLine(p: ExperimentProgress): string {
  return Object.entries(p.stages)
    .filter(([, s]) => s !== 'skipped')
    .map(([stage, s]) => `${stage}: ${s}`)
    .join('  ');
}

/** Counts from a stage's `progress` query (mine: repositories, PRs, samples; build: tasks). */
export function stageDetail(p: Record<string, unknown>): string {
  if (typeof p.repos === 'number')
    return `repositories ${String(p.reposDone)}/${p.repos}, PRs ${String(p.prsSeen)}, samples ${String(p.samples)}`;
  if (typeof p.candidates === 'number')
    return `tasks ${String(p.done)}/${p.candidates}, validated ${String(p.validated)}`;
  if (typeof p.rollouts === 'number') return `rollouts ${String(p.done)}/${p.rollouts}, passed ${String(p.passed)}`;
  return '';
}

/** Runs an experiment (optionally waiting), printing progress to stderr. */
export async function runExperiment(
  client: Client,
  spec: ExperimentSpec,
  opts: { wait: boolean; json: boolean; out: (s: string) => void; err: (s: string) => void }
): Promise<{ code: number; result?: ExperimentResult }> {
  let handle;
  try {
    handle = await startExperiment(client, spec);
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      opts.err(`experiment ${spec.id} is already running: ${workflowUrl(spec.id)}`);
      return { code: EXIT.failed };
    }
    throw e;
  }
  opts.err(`started experiment ${spec.id} (run ${handle.firstExecutionRunId})`);
  opts.err(`Web UI: ${workflowUrl(spec.id)}`);
  if (!opts.wait && !opts.json) return { code: EXIT.ok };

  let last = '';
  const timer = setInterval(() => {
    void (async () => {
      const p = await handle.query<ExperimentProgress>('progress');
      // Drill into the running stage's own progress query for counts.
      const child = p.current ? p.children[p.current] : undefined;
      const detail = child
        ? stageDetail(await client.workflow.getHandle(child).query<Record<string, unknown>>('progress'))
        : '';
      const line = progressLine(p) + (detail ? `  (${detail})` : '');
      if (line !== last) opts.err(`  ${line}`);
      last = line;
    })().catch(() => undefined);
  }, 1000);
  try {
    const result = (await handle.result()) as ExperimentResult;
    return { code: EXIT.ok, result };
  } catch (e) {
    if (e instanceof WorkflowFailedError) {
      const cause = e.cause;
      let inner: unknown = cause;
      while (inner && !(inner instanceof ApplicationFailure) && (inner as Error).cause) inner = (inner as Error).cause;
      const af = inner instanceof ApplicationFailure ? inner : undefined;
      opts.err(`experiment ${spec.id} failed: ${af?.message ?? cause?.message ?? e.message}`);
      return { code: af?.type === 'InvalidSpec' ? EXIT.invalid : EXIT.failed };
    }
    throw e;
  } finally {
    clearInterval(timer);
  }
}
