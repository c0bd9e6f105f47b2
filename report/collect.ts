import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { SweepResult, type ExperimentResult } from '../contracts';
import type { ArmData, ExperimentData, ReportData } from './data';
import { dagData } from './dag-data';
import { experimentData } from './experiment-data';
import { artifactReader, type ArtifactReader } from './read-artifact';
import { runData, workflowInput } from './runs';
import { specData } from './spec-data';

/** Why no report can be made for a workflow id (the CLI prints the message and exits 1). */
export class ReportError extends Error {
  override name = 'ReportError';
}

const TYPES = { experimentWorkflow: 'experiment', sweepWorkflow: 'sweep' } as const;

/** Arm states whose experiment workflow completed (in this run of the sweep or an earlier one). */
const DONE_ARMS = new Set(['completed', 'reused']);

/**
 * Checks that `id` is a finished experiment or sweep and returns which. Throws ReportError when it
 * does not exist, has not completed, or is some other workflow.
 */
export async function reportKind(client: Client, id: string): Promise<'experiment' | 'sweep'> {
  let desc;
  try {
    desc = await client.workflow.getHandle(id).describe();
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new ReportError(`no workflow with id "${id}"`);
    throw e;
  }
  const kind = TYPES[desc.type as keyof typeof TYPES];
  if (!kind) throw new ReportError(`"${id}" is a ${desc.type}, not an experiment or a sweep`);
  if (desc.status.name !== 'COMPLETED')
    throw new ReportError(
      `${kind} "${id}" is ${desc.status.name.toLowerCase()}, not completed: a report needs its result`
    );
  return kind;
}

/** Gathers the report of a finished experiment or sweep (detected from the workflow type). */
export async function collectReport(client: Client, id: string, env: NodeJS.ProcessEnv = process.env) {
  return (await reportKind(client, id)) === 'sweep'
    ? collectSweep(client, id, env)
    : collectExperiment(client, id, env);
}

/**
 * One finished experiment workflow as report data: its result, mix manifests and train metrics,
 * plus what Temporal knows of it (its run and each stage's producing run, its spec).
 */
async function readExperiment(
  client: Client,
  id: string,
  env: NodeJS.ProcessEnv,
  read: ArtifactReader,
  warnings: string[]
): Promise<ExperimentData> {
  const result = (await client.workflow.getHandle(id).result()) as ExperimentResult;
  const data = await experimentData(result, read, warnings);
  data.run = await runData(client, id, undefined, env, warnings);
  for (const row of data.stages) {
    const p = result.stages[row.stage]?.producer;
    if (p) row.run = await runData(client, p.workflowId, p.runId, env, warnings);
  }
  try {
    const input = await workflowInput(client, id, data.run.runId || undefined);
    data.spec = specData(input, warnings, id);
    // The spec names what each edge of the graph carries, and gives the graph of runs without one.
    const dag = dagData(result, input);
    if (dag) data.dag = dag;
  } catch (e) {
    warnings.push(`${id}: cannot read its spec from the workflow history (${(e as Error).message})`);
  }
  return data;
}

/** Gathers one finished experiment: its stage results, mix manifests, train metrics, runs and spec. */
export async function collectExperiment(
  client: Client,
  id: string,
  env: NodeJS.ProcessEnv = process.env,
  read: ArtifactReader = artifactReader(env)
): Promise<ReportData> {
  const warnings: string[] = [];
  const experiment = await readExperiment(client, id, env, read, warnings);
  return { kind: 'experiment', id, experiment, warnings };
}

/** Gathers a finished sweep: its arms, and the experiment of each arm that completed. */
export async function collectSweep(
  client: Client,
  id: string,
  env: NodeJS.ProcessEnv = process.env,
  read: ArtifactReader = artifactReader(env)
): Promise<ReportData> {
  const parsed = SweepResult.safeParse(await client.workflow.getHandle(id).result());
  if (!parsed.success) throw new ReportError(`sweep "${id}" has a result of an unexpected shape`);
  const res = parsed.data;
  const warnings: string[] = [];
  const arms: ArmData[] = [];
  for (const a of res.arms) {
    const arm: ArmData = {
      index: a.index,
      id: a.id,
      name: a.name,
      params: a.params,
      state: a.state,
      eval_score: a.eval_score ?? null,
      error: a.error ?? null,
    };
    if (DONE_ARMS.has(a.state)) {
      try {
        arm.experiment = await readExperiment(client, a.id, env, read, warnings);
        arm.run = arm.experiment.run;
      } catch (e) {
        warnings.push(`arm "${a.name}" (${a.id}): cannot read its result (${(e as Error).message})`);
      }
    }
    // An arm that failed or never started: its run, if Temporal has one.
    if (!arm.run) {
      const r = await runData(client, a.id, undefined, env, []);
      if (r.start) arm.run = r;
    }
    arms.push(arm);
  }
  const { completed, reused, failed, runs } = res;
  const run = await runData(client, id, undefined, env, warnings);
  return { kind: 'sweep', id, sweep: { completed, reused, failed, runs }, run, arms, warnings };
}
