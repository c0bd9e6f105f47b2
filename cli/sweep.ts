import { dirname, isAbsolute, resolve } from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import {
  ExperimentSpec,
  SA,
  SweepSpec,
  TASK_QUEUES,
  describeIssues,
  expandSweep,
  type InputProblem,
  type SweepProgress,
  type SweepResult,
} from '../contracts';
import { mergeNeeds, neededCapabilities, type CapabilityNeeds } from './capabilities';
import { workflowUrl } from './client';
import { readSpecFile, validateSpec } from './spec-file';
import { watchWorkers } from './worker-check';

/** A loaded sweep: valid, with every arm's spec checked (paths resolved), or the problems. */
export type LoadedSweep = { ok: true; sweep: SweepSpec; arms: number } | { ok: false; problems: InputProblem[] };

/**
 * Reads a sweep file (YAML/JSON). `base` is an experiment spec inline or a file path (relative to
 * the sweep file); its relative paths resolve against its own file. Every arm is expanded and
 * validated here, so a bad arm is reported before anything starts.
 */
export function loadSweepFile(file: string): LoadedSweep {
  const read = readSpecFile(file);
  if (!read.ok) return read;
  const raw = read.value as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object') return { ok: false, problems: [{ path: file, message: 'expected a mapping' }] };
  const dir = dirname(resolve(file));
  let base = raw.base;
  let baseDir = dir;
  if (typeof base === 'string') {
    const baseFile = isAbsolute(base) ? base : resolve(dir, base);
    const b = readSpecFile(baseFile);
    if (!b.ok) return { ok: false, problems: b.problems.map((p) => ({ ...p, path: `base (${baseFile}): ${p.path}` })) };
    base = b.value;
    baseDir = dirname(baseFile);
  }
  if (base && typeof base === 'object') {
    // The arms get their own ids; a base file's id is only a default name for running it alone.
    const { id: _id, sweep_id: _s, ...rest } = base as Record<string, unknown>;
    // Resolve the base's relative paths once, against its own file.
    const checked = validateSpec({ ...rest, id: 'base' }, baseDir);
    if (!checked.ok) return { ok: false, problems: checked.problems.map((p) => ({ ...p, path: `base.${p.path}` })) };
    const { id: _i, ...resolved } = checked.spec as Record<string, unknown>;
    base = resolved;
  }
  const parsed = SweepSpec.safeParse({ ...raw, base });
  if (!parsed.success) return { ok: false, problems: describeIssues(parsed.error) };
  const sweep = parsed.data;
  let arms;
  try {
    arms = expandSweep(sweep);
  } catch (e) {
    return { ok: false, problems: [{ path: 'arms', message: (e as Error).message }] };
  }
  const problems: InputProblem[] = [];
  for (const a of arms) {
    const v = validateSpec(a.spec, baseDir);
    if (!v.ok)
      problems.push(...v.problems.map((p) => ({ path: `arm ${a.index} (${a.name}): ${p.path}`, message: p.message })));
  }
  return problems.length ? { ok: false, problems } : { ok: true, sweep, arms: arms.length };
}

