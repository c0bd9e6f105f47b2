import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { ExperimentSpec, STAGES, type StageName } from '../contracts';

/** Where `retryExperiment` reset an experiment. */
export interface RetryPoint {
  /** The stage, or `evaluate.<name>` for a named evaluation. */
  stage: string;
  /** The WorkflowTaskCompleted event the experiment was reset to. */
  eventId: number;
  /** The new run (same workflow id). */
  runId: string;
  /** The spec the experiment was started with (undefined when it cannot be read back). */
  spec?: ExperimentSpec;
}

type HistoryEvent = {
  eventId?: { toNumber(): number } | number | null;
  workflowExecutionStartedEventAttributes?: {
    input?: { payloads?: { data?: Uint8Array | null }[] | null } | null;
  } | null;
  workflowTaskCompletedEventAttributes?: unknown;
  activityTaskScheduledEventAttributes?: {
    activityType?: { name?: string | null } | null;
    input?: { payloads?: { data?: Uint8Array | null }[] | null } | null;
  } | null;
};

const idOf = (e: HistoryEvent) => (typeof e.eventId === 'number' ? e.eventId : (e.eventId?.toNumber() ?? 0));

/**
 * Replays a failed step of an experiment: resets the experiment's workflow to just before it
 * planned `stage` (default: the stage that failed; for runs before the DAG, the last stage it
 * planned). Every stage finished before that point keeps its result from history; `stage` is
 * planned again (so a fixed input or environment gives a new cache key) and runs as a new run of
 * `<id>/<stage>`, followed by the stages after it. On the DAG, a branch that was still going at
 * that point is planned again too, and a stage it had finished since comes from the step cache.
 * Same as the Web UI's Reset on that workflow task, or `temporal workflow reset --event-id`.
 */
export async function retryExperiment(client: Client, id: string, stage?: string): Promise<RetryPoint> {
  const handle = client.workflow.getHandle(id);
  const d = await handle.describe();
  if (d.type !== 'experimentWorkflow') throw new Error(`${id} is a ${d.type}, not an experiment`);
  if (d.status.name === 'RUNNING')
    throw new Error(
      `experiment ${id} is still running: wait for it, or cancel it first (bottega retry replays a closed run)`
    );
  if (d.status.name === 'COMPLETED' && !stage)
    throw new Error(`experiment ${id} completed: name the STAGE to run again from`);
  const history = await client.workflow.getHandle(id, d.runId).fetchHistory();
  const events = (history.events ?? []) as HistoryEvent[];
  let lastCompletedTask = 0;
  const planned: { stage: string; taskEventId: number }[] = [];
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) lastCompletedTask = idOf(e);
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityType?.name !== 'planStage') continue;
    const data = a.input?.payloads?.[0]?.data;
    const input = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { stage?: StageName; node?: string }) : {};
    if (input.stage && STAGES.includes(input.stage))
      planned.push({ stage: input.node ?? input.stage, taskEventId: lastCompletedTask });
  }
  // On the DAG several stages are planned side by side: the default is the stage that failed
  // (the run's memo `dag`), not merely the last one planned.
  const failed = (d.memo as { dag?: Record<string, string> } | undefined)?.dag;
  const failedStage = failed ? Object.keys(failed).find((s) => failed[s] === 'failed') : undefined;
  const want = stage ?? failedStage;
  const target = want ? planned.filter((p) => p.stage === want).at(-1) : planned.at(-1);
  if (!target)
    throw new Error(
      stage
        ? `experiment ${id} never reached the ${stage} stage (planned: ${planned.map((p) => p.stage).join(', ') || 'none'})`
        : `experiment ${id} failed before planning any stage: fix the spec and run it again`
    );
  const r = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId: id, runId: d.runId },
    reason: `bottega retry: replay the ${target.stage} stage`,
    workflowTaskFinishEventId: target.taskEventId as never,
    requestId: randomUUID(),
  });
  return { stage: target.stage, eventId: target.taskEventId, runId: r.runId ?? '', ...specOf(events) };
}

/** The experiment's spec, from its first event's input (JSON payloads, as bottega starts them). */
function specOf(events: HistoryEvent[]): { spec?: ExperimentSpec } {
  const data = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  if (!data) return {};
  try {
    const parsed = ExperimentSpec.safeParse(JSON.parse(Buffer.from(data).toString('utf8')));
    return parsed.success ? { spec: parsed.data } : {};
  } catch {
    return {};
  }
}
