import { readFileSync } from 'node:fs';
import { Prediction } from '../../contracts/evaluate';
import { readJsonValues, zodMessage, type InputProblem } from './input-problems';

/** A prediction with where it came from. */
export interface LocatedPrediction {
  prediction: Prediction;
  /** `file:line` (or `file:[i]`) of the prediction. */
  at: string;
}

/** What {@link readPredictions} found. */
export interface PredictionsRead {
  predictions: LocatedPrediction[];
  /** Bad lines, duplicates and (unless allowed) unknown instance ids. */
  problems: InputProblem[];
  /** Predictions whose instance is not in the task set (graded nowhere; reported). */
  unknown: LocatedPrediction[];
}

/**
 * Reads predictions from JSONL (one per line), a JSON list, or a JSON object keyed by instance id
 * (SWE-bench's `preds.json`). Every bad line, every repeated `instance_id` (the first one is kept)
 * and every instance id not in `taskIds` is a problem located by file and line; unknown ids are also
 * returned in `unknown`, so a caller that allows them can still report them.
 */
export function readPredictions(file: string, taskIds: ReadonlySet<string>, text?: string): PredictionsRead {
  let body = text;
  if (body === undefined) {
    try {
      body = readFileSync(file, 'utf8');
    } catch (e) {
      return { predictions: [], unknown: [], problems: [{ file, where: '0', message: (e as Error).message }] };
    }
  }
  const { values, problems } = readJsonValues(file, body);
  const predictions: LocatedPrediction[] = [];
  const unknown: LocatedPrediction[] = [];
  const seen = new Map<string, string>();
  for (const v of values) {
    const raw =
      v.key !== undefined && v.value && typeof v.value === 'object' ? { instance_id: v.key, ...v.value } : v.value;
    const parsed = Prediction.safeParse(raw);
    if (!parsed.success) {
      problems.push({ file, where: v.where, message: `invalid prediction: ${zodMessage(parsed.error)}` });
      continue;
    }
    const p = parsed.data;
    const at = `${file}:${v.where}`;
    const first = seen.get(p.instance_id);
    if (first) {
      problems.push({ file, where: v.where, message: `duplicate instance_id ${p.instance_id} (first at ${first})` });
      continue;
    }
    seen.set(p.instance_id, at);
    if (!taskIds.has(p.instance_id)) {
      problems.push({ file, where: v.where, message: `unknown instance_id ${p.instance_id}: not in the task file` });
      unknown.push({ prediction: p, at });
      continue;
    }
    predictions.push({ prediction: p, at });
  }
  if (values.length === 0 && problems.length === 0) problems.push({ file, where: '1', message: 'no predictions' });
  return { predictions, problems, unknown };
}

/** Whether a prediction has no patch to grade (None, empty or blank). */
export function isEmptyPatch(patch: string | null): boolean {
  return patch === null || patch.trim() === '';
}
