import type { LossPoint } from './data';

/**
 * One step axis across training stages. Each trainer job numbers its steps from its own start;
 * a report draws them one after another: the first stage keeps its numbers, each later stage
 * starts at the step after the previous stage's last (mt1 1..N, mt2 N+1..N+M, sft after).
 */

/** Where one training stage sits on the shared axis. */
export interface StageSpan {
  name: string;
  /** Added to the stage's own step numbers. */
  offset: number;
  /** First and last step on the shared axis; null when the stage has no steps. */
  first: number | null;
  last: number | null;
}

/**
 * The spans of `stages` in order. A stage's steps are its curve's (lowest to highest step); a
 * stage without a curve but with a step count takes steps 1..count; one with neither takes no room.
 */
export function stageSpans(stages: { name: string; steps: number | null; curve: LossPoint[] }[]): StageSpan[] {
  let end: number | null = null; // last step on the shared axis so far
  return stages.map((s) => {
    let lo: number | null = null;
    let hi: number | null = null;
    for (const p of s.curve) {
      lo = lo === null ? p.step : Math.min(lo, p.step);
      hi = hi === null ? p.step : Math.max(hi, p.step);
    }
    if (lo === null && s.steps) [lo, hi] = [1, s.steps];
    if (lo === null || hi === null) return { name: s.name, offset: end ?? 0, first: null, last: null };
    const offset: number = end === null ? 0 : end + 1 - lo;
    end = offset + hi;
    return { name: s.name, offset, first: offset + lo, last: end };
  });
}

/** The stages' curves on the shared axis, with a boundary where each later stage starts. */
export function continuousCurves(
  stages: { name: string; steps: number | null; curve: LossPoint[] }[],
  prefix = ''
): { series: { name: string; points: { x: number; y: number }[] }[]; boundaries: { x: number; label: string }[] } {
  const spans = stageSpans(stages);
  return {
    series: stages
      .map((s, i) => ({
        name: `${prefix}${s.name}`,
        points: s.curve.map((p) => ({ x: p.step + spans[i]!.offset, y: p.loss })),
      }))
      .filter((s) => s.points.length),
    boundaries: spans
      .filter((s) => s.first !== null)
      .slice(1)
      .map((s) => ({ x: s.first!, label: `${prefix}${s.name}` })),
  };
}