/** One line of sweep progress: `8 arms — running 2, completed 3, waiting 3`. */
export function sweepProgressLine(p: SweepProgress): string {
  const parts = Object.entries(p.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`);
  return `${p.total} arms — ${parts.join(', ')}`;
}

/** The per-arm table printed when a sweep ends. */
export function formatSweepResult(r: SweepResult): string {
  const lines = [
    `sweep ${r.sweepId}: ${r.completed} completed, ${r.reused} reused, ${r.failed} failed (${r.runs} workflow run${r.runs === 1 ? '' : 's'})`,
  ];
  for (const a of r.arms) {
    const stages = Object.entries(a.stages)
      .map(([s, how]) => `${s}:${how}`)
      .join(' ');
    const score = a.eval_score === undefined ? '' : `  resolved ${(a.eval_score * 100).toFixed(1)}%`;
    lines.push(`  ${a.id}  ${a.state.padEnd(9)} ${a.name}${score}${stages ? `  [${stages}]` : ''}`);
    if (a.error) lines.push(`      error: ${a.error.split('\n').slice(0, 6).join('\n             ')}`);
  }
  if (r.failed) lines.push('Fix what failed and run the same sweep again: only the failed arms rerun.');
  return lines.join('\n');
}

/** Starts a sweep (workflow id = sweep id, on the cpu queue, tagged with its SweepId); returns its handle. */
export function startSweep(client: Client, sweep: SweepSpec) {
  return client.workflow.start('sweepWorkflow', {
    workflowId: sweep.id,
    taskQueue: TASK_QUEUES.cpu,
    args: [sweep],
    typedSearchAttributes: [{ key: SA.SweepId, value: sweep.id }],
    staticSummary: sweep.description || `sweep ${sweep.id}`,
  });
}

/** Starts (and with `wait`, follows) a sweep. Exit code: 0 ok, 1 some arm failed or already running. */
export async function runSweep(
  client: Client,
  sweep: SweepSpec,
  opts: {
    wait: boolean;
    json: boolean;
    out: (s: string) => void;
    err: (s: string) => void;
    /** Warn when no worker polls a task queue some arm needs (default true), and remind while waiting. */
    checkWorkers?: boolean;
  }
): Promise<number> {
  let handle;
  try {
    handle = await startSweep(client, sweep);
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      const runId = await client.workflow
        .getHandle(sweep.id)
        .describe()
        .then((d) => d.runId)
        .catch(() => undefined);
      opts.err(`sweep ${sweep.id} is already running: ${workflowUrl(sweep.id, runId)}`);
      return 1;
    }
    throw e;
  }
  opts.err(`started sweep ${sweep.id} (run ${handle.firstExecutionRunId})`);
  opts.err(`Web UI: ${workflowUrl(sweep.id, handle.firstExecutionRunId)}`);
  const waiting = opts.wait || opts.json;
  // Reminders are printed as lines of their own: the sweep's progress is not redrawn in place.
  const needs = sweepNeeds(sweep);
  const watch =
    opts.checkWorkers === false ? undefined : watchWorkers(client, () => needs, { err: opts.err, remind: true });
  await watch?.ready;
  if (!waiting) {
    watch?.stop();
    return 0;
  }
  let last = '';
  const timer = setInterval(() => {
    // The latest run (the sweep may have continued as new).
    void client.workflow
      .getHandle(sweep.id)
      .query<SweepProgress>('progress')
      .then((p) => {
        const line = sweepProgressLine(p);
        if (line !== last) opts.err(`  ${line}`);
        last = line;
      })
      .catch(() => undefined);
  }, 2000);
  try {
    const latest = client.workflow.getHandle(sweep.id);
    const result = (await latest.result()) as SweepResult;
    watch?.stop();
    // The sweep may have continued as new: link the run that finished it.
    const runId = await latest
      .describe()
      .then((d) => d.runId)
      .catch(() => undefined);
    if (runId && runId !== handle.firstExecutionRunId) opts.err(`Web UI (last run): ${workflowUrl(sweep.id, runId)}`);
    opts.out(opts.json ? JSON.stringify(result, null, 2) : formatSweepResult(result));
    return result.failed ? 1 : 0;
  } finally {
    watch?.stop();
    clearInterval(timer);
  }
}

/** The workers a sweep's arms need, together (arms that do not validate need none). */
export function sweepNeeds(sweep: SweepSpec): CapabilityNeeds {
  let arms;
  try {
    arms = expandSweep(sweep).map((a) => ExperimentSpec.safeParse(a.spec));
  } catch {
    // The sweep workflow reports the problem; its own workflow needs cpu all the same.
    return { cpu: ['workflows'] };
  }
  return mergeNeeds([{ cpu: ['workflows'] }, ...arms.flatMap((p) => (p.success ? [neededCapabilities(p.data)] : []))]);
}
