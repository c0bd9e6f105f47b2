/** Shared pieces of the generated grading corpus (see {@link ./log-corpus}). */
import type { LogParserName } from '../../contracts/task';
import { Rng as BaseRng } from '../../bench/corpus';

/** Outcome a generated test is given; XPASS and `unexpected success` are kept apart from PASSED/FAILED. */
export type GenStatus = 'PASSED' | 'FAILED' | 'ERROR' | 'SKIPPED' | 'XFAIL' | 'XPASS';

/** One generated grading case: a whole eval log and the task lists it is graded against. */
export interface CorpusItem {
  id: string;
  /** Which generator scenario made it. */
  scenario: string;
  repo: string;
  /** bottega's parser. */
  parser: LogParserName;
  /** The official harness's parser for the same log (a key of swebench's `PARSER_REGISTRY`). */
  officialParser: string;
  /** The whole eval log, markers and exit-code line included. */
  output: string;
  /** The eval script's own exit code. */
  exitCode: number | null;
  timedOut: boolean;
  patch: string | null;
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  /** What the generator planted (`forged-exit-code`, `ansi`, `full-space-ids`, …), for the difference predicates. */
  traits: string[];
}

/** The benchmarks' seeded PRNG (mulberry32), plus subsets. */
export class Rng extends BaseRng {
  /** A random subset of `xs` of size `k` (order kept). */
  sample<T>(xs: readonly T[], k: number): T[] {
    const idx = xs.map((_, i) => i).sort(() => this.next() - 0.5);
    const keep = new Set(idx.slice(0, k));
    return xs.filter((_, i) => keep.has(i));
  }
}

export const WORDS = ['parse', 'render', 'merge', 'split', 'encode', 'load', 'save', 'query', 'index', 'fit', 'plot'];

/** Picks an outcome: mostly PASSED, with every other outcome represented. */
export function genStatus(rng: Rng, good: boolean): GenStatus {
  if (good) return rng.chance(0.9) ? 'PASSED' : 'XFAIL';
  return rng.pick<GenStatus>(['PASSED', 'PASSED', 'FAILED', 'FAILED', 'ERROR', 'SKIPPED', 'XFAIL', 'XPASS']);
}

/** Wraps a test section in eval.sh's markers and exit-code line. */
export function evalLog(body: string[], code: number, pre: string[] = []): string {
  return [
    '+ git checkout abc123 tests/',
    '>>>>> Applied Patch',
    ...pre,
    '>>>>> Start Test Output',
    ...body,
    '>>>>> End Test Output',
    `>>>>> Test Exit Code: ${code}`,
    '',
  ].join('\n');
}
