/**
 * The suite's runner (`npm test` → infra/test.sh → here). Each test file runs under node's own
 * test runner in a process group of its own, with a hard wall-clock limit: on expiry the whole
 * group (the file's Temporal dev servers, workers and jobs included) is killed and the file counts
 * as failed, so the run can never wait forever. Every file's group is killed when it ends, too.
 *
 * The closing summary adds up node's per-file counts, lists every failed, timed-out and skipped
 * test or suite (a skipped suite counts as one, with its reason), and ends with the plain line
 * `tests: N passed, N failed, N skipped`. A skip is a failure unless BOTTEGA_TEST_ALLOW_MISSING is
 * set (test/helpers/prereq.ts).
 *
 *   node --import tsx test/run.ts [FILE|DIR ...]    default: test/unit then test/integration
 *
 * Environment: BOTTEGA_TEST_FILE_TIMEOUT_S (hard limit per file, default 900),
 * BOTTEGA_TEST_CONCURRENCY (unit files at once, default min(2, cores); integration files run one
 * at a time because they share Docker and Slurm).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseRecord, type FileCounts } from './helpers/test-record';

const ROOT = resolve(import.meta.dirname, '..');
const FILE_TIMEOUT_S = Number(process.env.BOTTEGA_TEST_FILE_TIMEOUT_S ?? 900);
const UNIT_CONCURRENCY = Number(process.env.BOTTEGA_TEST_CONCURRENCY ?? Math.min(2, availableParallelism()));
/** Per-test limit inside a file (node's own), below the hard per-file one. */
const TEST_TIMEOUT_MS = Math.min(600, FILE_TIMEOUT_S) * 1000;
const KILL_GRACE_MS = 10_000;
/** Process groups of the files running now. */
const running = new Set<number>();

/** Outcome of one file. */
interface FileResult {
  file: string;
  counts: FileCounts;
  timedOut: boolean;
  /** Exit code or signal of node's runner; null when it ran to completion normally. */
  crashed: string | null;
  seconds: number;
  output: string;
}

function testFiles(args: string[]): string[] {
  const roots = args.length ? args : ['test/unit', 'test/integration'];
  const out: string[] = [];
  for (const r of roots) {
    const abs = resolve(r);
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new Error(`test/run.ts: no such file or directory: ${r}`);
    }
    if (st.isDirectory())
      out.push(
        ...readdirSync(abs)
          .filter((f) => f.endsWith('.test.ts'))
          .sort()
          .map((f) => join(abs, f))
      );
    else out.push(abs);
  }
  return out;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** Runs one file in its own process group; `stream` writes its output live, else at the end. */
function runFile(file: string, recordDir: string, stream: boolean): Promise<FileResult> {
  const record = join(recordDir, `${relative(ROOT, file).replace(/[/\\]/g, '__')}.jsonl`);
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-force-exit',
      `--test-timeout=${TEST_TIMEOUT_MS}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(ROOT, 'test/helpers/record-reporter.mjs')}`,
      // a file, not /dev/null: newer nodes fsync a reporter's destination
      `--test-reporter-destination=${record}.out`,
      file,
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Without NODE_TEST_CONTEXT: the runner's own test (test/unit/test-runner.test.ts) runs it from a test.
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, BOTTEGA_TEST_RECORD: record },
    }
  );
  if (child.pid) running.add(child.pid);
  let output = '';
  const take = (chunk: Buffer) => {
    if (stream) process.stdout.write(chunk);
    else output += chunk.toString('utf8');
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    take(Buffer.from(`\n✖ ${relative(ROOT, file)}: still running after ${FILE_TIMEOUT_S} s: killing its processes\n`));
    killGroup(child.pid, 'SIGTERM');
    setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  }, FILE_TIMEOUT_S * 1000);
  return new Promise((done) => {
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      // Whatever the file started and left behind goes with it.
      killGroup(child.pid, 'SIGKILL');
      if (child.pid) running.delete(child.pid);
      let text = '';
      try {
        text = readFileSync(record, 'utf8');
      } catch {
        // killed before the reporter wrote anything
      }
      done({
        file,
        counts: parseRecord(text),
        timedOut,
        crashed: signal ? `signal ${signal}` : code !== 0 && code !== 1 ? `exit ${code}` : null,
        seconds: (Date.now() - started) / 1000,
        output,
      });
    });
  });
}

