/**
 * `npm run bench -- dag`: one experiment, mine ∥ build → rollout, then mix from `mine.general` and
 * `rollout.pass`, run on the DAG (`schedule: dag`, the default: mine and build start together) and
 * as a chain (`schedule: chain`: one stage at a time, in the graph's order), `--rounds` times each
 * (default 2; the rounds alternate which mode goes first), in one bench run, through a real
 * Temporal server (the dev server at TEMPORAL_ADDRESS, or with `--own-server` one of the bench's
 * own) with a cpu and a docker worker, each in its own process as deployed (`--in-process`: both in
 * the bench's process, where the mine stage's CPU work shares one event loop with the docker
 * activities). Reports each run's wall time and each stage's start and end (from the experiment's
 * history: its child workflow's initiated and closed events, as offsets from the experiment's
 * start), the ratio chain/dag of the median wall times, the ratio the chain runs' stage times
 * predict for branches that do not compete for CPU (sum of the stage times over the graph's longest
 * path), whether mine and build overlapped in every DAG run, and that no stages overlapped in a
 * chain run.
 *
 * Inputs: mine reads a generated git repository (bench/sweep-repo.ts, `--prs` PRs); build and
 * rollout take the build fixtures' tasks (infra/fixtures/make-build-repos.ts, images built offline
 * from the fixture wheelhouse), rollout with the `replay-gold` policy (no LLM). Every measured run
 * has its own experiment id and `force`s every stage, so none takes a stage from the step cache. A
 * warm-up experiment (the same graph over a small repository, `--warmup-prs`, 0 for none) runs
 * first, so Docker's images, the wheelhouse and the workers' code paths are warm for all of them.
 *
 * Exit code: 0 ok, 1 a run failed or a check failed (mine and build did not overlap on the DAG, a
 * chain ran stages at once, a stage did not run), 2 bad flags, 3 a service is missing (Temporal,
 * Docker) or another live worker polls bottega's task queues on that server (use --own-server).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import {
  ExperimentSpec,
  TASK_QUEUES,
  type ExperimentResult,
  type ExperimentSpecInput,
  type StageName,
} from '../contracts';
import { stageGraph, type StageGraph } from '../contracts/dag';
import { makeBuildFixtures, writeTasksFile } from '../infra/fixtures/make-build-repos';
import { fixtureWheelhouse } from '../infra/fixtures/wheelhouse';
import { criticalPath, median, overlapS, stageSpans, type StageSpans } from './dag-timeline';
import { livePollers, startBenchWorkers } from './dag-workers';
import { startBenchDevServer, type BenchDevServer } from './dev-server';
import { makeSweepRepo } from './sweep-repo';
import { formatTable, num } from './table';
import { connectDocker } from './timing';

const STAGES: StageName[] = ['mine', 'build', 'rollout', 'mix'];
/** Build fixture tasks whose gold patch validates (one pytest, one unittest). */
const TASKS = ['acme__calc-1', 'acme__units-1'];

const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** One measured experiment. */
interface Measured {
  mode: 'dag' | 'chain';
  /** 1, 2, ...: each round runs both modes. */
  round: number;
  wallS: number;
  spans: StageSpans;
  statuses: Record<string, string>;
}

/**
 * Prints the table of `runs` (stage offsets from each experiment's start), the ratio chain/dag of
 * the median wall times, the ratio the chain runs' stage times predict for branches that do not
 * compete for CPU, and the checks; returns the exit code (1 when a check failed).
 */
