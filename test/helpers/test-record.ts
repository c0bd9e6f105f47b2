/** Reads what test/helpers/record-reporter.mjs wrote for one test file (JSONL), for test/run.ts. */

/** One skipped test or suite. */
export interface RecordedSkip {
  name: string;
  reason: string;
  suite: boolean;
}

/** Counts and names from one file's record. */
export interface FileCounts {
  /** Whether node's closing counts were there (its runner finished). */
  complete: boolean;
  tests: number;
  suites: number;
  pass: number;
  fail: number;
  cancelled: number;
  skipped: number;
  todo: number;
  /** Every skipped test and suite (a skipped suite's tests are not reported, so it counts as one). */
  skips: RecordedSkip[];
  /** Names of failed tests (not of suites that failed only because a test in them did). */
  failures: string[];
}

type Line =
  | { kind: 'result'; pass: boolean; name: string; suite: boolean; skip?: string; todo: boolean; parentOnly: boolean }
  | { kind: 'count'; message: string };

const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'] as const;

/** Parses one file's record; an empty or cut record gives `complete: false`. */
export function parseRecord(jsonl: string): FileCounts {
  const c: FileCounts = {
    complete: false,
    tests: 0,
    suites: 0,
    pass: 0,
    fail: 0,
    cancelled: 0,
    skipped: 0,
    todo: 0,
    skips: [],
    failures: [],
  };
  const seen = new Set<string>();
  for (const text of jsonl.split('\n')) {
    if (!text.trim()) continue;
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      continue; // a line cut by a kill
    }
    if (line.kind === 'count') {
      const [key, value] = line.message.split(' ');
      if ((COUNTS as readonly string[]).includes(key!) && /^\d+$/.test(value ?? '')) {
        c[key as (typeof COUNTS)[number]] = Number(value);
        seen.add(key!);
      }
    } else if (line.skip !== undefined) {
      c.skips.push({ name: line.name, reason: line.skip, suite: line.suite });
    } else if (!line.pass && !line.parentOnly && !line.todo) {
      c.failures.push(line.name);
    }
  }
  c.complete = COUNTS.every((k) => k === 'suites' || seen.has(k));
  return c;
}