async function runAll(files: string[], concurrency: number, recordDir: string, onDone: (r: FileResult) => void) {
  const queue = [...files];
  const stream = concurrency === 1;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, files.length) }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) onDone(await runFile(f, recordDir, stream));
    })
  );
}

async function main(): Promise<number> {
  const files = testFiles(process.argv.slice(2));
  const unit = files.filter((f) => f.includes(join('test', 'unit')));
  const rest = files.filter((f) => !unit.includes(f));
  const recordDir = mkdtempSync(join(tmpdir(), 'bottega-test-'));
  const results: FileResult[] = [];
  const t0 = Date.now();
  const onDone = (r: FileResult) => {
    results.push(r);
    if (r.output) process.stdout.write(r.output);
    const c = r.counts;
    const state = r.timedOut
      ? 'TIMED OUT'
      : r.crashed || !c.complete
        ? 'CRASHED'
        : c.fail || c.cancelled
          ? 'FAILED'
          : 'ok';
    process.stdout.write(
      `▶ [${results.length}/${files.length}] ${relative(ROOT, r.file)}: ${state} · ${c.pass}/${c.tests} pass` +
        `${c.fail ? ` · ${c.fail} fail` : ''}${c.skipped ? ` · ${c.skipped} skipped` : ''} · ${r.seconds.toFixed(1)} s\n`
    );
  };
  await runAll(unit, UNIT_CONCURRENCY, recordDir, onDone);
  await runAll(rest, 1, recordDir, onDone);
  rmSync(recordDir, { recursive: true, force: true });
  return summarize(results, (Date.now() - t0) / 1000);
}

function summarize(results: FileResult[], seconds: number): number {
  const sum = (k: keyof Omit<FileCounts, 'complete' | 'skips' | 'failures'>) =>
    results.reduce((n, r) => n + r.counts[k], 0);
  const broken = results.filter((r) => r.timedOut || r.crashed || !r.counts.complete);
  const skips = results.flatMap((r) => r.counts.skips.map((s) => ({ ...s, file: relative(ROOT, r.file) })));
  const failures = results.flatMap((r) => r.counts.failures.map((name) => `${relative(ROOT, r.file)}: ${name}`));
  const skippedSuites = skips.filter((s) => s.suite).length;
  const allowMissing = !!process.env.BOTTEGA_TEST_ALLOW_MISSING;
  const failed = sum('fail') + sum('cancelled') + broken.length;
  const skipped = skips.length;
  const lines = ['', '══ summary ══'];
  for (const r of broken)
    lines.push(
      `✖ ${relative(ROOT, r.file)}: ${r.timedOut ? `timed out after ${FILE_TIMEOUT_S} s (BOTTEGA_TEST_FILE_TIMEOUT_S)` : `runner ended without a summary (${r.crashed ?? 'no closing counts'})`}`
    );
  for (const f of failures) lines.push(`✖ ${f}`);
  for (const s of skips) lines.push(`﹣ skipped ${s.suite ? 'suite' : 'test'} ${s.file}: ${s.name}: ${s.reason}`);
  if (skipped && !allowMissing)
    lines.push(
      `✖ ${skipped} skipped without BOTTEGA_TEST_ALLOW_MISSING: a skip is a failure in a full run (see test/helpers/prereq.ts)`
    );
  lines.push(
    `ℹ files ${results.length} (${broken.length} timed out or crashed)`,
    `ℹ tests ${sum('tests')}`,
    `ℹ suites ${sum('suites')}`,
    `ℹ pass ${sum('pass')}`,
    `ℹ fail ${sum('fail')}`,
    `ℹ cancelled ${sum('cancelled')}`,
    `ℹ skipped ${skipped} (${skippedSuites} suites, ${skipped - skippedSuites} tests)`,
    `ℹ todo ${sum('todo')}`,
    `ℹ duration_ms ${Math.round(seconds * 1000)}`,
    '',
    `tests: ${sum('pass')} passed, ${failed} failed, ${skipped} skipped`
  );
  process.stdout.write(lines.join('\n') + '\n');
  return failed > 0 || (skipped > 0 && !allowMissing) ? 1 : 0;
}

// A Ctrl-C or a CI kill takes the running file's group with it (its children are detached).
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    for (const pid of running) killGroup(pid, 'SIGKILL');
    process.exit(130);
  });

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
);
