import { z } from 'zod';
import type { ExperimentResult } from './results';

/**
 * Warnings about an experiment that completed but produced nothing somewhere: 0 PRs seen, a mix
 * source whose every record was invalid, every LLM enhancement call failed, 0 validated tasks,
 * 0 trajectories... Each is derived from a stage's own counts (its summary), never guessed, so a
 * stage reused from the step cache warns exactly as when it ran. Pure and deterministic: the
 * experiment workflow computes them into its result, and the CLI and the report recompute them
 * for results recorded before the workflow did.
 */

/** One warning: the stage, a stable code for scripts, and a sentence naming the counts. */
export const RunWarning = z.strictObject({
  stage: z.string(),
  code: z.string(),
  message: z.string(),
});
export type RunWarning = z.infer<typeof RunWarning>;

type Counts = Record<string, unknown>;

const obj = (v: unknown): Counts => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Counts) : {});
/** A count, or null when the field is absent (an older or foreign result shape: no warning from it). */
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** 12,345: thousands separators without Intl (this runs inside workflows too). */
const fmt = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** `reason 3, other 1`, largest first, from `{reason: n}` or `{reason: {documents: n}}` maps. */
function reasons(map: unknown): string {
  const entries = Object.entries(obj(map))
    .map(([k, v]) => [k, num(v) ?? num(obj(v).documents) ?? 0] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return entries.length ? entries.map(([k, n]) => `${k} ${fmt(n)}`).join(', ') : 'no reason recorded';
}

function mineWarnings(result: unknown): RunWarning[] {
  const s = obj(obj(result).summary);
  const out: RunWarning[] = [];
  const w = (code: string, message: string) => out.push({ stage: 'mine', code, message: `mine: ${message}` });
  const seen = num(s.prs_seen);
  const samples = num(s.samples);
  if (seen === 0)
    w(
      'no_prs',
      `0 PRs seen in ${fmt(num(s.repos) ?? 0)} repositories: check each source's repo, ref/path and max_prs ` +
        '(and, for GitHub, that the token can read the repository)'
    );
  else if (seen !== null && samples === 0)
    w('no_samples', `0 samples from ${fmt(seen)} PRs seen: every PR was dropped (${reasons(s.prs_dropped)})`);
  else if (samples !== null && samples > 0)
    for (const [name, f] of Object.entries(obj(s.formats)))
      if (num(obj(f).samples) === 0)
        w(
          'format_empty',
          `format ${name}: 0 samples (eligible ${fmt(num(obj(f).eligible) ?? 0)}; filtered: ${reasons(obj(f).filtered)}; ` +
            `dropped: ${reasons(obj(f).dropped)})`
        );
  const enhance = obj(s.enhance);
  const calls = num(enhance.calls);
  const failures = num(enhance.failures);
  if (calls !== null && calls > 0 && failures !== null && failures >= calls)
    w(
      'enhance_all_failed',
      `every LLM enhancement call failed (${fmt(failures)} of ${fmt(calls)}: ${reasons(enhance.failure_reasons)}); ` +
        'the samples keep their original text: check mine.enhance.endpoint, model and api_key_env'
    );
  return out;
}

function buildWarnings(result: unknown): RunWarning[] {
  const s = obj(obj(result).summary);
  const candidates = num(s.candidates);
  const kept = num(s.kept);
  if (candidates === 0)
    return [
      {
        stage: 'build',
        code: 'no_tasks',
        message:
          'build: 0 task records to build: the mine stage found no task candidates and/or the tasks.files are empty',
      },
    ];
  if (candidates !== null && kept === 0)
    return [
      {
        stage: 'build',
        code: 'no_valid_tasks',
        message: `build: 0 of ${fmt(candidates)} tasks validated (failures: ${reasons(s.failed)}); see the outcomes artifact`,
      },
    ];
  return [];
}

function rolloutWarnings(result: unknown): RunWarning[] {
  const s = obj(obj(result).summary);
  const tasks = num(s.tasks);
  const passed = num(s.passed);
  const failed = num(s.failed);
  if (tasks === 0)
    return [{ stage: 'rollout', code: 'no_tasks', message: 'rollout: 0 tasks to roll out (no validated tasks)' }];
  if (passed !== null && failed !== null && passed + failed === 0)
    return [
      {
        stage: 'rollout',
        code: 'no_trajectories',
        message:
          `rollout: 0 trajectories kept from ${fmt(num(s.rollouts) ?? 0)} rollouts of ${fmt(tasks ?? 0)} tasks ` +
          `(dropped: ${reasons(s.dropped)}; exits: ${reasons(s.exits)})`,
      },
    ];
  return [];
}

function mixWarnings(result: unknown): RunWarning[] {
  const s = obj(obj(result).summary);
  const out: RunWarning[] = [];
  const w = (code: string, message: string) => out.push({ stage: 'mix', code, message: `mix: ${message}` });
  for (const [name, src] of Object.entries(obj(s.sources))) {
    const c = obj(src);
    const docsIn = num(c.documents_in);
    const kept = num(c.documents_kept);
    const invalid = num(obj(obj(c.removed).invalid).documents) ?? 0;
    if (docsIn === 0) w('source_empty', `source "${name}" has no records: its input is empty`);
    else if (docsIn !== null && invalid === docsIn)
      w(
        'source_invalid',
        `every record of source "${name}" is invalid (${fmt(invalid)} of ${fmt(docsIn)}); ` +
          `the removal report lists each with its parse error: check the file and the source's format/text_field`
      );
    else if (docsIn !== null && kept === 0)
      w(
        'source_all_removed',
        `source "${name}": all ${fmt(docsIn)} records removed while cleaning (${reasons(c.removed)})`
      );
  }
  for (const [name, st] of Object.entries(obj(s.stages)))
    if (num(obj(st).sequences) === 0)
      w('stage_empty', `stage ${name}: 0 sequences (no document of its sources survived cleaning)`);
  return out;
}

function trainWarnings(result: unknown): RunWarning[] {
  const stages = obj(result).stages;
  const out: RunWarning[] = [];
  for (const st of Array.isArray(stages) ? stages : []) {
    const m = obj(obj(st).metrics_summary);
    if (num(m.steps) === 0)
      out.push({
        stage: 'train',
        code: 'no_steps',
        message: `train: stage ${String(obj(st).name)} (job ${String(obj(st).jobId)}) recorded 0 training steps`,
      });
  }
  return out;
}

function evaluateWarnings(result: unknown): RunWarning[] {
  const r = obj(result);
  const s = obj(r.summary);
  if (num(s.tasks) === 0) return [{ stage: 'evaluate', code: 'no_tasks', message: 'evaluate: 0 evaluation tasks' }];
  const out: RunWarning[] = [];
  for (const run of Array.isArray(r.runs) ? r.runs : []) {
    const x = obj(run);
    const total = num(x.total);
    if (total === null || total === 0) continue;
    if (num(x.error) === total)
      out.push({
        stage: 'evaluate',
        code: 'run_all_errors',
        message: `evaluate: run ${String(x.run)}: every one of ${fmt(total)} instances ended in an error (an infrastructure problem, not the model)`,
      });
    else if (num(x.submitted) === 0)
      out.push({
        stage: 'evaluate',
        code: 'run_no_patches',
        message: `evaluate: run ${String(x.run)}: no patch submitted for any of ${fmt(total)} instances`,
      });
  }
  return out;
}

const BY_STAGE: Record<string, (result: unknown) => RunWarning[]> = {
  mine: mineWarnings,
  build: buildWarnings,
  rollout: rolloutWarnings,
  mix: mixWarnings,
  train: trainWarnings,
  evaluate: evaluateWarnings,
};

/** The warnings of one stage's result (an unknown stage or shape gives none). */
export function stageWarnings(stage: string, result: unknown): RunWarning[] {
  // a named evaluation (`evaluate.<name>`) is checked as the evaluate stage
  return BY_STAGE[stage.split('.')[0]!]?.(result) ?? [];
}

/** The warnings of every stage outcome, in the order the stages ran. */
export function warningsOfStages(stages: ExperimentResult['stages']): RunWarning[] {
  return Object.entries(stages).flatMap(([stage, o]) => stageWarnings(stage, o.result));
}

/**
 * The warnings of a whole experiment: those its result carries, or, for a result recorded before
 * the workflow computed them, recomputed from its stages' counts.
 */
export function experimentWarnings(r: Pick<ExperimentResult, 'stages' | 'warnings'>): RunWarning[] {
  return r.warnings ?? warningsOfStages(r.stages);
}
