/**
 * `npm run bench -- mine --scale [--scale-sizes 1000,4000,16000]`: does the mine stage scale
 * linearly? For each size a git repository of that many PRs (and an issues file with one issue per
 * PR, each PR fixing one) is generated (bench/sweep-repo.ts), then mined through Temporal
 * (`mineRepoWorkflow` on the server at TEMPORAL_ADDRESS, a real cpu worker in a child process) twice:
 * with the issues-file cache (activities/mine/side-file-cache.ts) and without it, the previous
 * behaviour, as the reference measured in the same run. Each run is its own process, so its peak RSS
 * is its own. Prints ms/PR and peak RSS per size side by side.
 *
 * Targets: with the cache, ms/PR at every size within ±20% of the smallest size's, and peak RSS
 * flat (at most +20% over the smallest size's). Exit code: 0 targets met, 1 missed or a run
 * failed, 2 bad flags, 3 Temporal unreachable.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { makeSweepRepo } from './sweep-repo';
import { formatTable, num } from './table';

/** Prefix of the child's result line (the worker's log lines share its stdout). */
export const RESULT_MARK = 'mine-scale-result ';

/** What the parent passes to bench/mine-scale-run.ts. */
export interface ScaleRunInput {
  address: string;
  repo: string;
  issuesFile: string;
  prs: number;
  /** false: the issues-file cache holds nothing, every page re-reads the file (the reference). */
  cached: boolean;
  /** BOTTEGA_HOME of the worker; the store lives under it. */
  home: string;
  workflowId: string;
  pageSize?: number;
}

/** What a run prints. */
export interface ScaleRunResult {
  prs: number;
  ms: number;
  /** Highest RSS sampled every 20 ms while mining, MiB. */
  peakRssMb: number;
  /** RSS just before mining (worker up, workflow bundle built), MiB. */
  baseRssMb: number;
  /** The process's max RSS (getrusage), MiB: includes the workflow bundling at start-up. */
  maxRssMb: number;
  /** Times the issues file was read and validated. */
  issuesParses: number;
  pages: number;
}

/** Allowed deviation from the smallest size, for ms/PR and peak RSS. */
const TOLERANCE = 0.2;

function runChild(input: ScaleRunInput): Promise<ScaleRunResult> {
  const script = fileURLToPath(new URL('./mine-scale-run.ts', import.meta.url));
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', script, JSON.stringify(input)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BOTTEGA_LOG_LEVEL: process.env.BOTTEGA_LOG_LEVEL ?? 'warn' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code === 0 && line) resolveRun(JSON.parse(line.slice(RESULT_MARK.length)) as ScaleRunResult);
      else
        reject(
          new Error(
            `mine run of ${input.prs} PRs (${input.cached ? 'cached' : 'reference'}) failed (exit ${code}):\n` +
              out.split('\n').slice(-30).join('\n')
          )
        );
    });
  });
}

/** Parses `--scale-sizes`: positive integers, comma-separated, ascending. */
export function parseSizes(text: string): number[] {
  const sizes = text.split(',').map((s) => Number(s.trim()));
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`--scale-sizes: expected at least two positive integers like 1000,4000,16000, got ${text}`);
  return [...sizes].sort((a, b) => a - b);
}