function report(runs: Measured[], graph: StageGraph): number {
  const offsets = (m: Measured, s: StageName) => {
    const span = m.spans[s];
    return span ? `${num(span.start / 1000)}–${num(span.end / 1000)}` : '-';
  };
  console.log(
    formatTable(
      ['mode', 'round', 'wall s', ...STAGES.map((s) => `${s} s (start–end)`)],
      runs.map((m) => [m.mode, String(m.round), num(m.wallS), ...STAGES.map((s) => offsets(m, s))])
    )
  );
  const dags = runs.filter((m) => m.mode === 'dag');
  const chains = runs.filter((m) => m.mode === 'chain');
  const wall = (ms: Measured[]) => median(ms.map((m) => m.wallS));
  const paths = chains.map((m) => criticalPath(graph, m.spans));
  const longest = [...new Set(paths.map((p) => p.stages.join(' → ')))].join(' / ');
  console.log(
    `\nratio chain/dag (median wall time): ${num(wall(chains) / wall(dags), 2)} ` +
      `(${num(wall(chains))} s / ${num(wall(dags))} s)`
  );
  console.log(
    `the chain runs' stage times: ${num(median(paths.map((p) => p.sumS)))} s in all, ` +
      `${num(median(paths.map((p) => p.criticalS)))} s on the graph's longest path (${longest}): ` +
      `${num(median(paths.map((p) => p.sumS / p.criticalS)), 2)}, the ratio expected with the branches on cores of their own`
  );
  const mineBuild = dags.map((m) => overlapS(m.spans.mine, m.spans.build));
  const chainOverlap = chains.map((m) =>
    STAGES.flatMap((a, i) => STAGES.slice(i + 1).map((b) => overlapS(m.spans[a], m.spans[b]))).reduce(
      (x, y) => x + y,
      0
    )
  );
  const notRun = runs.flatMap((m) =>
    STAGES.filter((s) => m.statuses[s] !== 'ran').map((s) => `${m.mode} #${m.round} ${s}: ${m.statuses[s] ?? 'absent'}`)
  );
  const missing = runs.flatMap((m) =>
    STAGES.filter((s) => !Number.isFinite(m.spans[s]?.end)).map((s) => `${m.mode} #${m.round} ${s}`)
  );
  const allOverlap = mineBuild.every((x) => x > 0);
  console.log(
    `mine and build overlapped in the dag run${dags.length > 1 ? 's' : ''}: ${allOverlap ? 'yes' : 'no'} ` +
      `(${mineBuild.map((x) => `${num(x)} s`).join(', ')})`
  );
  console.log(
    `stages at once in the chain run${chains.length > 1 ? 's' : ''}: ` +
      (chainOverlap.some((x) => x > 0) ? `yes (${chainOverlap.map((x) => `${num(x)} s`).join(', ')})` : 'none')
  );
  if (notRun.length) console.log(`stages not run (cached or absent): ${notRun.join(', ')}`);
  if (missing.length) console.log(`stage children missing from the histories: ${missing.join(', ')}`);
  const ok = allOverlap && chainOverlap.every((x) => x === 0) && !notRun.length && !missing.length;
  console.log(ok ? '\nOK: the DAG ran mine and build side by side' : '\nFAILED: see above');
  return ok ? 0 : 1;
}

