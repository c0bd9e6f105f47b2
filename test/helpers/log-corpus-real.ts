/**
 * The real-log corpus of the parity test: eval logs of real test suites (sympy, Django, requests,
 * flask, click) run in bottega-built containers, with the task lists derived from them. Read from
 * test/fixtures/real-logs/*.jsonl (made by infra/swebench/make-real-logs.ts; see the README there).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parserFamily } from '../../activities/grading/parsers/registry';
import type { RealLogItem } from '../../infra/swebench/make-real-logs';
import type { CorpusItem } from './log-corpus-common';

/** Where the corpus lives. */
export const REAL_LOGS_DIR = join(import.meta.dirname, '..', 'fixtures', 'real-logs');

/** Every item of every `*.jsonl` file, as {@link CorpusItem}s (scenario `<repo>:<scenario>`). */
export function loadRealCorpus(dir = REAL_LOGS_DIR): CorpusItem[] {
  const items: CorpusItem[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as RealLogItem;
      const parser = parserFamily(r.parser);
      if (!parser) throw new Error(`${file}: ${r.id}: unknown parser ${r.parser}`);
      items.push({
        id: r.id,
        scenario: `${r.repo}:${r.scenario}`,
        repo: r.repo,
        parser,
        officialParser: r.parser,
        output: r.log,
        exitCode: r.exit_code,
        timedOut: r.timed_out,
        patch: r.patch,
        FAIL_TO_PASS: r.FAIL_TO_PASS,
        PASS_TO_PASS: r.PASS_TO_PASS,
        traits: ['real'],
      });
    }
  }
  return items;
}
