/**
 * `npm run bench -- eval`: standalone grading (activities/evaluate) on the local Docker engine.
 * A fixed set of graded instances — the gold patches of the build fixtures' acme__calc-1 (pytest)
 * and acme__units-1 (unittest), and of the scope fixtures' acme__geo-1 (pytest) and acme__clock-1
 * (unittest), whose suites hold a module no test patch touches — `--rounds` times each, is graded
 * with an empty cache at `--concurrency`, twice in the same run: file-scoped (`test_scope: files`,
 * the default: the test files `test_patch` touches) and whole-suite (`test_scope: suite`). It
 * prints instances graded per hour for both and the per-instance time split (file-scoped pass) into
 * container start, patch application, test run, teardown and parsing (mean, p50, p95). A last pass
 * over the file-scoped predictions with the cache on shows what a rerun costs.
 *
 * The file-scoped pass runs twice: with the container pipeline (the default: the next instances'
 * containers prepared while others run, removal in the background) and without it (`ahead` 0:
 * create, start, wait, remove in turn), and the split shows how much of an instance's time is
 * container start + teardown (target: at most 25%). The same predictions are then graded by a
 * docker-py peer replicating the official SWE-bench harness's per-instance steps (bench/eval_ref.py
 * through bench/eval-peer.ts, its logs graded by bottega's grader): once with the harness's steps
 * but an immediate `docker stop` (`--time=0`), and on `--shipped-rounds` rounds as the harness
 * ships (`docker stop --time=15`, which waits out the whole grace period, as `tail -f /dev/null`
 * ignores SIGTERM as PID 1). Instances/hour of each and bottega's ratio to each are printed.
 *
 * Instance images are built once (content-hash tags, so ones a test or run built are reused) and
 * left in place. Exit code: 0 ok, 1 a step failed or an instance did not resolve, 2 bad flags,
 * 3 no Docker engine, 4 the docker-py peer could not run (`--no-peer` skips it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type Docker from 'dockerode';
import { buildEnvImage, buildInstanceImage, ensureBaseImage } from '../activities/build/docker/index';
import { imageId } from '../activities/build/docker/build';
import { resolveRecipe } from '../activities/build/recipe';
import { evaluatePredictions, type EvaluateResult } from '../activities/evaluate';
import { EvalTask, type GradeTimings, type Prediction } from '../contracts/evaluate';
import { makeBuildFixtures } from '../infra/fixtures/make-build-repos';
import { makeScopeFixtures } from '../infra/fixtures/make-scope-repos';
import { fixtureWheelhouse } from '../infra/fixtures/wheelhouse';
import { ensurePeerPython, runPeer, type PeerRun } from './eval-peer';
import { formatTable, num } from './table';
import { connectDocker, stats } from './timing';

/** Fixture tasks that validate (one pytest, one unittest). */
export const EVAL_FIXTURE_IDS = ['acme__calc-1', 'acme__units-1'];
/** Scope fixture tasks (pytest, unittest) whose suites are larger than the files their test patch touches. */
export const SCOPE_FIXTURE_IDS = ['acme__geo-1', 'acme__clock-1'];

/** What {@link imageTasks} reads from a fixture set. */
interface FixtureSet {
  repos: { repo: string; path: string }[];
  tasks: {
    instance_id: string;
    repo: string;
    base_commit: string;
    patch: string;
    expected: { FAIL_TO_PASS?: string[]; PASS_TO_PASS?: string[] };
  }[];
}

/**
 * Builds (or reuses by content hash) the instance images of the valid build-fixture tasks and
 * returns them as validated task records — the shape of the build stage's `tasks` artifact, with
 * FAIL_TO_PASS / PASS_TO_PASS from the fixtures' expectations. Shared with test/integration/eval-cli.
 */
