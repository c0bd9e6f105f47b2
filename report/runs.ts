import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { workflowUrl } from '../cli/client';
import type { RunData } from './data';

/**
 * What a report asks Temporal about a workflow run besides its result: when it started and
 * closed (describe), its Web UI page, and the input it was started with (its first history event).
 */

/**
 * The run's dates and Web UI page. Without `runId`, the latest run of `workflowId`. A run Temporal
 * no longer has (retention) or cannot describe gets null dates and a warning.
 */
export async function runData(
  client: Client,
  workflowId: string,
  runId: string | undefined,
  env: NodeJS.ProcessEnv,
  warnings: string[]
): Promise<RunData> {
  const run: RunData = { workflowId, runId: runId ?? '', start: null, close: null, duration_ms: null, url: '' };
  try {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    run.runId = d.runId;
    run.start = d.startTime.toISOString();
    run.close = d.closeTime?.toISOString() ?? null;
    run.duration_ms = d.closeTime ? d.closeTime.getTime() - d.startTime.getTime() : null;
  } catch (e) {
    warnings.push(`cannot describe workflow ${workflowId}${runId ? ` run ${runId}` : ''}: ${(e as Error).message}`);
  }
  run.url = workflowUrl(workflowId, run.runId || undefined, env);
  return run;
}

/** The first argument a workflow run was started with, decoded by the client's data converter. */
export async function workflowInput(client: Client, workflowId: string, runId?: string): Promise<unknown> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  let payloads = (started?.input?.payloads ?? []) as Payload[];
  if (!payloads.length) return undefined;
  const dc = client.options.loadedDataConverter;
  for (const codec of [...dc.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  return dc.payloadConverter.fromPayload(payloads[0]!);
}
