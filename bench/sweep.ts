/**
 * `npm run bench -- sweep`: a sweep of N arms (default 8) over a mine result of 1,000 generated
 * PRs (samples and task candidates), on the local Temporal dev server (`bash infra/dev.sh up
 * temporal`) with an in-process cpu worker. Reports:
 * - that each shared stage ran once (mine: once for the sweep; versus the same arms started
 *   directly with the same window, where every arm in the first window mines);
 * - history lengths and sizes against Temporal's warn limits, and any history-limit warning in
 *   the log of the server the bench used during the run (bench/server-log.ts: its own dev server's
 *   output with `--own-server`, `--server-log FILE`, or infra/dev.sh's log when that server is the
 *   one at TEMPORAL_ADDRESS; with none of them the bench refuses to start);
 * - the coordinator's overhead per arm: the same arms with every stage cached, as a sweep versus
 *   started directly by a client with the same concurrency (the reference, measured in the same run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pLimit from 'p-limit';
import {
  ExperimentSpec,
  SweepSpec,
  TASK_QUEUES,
  expandSweep,
  type ExperimentResult,
  type SweepResult,
} from '../contracts';
import { createWorkers } from '../workers/worker';
import { makeSweepRepo } from './sweep-repo';
import { startSweep } from '../cli/sweep';
import { formatTable, num } from './table';
import { startBenchDevServer, type BenchDevServer } from './dev-server';
import { historyWarnings, locateServerLog, logOffset, type ServerLog } from './server-log';

/** Temporal server defaults (dynamic config limit.historyCount.warn / limit.historySize.warn). */
const WARN_EVENTS = 10_240;
const WARN_BYTES = 10 * 1024 * 1024;

interface HistoryStat {
  workflowId: string;
  events: number;
  bytes: number;
}

async function historyStats(client: Client, query: string): Promise<HistoryStat[]> {
  const out: HistoryStat[] = [];
  for await (const w of client.workflow.list({ query })) {
    const d = await client.workflow.getHandle(w.workflowId, w.runId).describe();
    out.push({ workflowId: w.workflowId, events: d.historyLength, bytes: d.historySize ?? 0 });
  }
  return out;
}

export async function runSweepBench(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({
    args: argv,
    options: {
      prs: { type: 'string', default: '1000' },
      arms: { type: 'string', default: '8' },
      parallel: { type: 'string', default: '4' },
      'keep-temp': { type: 'boolean', default: false },
      'own-server': { type: 'boolean', default: false },
      'server-log': { type: 'string' },
    },
  });
  const prs = Number(o.prs);
  const armCount = Number(o.arms);
  const parallel = Number(o.parallel);
  if (!(prs > 0 && armCount >= 2 && armCount % 2 === 0 && parallel > 0)) {
    console.error('--prs N > 0, --arms an even number >= 2, --parallel K > 0');
    return 2;
  }
  if (o['own-server'] && o['server-log'] !== undefined) {
    console.error("--own-server and --server-log exclude each other: the bench reads its own server's log");
    return 2;
  }
  // The history-warning check reads the log of the server actually used; no log, no run.
  let own: BenchDevServer | undefined;
  const ownDir = o['own-server'] ? mkdtempSync(join(tmpdir(), 'bottega-bench-sweep-server-')) : undefined;
  try {
    let address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
    let serverLog: ServerLog;
    try {
      if (ownDir) {
        own = await startBenchDevServer(ownDir);
        address = own.address;
        serverLog = own.log;
      } else {
        serverLog = locateServerLog({
          address,
          serverLog: o['server-log'],
          home: resolve(process.env.BOTTEGA_HOME ?? '.bottega'),
          devPort: Number(process.env.BOTTEGA_TEMPORAL_PORT ?? 7233),
        });
      }
    } catch (e) {
      console.error((e as Error).message);
      return 3;
    }
    console.log(`Temporal at ${address}; server log ${serverLog.file} (${serverLog.origin})`);
    return await runSweepOn(address, serverLog, { prs, armCount, parallel, keepTemp: o['keep-temp'] ?? false });
  } finally {
    await own?.stop();
    if (ownDir && !o['keep-temp']) rmSync(ownDir, { recursive: true, force: true });
    else if (ownDir) console.log(`kept ${ownDir}`);
  }
}