/** Runs the DAG benchmark; returns the exit code. */
export async function runDagBench(argv: string[]): Promise<number> {
  let o;
  try {
    o = parseArgs({
      args: argv,
      options: {
        prs: { type: 'string', default: '1500' },
        rollouts: { type: 'string', default: '4' },
        rounds: { type: 'string', default: '2' },
        'warmup-prs': { type: 'string', default: '20' },
        'in-process': { type: 'boolean', default: false },
        'own-server': { type: 'boolean', default: false },
        'keep-temp': { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const prs = Number(o.prs);
  const rollouts = Number(o.rollouts);
  const rounds = Number(o.rounds);
  const warmupPrs = Number(o['warmup-prs']);
  if (
    ![prs, rollouts, rounds].every((n) => Number.isInteger(n) && n > 0) ||
    !(Number.isInteger(warmupPrs) && warmupPrs >= 0)
  ) {
    console.error(
      '--prs, --rollouts and --rounds must be positive integers, --warmup-prs an integer >= 0 (0: no warm-up)'
    );
    return 2;
  }
  const docker = await connectDocker();
  if (!docker) return 3;

  const tmp = mkdtempSync(join(tmpdir(), 'bottega-bench-dag-'));
  let own: BenchDevServer | undefined;
  try {
    let address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
    if (o['own-server']) {
      try {
        own = await startBenchDevServer(tmp);
      } catch (e) {
        console.error((e as Error).message);
        return 3;
      }
      address = own.address;
    }
    let connection: Connection;
    try {
      connection = await Connection.connect({ address, connectTimeout: '5 seconds' });
    } catch {
      console.error(
        `cannot reach Temporal at ${address}: run \`bash infra/dev.sh up temporal\` first, or pass --own-server`
      );
      return 3;
    }
    try {
      const client = new Client({ connection });
      // Another worker on these queues could take the bench's tasks, with other code on another host.
      const others = (await livePollers(client)).map((p) => `${p.identity} on ${p.queue}`);
      if (others.length) {
        console.error(
          `other workers poll bottega's task queues at ${address} (${others.join(', ')}): they would take ` +
            "some of the bench's tasks; stop them, or pass --own-server"
        );
        return 3;
      }
      log(`Temporal at ${address}; temp ${tmp}`);
      return await runOn(client, address, tmp, {
        prs,
        rollouts,
        rounds,
        warmupPrs,
        inProcess: o['in-process'] ?? false,
      });
    } finally {
      await connection.close();
    }
  } finally {
    await own?.stop();
    if (!o['keep-temp']) rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept ${tmp}`);
  }
}

/** The bench against the server `client` talks to, with workers started here. */
async function runOn(
  client: Client,
  address: string,
  tmp: string,
  opts: { prs: number; rollouts: number; rounds: number; warmupPrs: number; inProcess: boolean }
): Promise<number> {
  const home = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
  const tag = `bdag${Date.now().toString(36)}`;

  // Inputs (not timed): the generated repositories for mine, the build fixtures, the wheelhouse.
  let t = performance.now();
  const repo = join(tmp, 'repo');
  const { issuesFile } = makeSweepRepo(repo, opts.prs);
  const warmRepo = join(tmp, 'warm-repo');
  const warm = opts.warmupPrs ? makeSweepRepo(warmRepo, opts.warmupPrs) : undefined;
  const fx = await makeBuildFixtures(join(tmp, 'fixtures'));
  const tasksFile = join(tmp, 'tasks.jsonl');
  writeTasksFile(tasksFile, fx.tasks, TASKS);
  const wheelhouse = fixtureWheelhouse(home);
  log(`inputs: ${opts.prs} generated PRs, tasks ${TASKS.join(', ')} in ${num((performance.now() - t) / 1000)} s`);

  const spec = (id: string, schedule: 'dag' | 'chain', minePath: string, issues: string): ExperimentSpecInput => ({
    id,
    store: { uri: `file://${join(tmp, 'artifacts')}` },
    schedule,
    force: [...STAGES],
    mine: {
      sources: [{ type: 'git', repo: 'bench/dag', path: minePath, issues_file: issues }],
      formats: ['general'],
    },
    build: {
      tasks: { files: [tasksFile] },
      repo_paths: Object.fromEntries(fx.repos.map((r) => [r.repo, r.path])),
      wheelhouse,
    },
    rollout: { policy: 'replay-gold', rollouts_per_task: opts.rollouts, concurrency: 2 },
    mix: {
      seed: 1,
      sources: [
        { name: 'general_prs', from: 'mine.general' },
        { name: 'traj_pass', from: 'rollout.pass' },
      ],
      stages: [
        { name: 'mt', seq_len: 2048, sources: [{ source: 'general_prs' }] },
        { name: 'sft', seq_len: 2048, pack: false, loss_mask: 'sft', sources: [{ source: 'traj_pass' }] },
      ],
    },
  });

  // Other work on the host skews the times: the report shows the load around the runs.
  const loadBefore = loadavg()[0];
  const workers = await startBenchWorkers(client, address, home, opts.inProcess);
  try {
    const run = async (s: ExperimentSpecInput, mode: 'dag' | 'chain'): Promise<Omit<Measured, 'round'>> => {
      const t0 = performance.now();
      const r = (await client.workflow.execute('experimentWorkflow', {
        workflowId: s.id,
        taskQueue: TASK_QUEUES.cpu,
        args: [s],
      })) as ExperimentResult;
      const wallS = (performance.now() - t0) / 1000;
      const history = await client.workflow.getHandle(s.id).fetchHistory();
      const statuses = Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, v.status]));
      log(`${s.id} (${mode}): ${num(wallS)} s, stages ${JSON.stringify(statuses)}`);
      return { mode, wallS, spans: stageSpans(history.events ?? [], s.id, STAGES), statuses };
    };

    if (warm) {
      t = performance.now();
      await run(spec(`${tag}-warmup`, 'dag', warmRepo, warm.issuesFile), 'dag');
      log(`warm-up experiment: ${num((performance.now() - t) / 1000)} s (not measured)`);
    }
    // Rounds alternate which mode goes first, so whatever drifts during the bench hits both alike.
    const runs: Measured[] = [];
    for (let r = 1; r <= opts.rounds; r++)
      for (const mode of r % 2 ? (['dag', 'chain'] as const) : (['chain', 'dag'] as const))
        runs.push({ ...(await run(spec(`${tag}-${mode}-${r}`, mode, repo, issuesFile), mode)), round: r });

    console.log(
      `\nmine (${opts.prs} generated PRs, general format) ∥ build (${TASKS.length} fixture tasks) → rollout ` +
        `(replay-gold, ${opts.rollouts} per task), then mix (mine.general + rollout.pass); ${opts.rounds} round(s); ` +
        `Temporal at ${address}, cpu + docker workers ${opts.inProcess ? 'in the bench process' : 'in two processes'}, ` +
        `${cpus().length} cores, 1-min load average ${num(loadBefore, 1)} before the bench's workers started, ` +
        `${num(loadavg()[0], 1)} at the end\n`
    );
    return report(runs, stageGraph(ExperimentSpec.parse(spec('graph', 'dag', repo, issuesFile))));
  } finally {
    await workers.stop();
  }
}
