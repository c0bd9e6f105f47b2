/**
 * `npm run bench -- rollout`: the rollout tool runtime (activities/rollout/tools) on the local Docker
 * engine, three figures:
 * 1. tool calls per second through one runtime for a mix of calls (bash `true`, bash `ls`,
 *    str_replace_editor `view` of a file), next to the same count of raw dockerode execs of `true`;
 * 2. median and p95 overhead per call: the runtime's bash `true` (one request on the container's
 *    persistent shell) vs the raw dockerode exec API vs the `docker exec <id> bash -lc true` CLI,
 *    measured interleaved in one container in the same run, and the ratio to the CLI (target ≥ 3×);
 * 3. concurrency: K runtimes at once (K = 1, 2, 4, 8, 16), each looping bash `true`; the per-call
 *    median and total calls/s at each K, the scaling efficiency (calls/s ÷ K × calls/s at K=1; near 1
 *    up to the core count is the target) and the largest K whose median stays under twice the K=1 median.
 *
 * The image is acme__calc-1's instance image from the build fixtures (bench/build.ts
 * {@link calcInstanceImage}), built once and then reused by content hash; it is left in place.
 * Every container the bench starts is removed at the end (runtimes closed, labelled leftovers swept).
 *
 * Exit code: 0 ok, 1 a step failed, 2 bad flags, 3 no Docker engine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import Docker from 'dockerode';
import {
  startContainerRuntime,
  sweepRolloutContainers,
  type AgentToolCall,
  type ToolRuntime,
} from '../activities/rollout/tools/index';
import { calcInstanceImage } from './build';
import { formatTable, num } from './table';
import { connectDocker, rawExec, stats, timeInterleaved, WARMUPS } from './timing';

const execFileP = promisify(execFile);

const LIMITS = { cpus: 1, memoryMb: 512, pids: 256 };
/** Marks this bench's runtimes so a crashed run's leftovers can be swept by label. */
const BENCH_LABEL = { 'bottega.bench': 'rollout' };
const RUNTIME_OPTS = { limits: LIMITS, network: false as const, commandTimeoutMs: 30_000, maxOutputChars: 10_000 };

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const since = (t0: number): number => (performance.now() - t0) / 1000;

let callSeq = 0;
const bash = (command: string): AgentToolCall => ({ id: `c${++callSeq}`, name: 'bash', arguments: { command } });
const view = (path: string): AgentToolCall => ({
  id: `c${++callSeq}`,
  name: 'str_replace_editor',
  arguments: { command: 'view', path },
});

/** Calls `c` and fails unless it exited 0. */
async function ok(rt: ToolRuntime, c: AgentToolCall): Promise<string> {
  const r = await rt.call(c);
  if (r.exitCode !== 0 || r.timedOut) throw new Error(`${c.name} ${JSON.stringify(c.arguments)}: ${r.output}`);
  return r.output;
}

/** The id of the runtime's container: the only running container of this bench besides `except`. */
async function containerOf(docker: Docker, except: Set<string>): Promise<Docker.Container> {
  const list = await docker.listContainers({
    filters: { label: Object.entries(BENCH_LABEL).map(([k, v]) => `${k}=${v}`) },
  });
  const fresh = list.filter((c) => !except.has(c.Id));
  if (fresh.length !== 1) throw new Error(`expected one new bench container, found ${fresh.length}`);
  return docker.getContainer(fresh[0]!.Id);
}