/** The sweep bench against the server at `address`, whose log is `serverLog`. */
async function runSweepOn(
  address: string,
  serverLog: ServerLog,
  opts: { prs: number; armCount: number; parallel: number; keepTemp: boolean }
): Promise<number> {
  const { prs, armCount, parallel } = opts;
  const logStart = logOffset(serverLog);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address });
  } catch {
    console.error(`cannot reach Temporal at ${address}: run \`bash infra/dev.sh up temporal\` first`);
    return 3;
  }
  const client = new Client({ connection });
  const tmp = mkdtempSync(join(tmpdir(), 'bottega-bench-sweep-'));
  const tag = `b${Date.now().toString(36)}`;
  const native = await NativeConnection.connect({ address });
  const [worker] = await createWorkers({
    connection: native,
    capabilities: ['cpu'],
    env: { ...process.env, BOTTEGA_HOME: join(tmp, 'home') },
  });
  const running = worker!.run();
  try {
    let t = performance.now();
    const repo = join(tmp, 'repo');
    const { issuesFile } = makeSweepRepo(repo, prs);
    console.log(`generated ${prs} PRs in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const base = (store: string) => ({
      store: { uri: `file://${join(tmp, store)}` },
      mine: {
        sources: [{ type: 'git', repo: 'bench/sweep', path: repo, issues_file: issuesFile }],
        formats: ['python', 'general'],
      },
      mix: {
        seed: 1,
        sources: [
          { name: 'general_prs', from: 'mine.general' },
          { name: 'python_prs', from: 'mine.python' },
        ],
        stages: [
          { name: 'mt1', seq_len: 2048, sources: [{ source: 'general_prs' }] },
          { name: 'mt2', seq_len: 2048, sources: [{ source: 'python_prs' }] },
        ],
      },
    });
    const sweepOf = (id: string, store: string) =>
      SweepSpec.parse({
        id,
        base: base(store),
        grid: {
          'mix.seed': [1, 2],
          'mix.stages.1.sources.0.repeat': Array.from({ length: armCount / 2 }, (_, i) => i + 1),
        },
        max_parallel: parallel,
      });
    const runSweep = async (sweep: SweepSpec): Promise<SweepResult> => {
      await startSweep(client, sweep);
      return (await client.workflow.getHandle(sweep.id).result()) as SweepResult;
    };
    /** The same arms started straight from a client, `parallel` at a time: the reference. */
    const runDirect = async (sweep: SweepSpec, prefix: string): Promise<ExperimentResult[]> => {
      const limit = pLimit(parallel);
      return Promise.all(
        expandSweep(sweep).map((a) =>
          limit(async () => {
            const spec = ExperimentSpec.parse({ ...a.spec, id: a.id.replace(sweep.id, prefix), sweep_id: undefined });
            return (await client.workflow.execute('experimentWorkflow', {
              workflowId: spec.id,
              taskQueue: TASK_QUEUES.cpu,
              args: [spec],
            })) as ExperimentResult;
          })
        )
      );
    };
    const ranCount = (stages: { stages: Record<string, string> }[], stage: string) =>
      stages.filter((s) => s.stages[stage] === 'ran').length;

    // Cold: nothing cached. The sweep mines once; the direct starts mine in each arm of the first window.
    t = performance.now();
    const cold = await runSweep(sweepOf(`${tag}-sweep`, 'store-sweep'));
    const coldSweepS = (performance.now() - t) / 1000;
    t = performance.now();
    const direct = await runDirect(sweepOf(`${tag}-sweep`, 'store-direct'), `${tag}-direct`);
    const coldDirectS = (performance.now() - t) / 1000;
    const directStages = direct.map((r) => ({
      stages: Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, v.status])),
    }));
    if (cold.failed) throw new Error(`sweep arms failed: ${JSON.stringify(cold.arms.filter((a) => a.error))}`);

    // Warm: every stage cached, so what is left is coordination (the sweep) or none (direct).
    const warm: { sweep: number[]; direct: number[] } = { sweep: [], direct: [] };
    for (let r = 0; r < 2; r++) {
      t = performance.now();
      await runDirect(sweepOf(`${tag}-sweep`, 'store-sweep'), `${tag}-wd${r}`);
      warm.direct.push((performance.now() - t) / 1000);
      t = performance.now();
      const w = await runSweep(sweepOf(`${tag}-ws${r}`, 'store-sweep'));
      warm.sweep.push((performance.now() - t) / 1000);
      if (ranCount(w.arms, 'mix') || ranCount(w.arms, 'mine')) throw new Error('warm sweep ran a stage');
    }

    // Histories: every run of the sweeps and every arm.
    const hist = [
      ...(await historyStats(client, `SweepId = '${tag}-sweep' OR SweepId = '${tag}-ws0' OR SweepId = '${tag}-ws1'`)),
    ];
    const maxEvents = Math.max(...hist.map((h) => h.events ?? 0));
    const maxBytes = Math.max(...hist.map((h) => h.bytes));
    const sweepHist = hist.filter((h) => h.workflowId === `${tag}-sweep`);
    const warnings = historyWarnings(serverLog, logStart);

    const docs = (r: ExperimentResult) =>
      (r.stages.mine?.result as { summary?: { samples?: number; task_candidates?: number } }).summary;
    const mined = docs(direct[0]!);
    const minWarm = (xs: number[]) => Math.min(...xs);
    console.log(
      `\nsweep of ${armCount} arms (max_parallel ${parallel}) over ${prs} PRs → ${mined?.samples} samples, ` +
        `${mined?.task_candidates} task candidates; local Temporal dev server, 1 cpu worker, ${cpus().length} cores\n`
    );
    console.log(
      formatTable(
        ['measure', 'sweep', 'direct (reference)'],
        [
          ['mine stage executions (cold)', String(ranCount(cold.arms, 'mine')), String(ranCount(directStages, 'mine'))],
          ['mix stage executions (cold)', String(ranCount(cold.arms, 'mix')), String(ranCount(directStages, 'mix'))],
          ['wall time, cold (s)', num(coldSweepS), num(coldDirectS)],
          ['wall time, all cached (s, best of 2)', num(minWarm(warm.sweep), 2), num(minWarm(warm.direct), 2)],
          [
            'coordinator overhead per arm (ms)',
            num(((minWarm(warm.sweep) - minWarm(warm.direct)) / armCount) * 1000, 0),
            '0 (reference)',
          ],
        ]
      )
    );
    console.log(
      `\nhistories: ${hist.length} workflows (sweeps and arms); longest ${maxEvents} events (warn limit ${WARN_EVENTS}), ` +
        `largest ${(maxBytes / 1024).toFixed(0)} KiB (warn limit ${WARN_BYTES / 1024 / 1024} MiB); ` +
        `the cold sweep: ${sweepHist.map((h) => `${h.events} events`).join(', ')}`
    );
    console.log(
      `history-limit warnings in the server log (${serverLog.file}) during the run: ${warnings.length}` +
        warnings
          .slice(0, 5)
          .map((l) => `\n  ${l.slice(0, 300)}`)
          .join('')
    );
    const ok =
      ranCount(cold.arms, 'mine') === 1 &&
      ranCount(cold.arms, 'mix') === armCount &&
      maxEvents < WARN_EVENTS &&
      maxBytes < WARN_BYTES &&
      warnings.length === 0;
    console.log(ok ? '\nOK: each shared stage ran once, no history near its limits' : '\nFAILED: see above');
    return ok ? 0 : 1;
  } finally {
    worker!.shutdown();
    await running;
    await native.close();
    await connection.close();
    if (!opts.keepTemp) rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept ${tmp}`);
  }
}