export async function fixtureEvalTasks(
  docker: Docker,
  tmp: string,
  bottegaHome: string,
  ids: string[] = EVAL_FIXTURE_IDS
): Promise<(EvalTask & { patch: string })[]> {
  return imageTasks(docker, await makeBuildFixtures(tmp), ids, bottegaHome);
}

/** {@link fixtureEvalTasks} for any fixture set. */
async function imageTasks(
  docker: Docker,
  fx: FixtureSet,
  ids: string[],
  bottegaHome: string
): Promise<(EvalTask & { patch: string })[]> {
  const out: (EvalTask & { patch: string })[] = [];
  for (const id of ids) {
    const task = fx.tasks.find((t) => t.instance_id === id);
    const repoPath = fx.repos.find((r) => r.repo === task?.repo)?.path;
    if (!task || !repoPath) throw new Error(`build fixtures lack ${id}`);
    const r = resolveRecipe({ task });
    if (!r.config) throw new Error(`${id}: ${r.reason}`);
    const baseTag = await ensureBaseImage(docker, r.config.python, { bottegaHome });
    const env = await buildEnvImage(docker, {
      baseTag,
      repo: task.repo,
      repoPath,
      envCommit: task.base_commit,
      config: r.config,
      wheelhouse: fixtureWheelhouse(bottegaHome),
      network: false,
    });
    const inst = await buildInstanceImage(docker, {
      envTag: env.tag,
      repo: task.repo,
      repoPath,
      baseCommit: task.base_commit,
      instanceId: id,
    });
    const { expected, ...record } = task;
    out.push({
      ...EvalTask.parse({
        ...record,
        FAIL_TO_PASS: expected.FAIL_TO_PASS ?? [],
        PASS_TO_PASS: expected.PASS_TO_PASS ?? [],
        image: { tag: inst.tag, id: (await imageId(docker, inst.tag)) ?? '' },
        install_config: r.config,
      }),
      patch: task.patch,
    });
  }
  return out;
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const PARTS: [keyof GradeTimings, string][] = [
  ['container_start_ms', 'container start'],
  ['patch_apply_ms', 'patch application'],
  ['test_run_ms', 'test run'],
  ['teardown_ms', 'teardown (exit + remove)'],
  ['parse_ms', 'parsing + grading'],
  ['total_ms', 'total per instance'],
];

/** Runs the eval benchmark; returns the exit code. */
export async function runEvalBench(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string', default: '5' },
        concurrency: { type: 'string', default: '2' },
        'keep-temp': { type: 'boolean', default: false },
        'no-peer': { type: 'boolean', default: false },
        'shipped-rounds': { type: 'string', default: '1' },
        python: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(String((e as Error).message));
    return 2;
  }
  const rounds = Number(flags.rounds);
  const concurrency = Number(flags.concurrency);
  const shippedRounds = Number(flags['shipped-rounds']);
  if (![rounds, concurrency].every((n) => Number.isInteger(n) && n > 0)) {
    console.error('--rounds and --concurrency must be positive integers');
    return 2;
  }
  if (!Number.isInteger(shippedRounds) || shippedRounds < 0 || shippedRounds > rounds) {
    console.error(`--shipped-rounds must be an integer from 0 to --rounds (${rounds})`);
    return 2;
  }
  let python: string | undefined;
  if (!flags['no-peer']) {
    const py = ensurePeerPython(flags.python);
    if (py.error) {
      console.error(`the docker-py peer cannot run: ${py.error} (--python PATH, or --no-peer)`);
      return 4;
    }
    python = py.python;
  }
  const docker = await connectDocker();
  if (!docker) return 3;
  const home = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
  const tmp = mkdtempSync(join(tmpdir(), 'bottega-bench-eval-'));
  try {
    const t0 = performance.now();
    const base = [
      ...(await fixtureEvalTasks(docker, join(tmp, 'fixtures'), home)),
      ...(await imageTasks(docker, await makeScopeFixtures(join(tmp, 'scope-fixtures')), SCOPE_FIXTURE_IDS, home)),
    ];
    log(`setup: ${base.length} instance images ready in ${num((performance.now() - t0) / 1000, 1)} s`);
    // Each round is its own instance id (same image and tests), so one predictions set holds them all.
    const tasksIn = (scope: 'files' | 'suite') => {
      const tasks = new Map<string, EvalTask>();
      for (let r = 0; r < rounds; r++) {
        for (const t of base)
          tasks.set(`${t.instance_id}.r${r}`, { ...t, instance_id: `${t.instance_id}.r${r}`, test_scope: scope });
      }
      return tasks;
    };
    const predictions: Prediction[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const t of base) {
        predictions.push({ instance_id: `${t.instance_id}.r${r}`, model_name_or_path: 'gold', model_patch: t.patch });
      }
    }
    const run = { timeoutMs: 300_000, limits: { cpus: 1, memoryMb: 1024, pids: 256 } };
    const common = { docker, predictions, outDir: join(tmp, 'out'), concurrency, run };
    const timed = async (scope: 'files' | 'suite', runId: string, cacheDir: string | null, ahead?: number) => {
      const s0 = performance.now();
      const r: EvaluateResult = await evaluatePredictions({
        ...common,
        tasks: tasksIn(scope),
        runId,
        cacheDir,
        ...(ahead !== undefined ? { ahead } : {}),
      });
      return { r, s: (performance.now() - s0) / 1000 };
    };
    const { r: cold, s: coldS } = await timed('files', 'cold', join(tmp, 'cache'));
    const { r: plain, s: plainS } = await timed('files', 'plain', null, 0);
    const { r: suite, s: suiteS } = await timed('suite', 'suite', join(tmp, 'cache-suite'));
    const { r: warm, s: warmS } = await timed('files', 'warm', join(tmp, 'cache'));
    let peer: PeerRun | undefined;
    let shipped: PeerRun | undefined;
    if (python) {
      const tasks = tasksIn('files');
      const items = predictions.map((p) => ({ task: tasks.get(p.instance_id)!, patch: p.model_patch! }));
      const peerOpts = { concurrency, timeoutMs: run.timeoutMs, dir: join(tmp, 'peer') };
      log(`docker-py peer: ${items.length} instances (docker stop --time=0) ...`);
      try {
        peer = runPeer(python, items, { ...peerOpts, stopTimeoutS: 0 });
        if (shippedRounds > 0) {
          const some = items.slice(0, shippedRounds * base.length);
          log(`docker-py peer as shipped: ${some.length} instances (docker stop --time=15) ...`);
          shipped = runPeer(python, some, { ...peerOpts, stopTimeoutS: 15 });
        }
      } catch (e) {
        console.error(`the docker-py peer failed: ${(e as Error).message}`);
        return 4;
      }
    }

    const n = predictions.length;
    const timingsOf = (r: EvaluateResult): GradeTimings[] =>
      [...r.results.values()].map((g) => g.timings).filter((t): t is GradeTimings => t !== null);
    const perHour = (count: number, s: number): number => (count / s) * 3600;
    console.log(
      `eval bench: ${n} graded instances (${base.map((t) => t.instance_id).join(', ')} gold × ${rounds}), ` +
        `concurrency ${concurrency}\n`
    );
    const row = (label: string, count: number, s: number, resolved: number, containers: number): string[] => [
      label,
      String(count),
      num(s, s < 1 ? 2 : 1),
      num(perHour(count, s), 0),
      String(resolved),
      String(containers),
    ];
    const peerRows = (p: PeerRun | undefined, label: string, count: number): string[][] =>
      p ? [row(label, count, p.wallS, p.resolved, count)] : [];
    console.log(
      formatTable(
        ['pass', 'instances', 'wall s', 'instances/hour', 'resolved', 'containers run'],
        [
          row(
            'cold, file-scoped (default: pipelined)',
            n,
            coldS,
            cold.report.resolved_instances,
            cold.report.cache.graded
          ),
          row(
            'cold, file-scoped, no pipeline (ahead 0)',
            n,
            plainS,
            plain.report.resolved_instances,
            plain.report.cache.graded
          ),
          row('cold, whole suite', n, suiteS, suite.report.resolved_instances, suite.report.cache.graded),
          row('rerun (cache hit)', n, warmS, warm.report.resolved_instances, warm.report.cache.graded),
          ...peerRows(peer, `docker-py harness peer (stop --time=0)`, n),
          ...peerRows(
            shipped,
            `docker-py harness peer as shipped (stop --time=15)`,
            shipped ? shippedRounds * base.length : 0
          ),
        ]
      )
    );
    if (peer)
      console.log(
        `\nbottega (pipelined) vs docker-py harness peer: ${num(perHour(n, coldS) / perHour(n, peer.wallS), 2)}× instances/hour` +
          (shipped
            ? `; vs the peer as shipped: ${num(perHour(n, coldS) / perHour(shippedRounds * base.length, shipped.wallS), 1)}×`
            : '') +
          ` (docker-py ${peer.dockerPy}; figures indicative on a shared, loaded machine)`
      );
    const splits: [string, GradeTimings[]][] = [
      ['pipelined', timingsOf(cold)],
      ['no pipeline', timingsOf(plain)],
      ...(peer ? [['docker-py peer', peer.timings] as [string, GradeTimings[]]] : []),
    ];
    console.log(
      '\nper-instance time split (cold file-scoped passes, ms; mean / p50 / p95, share of the mean total):\n'
    );
    console.log(
      formatTable(
        ['part', ...splits.map(([name]) => name)],
        PARTS.map(([k, label]) => [
          label,
          ...splits.map(([, ts]) => {
            const s = stats(ts.map((t) => t[k]));
            const total = stats(ts.map((t) => t.total_ms)).mean;
            return `${num(s.mean, 0)} / ${num(s.p50, 0)} / ${num(s.p95, 0)}  ${num((100 * s.mean) / total, 1)}%`;
          }),
        ])
      )
    );
    const share = (ts: GradeTimings[]): number => {
      const m = (k: keyof GradeTimings): number => stats(ts.map((t) => t[k])).mean;
      return (100 * (m('container_start_ms') + m('teardown_ms'))) / m('total_ms');
    };
    for (const [name, ts] of splits)
      console.log(`container start + teardown, ${name}: ${num(share(ts), 1)}% of per-instance time`);
    console.log(`target (pipelined): at most 25% — ${share(timingsOf(cold)) <= 25 ? 'met' : 'NOT met'}`);
    const ps = cold.pipeline;
    if (ps)
      console.log(
        `off the critical path (pipelined): ${ps.prepared} containers prepared, ${num(stats(ps.prepareMs).mean, 0)} ms mean ` +
          `(create + copy + attach + start); ${ps.removeMs.length} removed in the background, ${num(stats(ps.removeMs).mean, 0)} ms mean`
      );
    const ok =
      cold.report.resolved_instances === n &&
      plain.report.resolved_instances === n &&
      suite.report.resolved_instances === n &&
      warm.report.resolved_instances === n &&
      warm.report.cache.graded === 0 &&
      (!peer || peer.resolved === n) &&
      (!shipped || shipped.resolved === shippedRounds * base.length);
    if (!ok)
      log(
        `unexpected: ${JSON.stringify(cold.report.failure_reasons)} / no pipeline ${JSON.stringify(plain.report.failure_reasons)} / ` +
          `suite ${JSON.stringify(suite.report.failure_reasons)}; rerun graded ${warm.report.cache.graded}; ` +
          `peer: ${[...(peer?.failures ?? []), ...(shipped?.failures ?? [])].join('; ') || 'ok'}`
      );
    return ok ? 0 : 1;
  } finally {
    if (!flags['keep-temp']) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}