/** Runs the rollout benchmark; returns the exit code. */
export async function runRolloutBench(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string', default: '50' },
        mix: { type: 'string', default: '30' },
        'per-runtime': { type: 'string', default: '20' },
        ks: { type: 'string', default: '1,2,4,8,16' },
        'keep-temp': { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(String((e as Error).message));
    return 2;
  }
  const runs = Number(flags.runs);
  const mixRounds = Number(flags.mix);
  const perRuntime = Number(flags['per-runtime']);
  const ks = flags.ks.split(',').map(Number);
  if (![runs, mixRounds, perRuntime, ...ks].every((n) => Number.isInteger(n) && n > 0) || ks[0] !== 1) {
    console.error('--runs, --mix, --per-runtime and --ks (starting at 1) must be positive integers');
    return 2;
  }

  const docker = await connectDocker();
  if (!docker) return 3;
  const dockerCli = process.env.DOCKER_CLI ?? 'docker';
  const bottegaHome = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
  const tmp = mkdtempSync(join(tmpdir(), 'bottega-bench-rollout-'));
  const tStart = performance.now();
  const open: ToolRuntime[] = [];
  const start = async (image: string): Promise<ToolRuntime> => {
    const rt = await startContainerRuntime(docker, { image, ...RUNTIME_OPTS, labels: BENCH_LABEL });
    open.push(rt);
    return rt;
  };

  try {
    // Setup (not timed as a figure): the instance image, one runtime, a file to view.
    let t0 = performance.now();
    const { instanceTag } = await calcInstanceImage(docker, tmp, bottegaHome);
    log(`setup: image ${instanceTag} ready in ${num(since(t0), 1)} s`);
    t0 = performance.now();
    const rt = await start(instanceTag);
    const startS = since(t0);
    const container = await containerOf(docker, new Set());
    const file = (await ok(rt, bash('git ls-files | grep "\\.py$" | head -1'))).trim();
    if (!file) throw new Error('no .py file in /testbed');
    const viewPath = `/testbed/${file}`;
    log(`runtime up in ${num(startS, 2)} s (container ${container.id.slice(0, 12)}); viewing ${viewPath}`);

    // 1. throughput of a mix through one runtime, and raw exec API for the same number of calls.
    const mix = (): AgentToolCall[] => [bash('true'), bash('ls'), view(viewPath)];
    for (let i = 0; i < WARMUPS; i++) for (const c of mix()) await ok(rt, c);
    const perKind: number[][] = [[], [], []];
    t0 = performance.now();
    for (let i = 0; i < mixRounds; i++) {
      const calls = mix();
      for (let j = 0; j < calls.length; j++) {
        const t1 = performance.now();
        await ok(rt, calls[j]!);
        perKind[j]!.push(performance.now() - t1);
      }
    }
    const mixS = since(t0);
    const mixCalls = mixRounds * 3;
    t0 = performance.now();
    for (let i = 0; i < mixCalls; i++) await rawExec(container);
    const rawS = since(t0);
    log(`mix: ${mixCalls} calls in ${num(mixS, 2)} s; raw exec: ${num(rawS, 2)} s`);

    // 2. per-call overhead, interleaved.
    const [rtBash, raw, cli] = (await timeInterleaved(runs, [
      async () => void (await ok(rt, bash('true'))),
      () => rawExec(container),
      async () => void (await execFileP(dockerCli, ['exec', container.id, 'bash', '-lc', 'true'])),
    ])) as [number[], number[], number[]];
    log(`overhead: ${runs} rounds done`);

    // 3. concurrency: K runtimes at once (started in parallel, then all loop bash `true`).
    const conc: { k: number; ms: number[]; wallS: number; startS: number }[] = [];
    for (const k of ks) {
      t0 = performance.now();
      const rts = await Promise.all(Array.from({ length: k }, () => start(instanceTag)));
      const kStartS = since(t0);
      await Promise.all(rts.map(async (r) => ok(r, bash('true'))));
      const ms: number[] = [];
      t0 = performance.now();
      await Promise.all(
        rts.map(async (r) => {
          for (let i = 0; i < perRuntime; i++) {
            const t1 = performance.now();
            await ok(r, bash('true'));
            ms.push(performance.now() - t1);
          }
        })
      );
      const wallS = since(t0);
      conc.push({ k, ms, wallS, startS: kStartS });
      await Promise.all(rts.map((r) => r.close()));
      log(`K=${k}: p50 ${num(stats(ms).p50, 1)} ms, ${num((k * perRuntime) / wallS, 1)} calls/s`);
    }

    // Output.
    console.log(
      `\nrollout bench: image ${instanceTag}; limits ${LIMITS.cpus} cpu, ${LIMITS.memoryMb} MB per container; docker engine ${(await docker.version()).Version}\n`
    );
    console.log(`1. throughput in one runtime (${mixRounds} rounds of the mix, after ${WARMUPS} warmup rounds)`);
    const kindRow = (label: string, ms: number[]): string[] => {
      const s = stats(ms);
      return [label, String(ms.length), num(1000 / s.mean, 1), num(s.p50, 1), num(s.p95, 1)];
    };
    console.log(
      formatTable(
        ['calls', 'n', 'calls/s', 'p50 ms', 'p95 ms'],
        [
          ['mix: bash true + bash ls + editor view', String(mixCalls), num(mixCalls / mixS, 1), '-', '-'],
          kindRow('  bash true', perKind[0]!),
          kindRow('  bash ls', perKind[1]!),
          kindRow(`  str_replace_editor view ${file}`, perKind[2]!),
          ['reference: raw dockerode exec API `true`', String(mixCalls), num(mixCalls / rawS, 1), '-', '-'],
        ]
      )
    );
    console.log(`\n2. overhead per call, bash true (ms; ${runs} interleaved runs after ${WARMUPS} warmups)`);
    const row = (label: string, ms: number[]): string[] => {
      const s = stats(ms);
      return [label, num(s.mean, 1), num(s.p50, 1), num(s.p95, 1), num(s.p50 / stats(raw).p50, 2)];
    };
    console.log(
      formatTable(
        ['how', 'mean', 'p50', 'p95', 'p50 x raw'],
        [
          row('rollout runtime: bash `true`', rtBash),
          row('reference: dockerode exec API `true`', raw),
          row(`reference: ${dockerCli} exec <id> bash -lc true (CLI)`, cli),
        ]
      )
    );
    const vsCli = stats(cli).p50 / stats(rtBash).p50;
    const vsRaw = stats(raw).p50 / stats(rtBash).p50;
    console.log(
      `\nrollout runtime bash \`true\` p50 ${num(stats(rtBash).p50, 1)} ms: ${num(vsCli, 2)}x faster than the CLI (target >= 3x: ${vsCli >= 3 ? 'met' : 'NOT met'}), ${num(vsRaw, 2)}x faster than the raw exec API`
    );
    const base = stats(conc[0]!.ms).p50;
    const baseRate = perRuntime / conc[0]!.wallS;
    // Largest K before the first doubling (stop at the first K that doubles).
    let sustained = 1;
    for (const c of conc) {
      if (stats(c.ms).p50 >= 2 * base) break;
      sustained = c.k;
    }
    console.log(
      `\n3. concurrency: K runtimes at once, ${perRuntime} bash \`true\` calls each (ms per call; K runtimes started in parallel; scaling = calls/s ÷ (K × calls/s at K=1))`
    );
    console.log(
      formatTable(
        ['K', 'start s', 'p50', 'p95', 'p50 x K=1', 'calls/s total', 'scaling'],
        conc.map((c) => {
          const s = stats(c.ms);
          return [
            String(c.k),
            num(c.startS, 2),
            num(s.p50, 1),
            num(s.p95, 1),
            num(s.p50 / base, 2),
            num((c.k * perRuntime) / c.wallS, 1),
            num((c.k * perRuntime) / c.wallS / (c.k * baseRate), 2),
          ];
        })
      )
    );
    console.log(
      `\nsustained concurrent rollouts on this machine: K=${sustained} (largest K before the per-call median doubles vs K=1; ${ks.join(',')} tried; ${availableParallelism()} cores); total ${num(since(tStart), 0)} s`
    );
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  } finally {
    await Promise.all(open.map((r) => r.close().catch(() => {})));
    const swept = await sweepRolloutContainers(docker, 0, BENCH_LABEL).catch(() => []);
    if (swept.length) log(`cleanup: removed ${swept.length} leftover container(s)`);
    if (!flags['keep-temp']) rmSync(tmp, { recursive: true, force: true });
    else log(`temp files kept in ${tmp}`);
  }
}
