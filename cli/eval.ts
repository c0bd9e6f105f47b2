import { cpus } from 'node:os';
import { resolve } from 'node:path';
import Docker from 'dockerode';
import { pino } from 'pino';
import { nameProblem, type EvalRunReport } from '../contracts';
import { evaluatePredictions, formatProblem, readEvalTasks, readPredictions } from '../activities/evaluate';

/** Flags of `bottega eval`. */
export interface EvalFlags {
  predictions: string;
  tasks: string;
  runId: string;
  out: string;
  concurrency?: number;
  timeoutS: number;
  cpus: number;
  memoryMb: number;
  pids: number;
  cache: boolean;
  allowUnknown?: boolean;
  json?: boolean;
}

/** Exit codes: 0 graded, 1 some instance could not be graded (infra failure), 2 bad input, 3 no Docker, 130 interrupted (Ctrl-C, SIGTERM). */
export const EVAL_EXIT = { ok: 0, infra: 1, invalid: 2, unavailable: 3, interrupted: 130 } as const;

/** Default predictions graded at once: 3/4 of the cores, at most 24 (SWE-bench's advice). */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(24, Math.floor(cpus().length * 0.75)));
}

/** One-paragraph summary of a run report. */
export function formatRunReport(r: EvalRunReport, path: string, wallMs: number): string {
  const pct = r.total_instances ? ((100 * r.resolved_instances) / r.total_instances).toFixed(1) : '0.0';
  return [
    `resolved ${r.resolved_instances}/${r.total_instances} (${pct}%) in ${(wallMs / 1000).toFixed(1)} s; ` +
      `cache: ${r.cache.reused} reused, ${r.cache.graded} graded`,
    `total ${r.total_instances} · submitted ${r.submitted_instances} · completed ${r.completed_instances} · ` +
      `resolved ${r.resolved_instances} · unresolved ${r.unresolved_instances} · empty patch ${r.empty_patch_instances} · ` +
      `error ${r.error_instances} · infra failure ${r.infra_failure_instances} · incomplete ${r.incomplete_ids.length}` +
      (r.unknown_ids.length ? ` · unknown ${r.unknown_ids.length}` : ''),
    ...Object.entries(r.failure_reasons).map(([id, why]) => `  ${id}: ${why}`),
    `strict check (not scored): ${r.strict_disagreements.count} verdict(s) differ from the official one` +
      (r.strict_disagreements.count ? ` (${r.strict_disagreements.ids.join(', ')})` : ''),
    `report: ${path}`,
  ].join('\n');
}

/**
 * `bottega eval`: grades a predictions file against validated task records with swebench 5.0.2's
 * verdict (bottega's strict check reported beside it), directly on the local Docker engine (no
 * Temporal). Input problems (bad lines, duplicates, unknown instance ids) are all printed as
 * `file:line: message` before anything runs, then exit 2.
 */
export async function evalCommand(
  o: EvalFlags,
  io: { out: (s: string) => void; err: (s: string) => void }
): Promise<number> {
  const problems: string[] = [];
  const numeric: [string, number, boolean][] = [
    ['--timeout-s', o.timeoutS, true],
    ['--cpus', o.cpus, false],
    ['--memory-mb', o.memoryMb, true],
    ['--pids', o.pids, true],
    ...(o.concurrency !== undefined ? [['--concurrency', o.concurrency, true] as [string, number, boolean]] : []),
  ];
  for (const [flag, v, int] of numeric) {
    if (!Number.isFinite(v) || v <= 0 || (int && !Number.isInteger(v)))
      problems.push(`${flag}: expected a positive ${int ? 'integer' : 'number'}`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(o.runId)) problems.push('--run-id: use letters, digits, ".", "_" and "-" only');
  else if (nameProblem(o.runId)) problems.push(`--run-id: ${nameProblem(o.runId)}`); // `.`, `..`: a directory
  const tasks = readEvalTasks(o.tasks);
  problems.push(...tasks.problems.map(formatProblem));
  const preds = readPredictions(o.predictions, new Set(tasks.tasks.keys()));
  const unknownIds = preds.unknown.map((u) => u.prediction.instance_id);
  const predProblems = o.allowUnknown
    ? preds.problems.filter((p) => !/^unknown instance_id /.test(p.message))
    : preds.problems;
  problems.push(...predProblems.map(formatProblem));
  if (problems.length) {
    for (const p of problems) io.err(p);
    io.err(`${problems.length} problem${problems.length > 1 ? 's' : ''}; nothing graded`);
    return EVAL_EXIT.invalid;
  }
  if (unknownIds.length) io.err(`warning: ${unknownIds.length} prediction(s) for unknown instances not graded`);

  const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
  try {
    await docker.ping();
  } catch (e) {
    io.err(`no Docker engine (${(e as Error).message}); start one with \`bash infra/dev.sh up docker\``);
    return EVAL_EXIT.unavailable;
  }
  const home = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
  const logger = pino(
    { level: process.env.BOTTEGA_LOG_LEVEL ?? 'warn', base: { service: 'bottega' } },
    pino.destination(2)
  );
  // Ctrl-C / SIGTERM: stop the grading containers (gradePatch kills and removes them on abort) and
  // exit 130; the instances already graded keep their files. A second signal quits at once.
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (abort.signal.aborted) process.exit(130);
    io.err(`${sig}: stopping the grading containers (again to quit at once)`);
    abort.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let r: Awaited<ReturnType<typeof evaluatePredictions>>;
  try {
    r = await evaluatePredictions({
      docker,
      tasks: tasks.tasks,
      predictions: preds.predictions.map((p) => p.prediction),
      unknownIds,
      outDir: resolve(o.out),
      runId: o.runId,
      cacheDir: o.cache ? resolve(home, 'eval-cache') : null,
      concurrency: o.concurrency ?? defaultConcurrency(),
      run: {
        timeoutMs: o.timeoutS * 1000,
        limits: { cpus: o.cpus, memoryMb: o.memoryMb, pids: o.pids },
        signal: abort.signal,
        labels: { 'bottega.eval-run': o.runId },
      },
      logger,
      onResult: (g, info) =>
        io.err(
          `[${info.done}/${info.total}] ${g.instance_id}: ${g.outcome}${g.reason ? ` (${g.reason})` : ''}${info.reused ? ' [cached]' : ''}`
        ),
    });
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    io.err(
      `interrupted: no container left running; the instances graded so far keep their files under ${resolve(o.out)} ` +
        `and the grade cache, so a rerun grades only the rest`
    );
    return EVAL_EXIT.interrupted;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (o.json) io.out(JSON.stringify(r.report, null, 2));
  else io.out(formatRunReport(r.report, r.reportPath, r.wallMs));
  return r.report.infra_failure_instances > 0 ? EVAL_EXIT.infra : EVAL_EXIT.ok;
}
