import type { TestStatus, TestStatusMap } from '../../../contracts/grading';
import { logLines, record } from './common';

const STATUS: Record<string, TestStatus> = {
  PASSED: 'PASSED',
  FAILED: 'FAILED',
  ERROR: 'ERROR',
  SKIPPED: 'SKIPPED',
  XFAIL: 'XFAIL',
  XPASS: 'PASSED',
};
const WORDS = 'PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS';

/** `path::test[param] PASSED (reason)   [ 42%]` — pytest `-v` progress lines. */
const VERBOSE = new RegExp(`^(\\S.*?::.*?) (${WORDS})(?: \\(.*\\))?(?:\\s+\\[\\s*\\d+%\\])?\\s*$`);
/** `[gw0] [ 50%] PASSED path::test` — pytest-xdist `-v` lines. */
const XDIST = new RegExp(`^\\[gw\\d+\\] \\[\\s*\\d+%\\] (${WORDS}) (\\S.*?)\\s*$`);
/** `FAILED path::test - message` — `-rA` short summary lines (and `ERROR path` for collection errors). */
const SUMMARY = new RegExp(`^(${WORDS}) (.+?)\\s*$`);
/** Longer lines are test output, not results (and would make the lazy patterns slow). */
const MAX_LINE = 10_000;

/** An id that does not end inside its parameter brackets. */
function closedId(s: string): boolean {
  return bracketsBalanced(s) && (!s.includes('[') || s.endsWith(']'));
}

function bracketsBalanced(s: string): boolean {
  let depth = 0;
  for (const c of s) {
    if (c === '[') depth++;
    else if (c === ']') depth--;
  }
  return depth === 0;
}

/** The prefixes of `rest` that end just before an occurrence of `sep`, shortest first. */
function cutsAt(rest: string, sep: string): string[] {
  const cuts: string[] = [];
  let at = rest.indexOf(sep);
  while (at >= 0) {
    cuts.push(rest.slice(0, at));
    at = rest.indexOf(sep, at + 1);
  }
  return cuts;
}

/**
 * Picks the test id from the rest of a summary line, which may end in ` - message` (or, for pytest
 * ≤ 7's `XPASS id reason`, in a bare reason). Ids may contain ` - ` and spaces themselves, so prefer
 * an id the verbose lines already reported, then the shortest with balanced brackets.
 */
function summaryId(rest: string, known: TestStatusMap, word: string): string {
  const cuts = cutsAt(rest, ' - ');
  if (word === 'XPASS' && cuts.length === 0) cuts.push(...cutsAt(rest, ' ').filter(closedId));
  cuts.push(rest);
  const knownCut = [...cuts].reverse().find((c) => c in known);
  if (knownCut !== undefined) return knownCut;
  return cuts.find(bracketsBalanced) ?? cuts[0]!;
}

/**
 * Parses pytest output: `-v` progress lines (with or without percent suffix, and pytest-xdist's form)
 * and `-rA` short-summary lines. Ids are kept exactly as printed (`tests/test_x.py::test_b[a b]`).
 * Summary `SKIPPED [n] file:line: reason` lines carry no id and are ignored; collection errors
 * (`ERROR tests/test_y.py`) are recorded under the file path. XPASS counts as PASSED.
 */
export function parsePytestLog(log: string): TestStatusMap {
  const map: TestStatusMap = {};
  for (const raw of logLines(log)) {
    const line = raw.trimEnd();
    if (line.length > MAX_LINE) continue;
    let m = XDIST.exec(line);
    if (m) {
      record(map, m[2]!, STATUS[m[1]!]!);
      continue;
    }
    m = SUMMARY.exec(line);
    if (m) {
      const [, word, rest] = m as unknown as [string, string, string];
      if (word === 'SKIPPED' && /^\[\d+\] /.test(rest)) continue;
      const id = summaryId(rest, map, word);
      if (id.includes('::') || /\.py$/.test(id)) record(map, id, STATUS[word]!);
      continue;
    }
    m = VERBOSE.exec(line);
    if (m) record(map, m[1]!, STATUS[m[2]!]!);
  }
  return map;
}
