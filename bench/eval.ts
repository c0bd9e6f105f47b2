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
 * Instance images are built once (content-hash tags, so ones a test or run built are reused) and
 * left in place. Exit code: 0 ok, 1 a step failed or an instance did not resolve, 2 bad flags,
 * 3 no Docker engine.
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
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(String((e as Error).message));
    return 2;
  }
  const rounds = Number(flags.rounds);
  const concurrency = Number(flags.concurrency);
  if (![rounds, concurrency].every((n) => Number.isInteger(n) && n > 0)) {
    console.error('--rounds and --concurrency must be positive integers');
    return 2;
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
    const timed = async (scope: 'files' | 'suite', runId: string, cacheDir: string) => {
      const s0 = performance.now();
      const r: EvaluateResult = await evaluatePredictions({ ...common, tasks: tasksIn(scope), runId, cacheDir });
      return { r, s: (performance.now() - s0) / 1000 };
    };
    const { r: cold, s: coldS } = await timed('files', 'cold', join(tmp, 'cache'));
    const { r: suite, s: suiteS } = await timed('suite', 'suite', join(tmp, 'cache-suite'));
    const { r: warm, s: warmS } = await timed('files', 'warm', join(tmp, 'cache'));

    const n = predictions.length;
    const timings = [...cold.results.values()].map((r) => r.timings).filter((t): t is GradeTimings => t !== null);
    console.log(
      `eval bench: ${n} graded instances (${base.map((t) => t.instance_id).join(', ')} gold × ${rounds}), ` +
        `concurrency ${concurrency}\n`
    );
    console.log(
      formatTable(
        ['pass', 'instances', 'wall s', 'instances/hour', 'resolved', 'containers run'],
        [
          [
            'cold, file-scoped (default)',
            String(n),
            num(coldS, 1),
            num((n / coldS) * 3600, 0),
            String(cold.report.resolved_instances),
            String(cold.report.cache.graded),
          ],
          [
            'cold, whole suite',
            String(n),
            num(suiteS, 1),
            num((n / suiteS) * 3600, 0),
            String(suite.report.resolved_instances),
            String(suite.report.cache.graded),
          ],
          [
            'rerun (cache hit)',
            String(n),
            num(warmS, 2),
            num((n / warmS) * 3600, 0),
            String(warm.report.resolved_instances),
            String(warm.report.cache.graded),
          ],
        ]
      )
    );
    console.log('\nper-instance time split (cold file-scoped pass, ms):\n');
    console.log(
      formatTable(
        ['part', 'mean', 'p50', 'p95', 'share'],
        PARTS.map(([k, label]) => {
          const s = stats(timings.map((t) => t[k]));
          const total = stats(timings.map((t) => t.total_ms)).mean;
          return [label, num(s.mean, 0), num(s.p50, 0), num(s.p95, 0), `${num((100 * s.mean) / total, 1)}%`];
        })
      )
    );
    const ok =
      cold.report.resolved_instances === n &&
      suite.report.resolved_instances === n &&
      warm.report.resolved_instances === n &&
      warm.report.cache.graded === 0;
    if (!ok)
      log(
        `unexpected: ${JSON.stringify(cold.report.failure_reasons)} / suite ${JSON.stringify(suite.report.failure_reasons)}; rerun graded ${warm.report.cache.graded}`
      );
    return ok ? 0 : 1;
  } finally {
    if (!flags['keep-temp']) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
}