/** Runs the scaling benchmark; returns the exit code. */
export async function runMineScaleBench(argv: string[]): Promise<number> {
  let flags;
  let sizes: number[];
  try {
    flags = parseArgs({
      args: argv,
      options: {
        scale: { type: 'boolean', default: true },
        'scale-sizes': { type: 'string', default: '1000,4000,16000' },
        'page-size': { type: 'string' },
        'keep-temp': { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
    sizes = parseSizes(flags['scale-sizes']);
    if (flags['page-size'] !== undefined && !(Number(flags['page-size']) >= 1))
      throw new Error('--page-size must be a positive integer');
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const pageSize = flags['page-size'] ? Number(flags['page-size']) : undefined;
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  try {
    const c = await Connection.connect({ address, connectTimeout: '5 seconds' });
    await c.close();
  } catch {
    console.error(`cannot reach Temporal at ${address}: run \`bash infra/dev.sh up temporal\` first`);
    return 3;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'bottega-bench-mine-scale-'));
  const tag = `ms${Date.now().toString(36)}`;
  const rows: { prs: number; cached: ScaleRunResult; reference: ScaleRunResult }[] = [];
  try {
    for (const prs of sizes) {
      const t = performance.now();
      const repo = join(tmp, `repo-${prs}`);
      // About 25 PRs per module: the files a PR touches stay the same size whatever the repository's.
      const { issuesFile } = makeSweepRepo(repo, prs, { modules: Math.max(40, Math.ceil(prs / 25)) });
      console.log(`${prs} PRs: generated in ${((performance.now() - t) / 1000).toFixed(1)} s; mining…`);
      const run = (cached: boolean) =>
        runChild({
          address,
          repo,
          issuesFile,
          prs,
          cached,
          home: join(tmp, `home-${prs}-${cached ? 'cached' : 'reference'}`),
          workflowId: `${tag}-${prs}-${cached ? 'cached' : 'reference'}`,
          pageSize,
        });
      // One at a time: concurrent runs would share the cores and blur both timings.
      const cached = await run(true);
      const reference = await run(false);
      console.log(
        `  cached ${num(cached.ms / prs, 2)} ms/PR, reference ${num(reference.ms / prs, 2)} ms/PR ` +
          `(${cached.pages} pages)`
      );
      rows.push({ prs, cached, reference });
    }
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  } finally {
    if (!flags['keep-temp']) rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept ${tmp}`);
  }

  const first = rows[0]!;
  const msPr = (r: ScaleRunResult) => r.ms / r.prs;
  const pct = (x: number, base: number) => `${x >= base ? '+' : ''}${num((x / base - 1) * 100, 0)}%`;
  console.log(
    `\nmine stage through Temporal (${address}), 1 in-process cpu worker per run, ${cpus().length} cores; ` +
      `issues file: one issue per PR; reference = the same run without the issues-file cache\n`
  );
  console.log(
    formatTable(
      [
        'PRs',
        'ms/PR cached',
        'vs smallest',
        'ms/PR reference',
        'vs smallest',
        'reference/cached',
        'peak RSS cached MiB',
        'vs smallest',
        'peak RSS reference MiB',
        'vs smallest',
        'issues parses cached/ref',
      ],
      rows.map((r) => [
        String(r.prs),
        num(msPr(r.cached), 2),
        pct(msPr(r.cached), msPr(first.cached)),
        num(msPr(r.reference), 2),
        pct(msPr(r.reference), msPr(first.reference)),
        `${num(msPr(r.reference) / msPr(r.cached), 2)}×`,
        num(r.cached.peakRssMb, 0),
        pct(r.cached.peakRssMb, first.cached.peakRssMb),
        num(r.reference.peakRssMb, 0),
        pct(r.reference.peakRssMb, first.reference.peakRssMb),
        `${r.cached.issuesParses}/${r.reference.issuesParses}`,
      ])
    )
  );
  const within = (x: number, base: number) => Math.abs(x / base - 1) <= TOLERANCE;
  const linear = rows.every((r) => within(msPr(r.cached), msPr(first.cached)));
  const flat = rows.every((r) => r.cached.peakRssMb <= first.cached.peakRssMb * (1 + TOLERANCE));
  console.log(
    `\nms/PR within ±${TOLERANCE * 100}% across sizes: ${linear ? 'yes' : 'NO'}; ` +
      `peak RSS flat (≤ +${TOLERANCE * 100}%): ${flat ? 'yes' : 'NO'}`
  );
  console.log(linear && flat ? 'OK: the mine stage scales linearly' : 'MISSED: see above');
  return linear && flat ? 0 : 1;
}
