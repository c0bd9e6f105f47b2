/**
 * `npm run bench -- build`: the image builder on the local Docker engine, three figures:
 * 1. seconds per image, cold (tag absent, removed first with dockerode) and warm (second call: a
 *    content-hash cache hit), for the env image and the instance image;
 * 2. bytes each instance adds above the shared env layer, next to the env layer and the base, and
 *    the reference: what each instance would weigh if it carried its own environment;
 * 3. overhead of one trivial command (`true`) in a running container: the dockerode exec API vs the
 *    `docker exec` CLI, measured in the same run.
 *
 * Inputs are the build fixtures (infra/fixtures/make-build-repos.ts): acme__calc-1, -3, -4, -5 share
 * one env. The env recipe gets a marker env var (BOTTEGA_BENCH=1) so its tag and its layers after
 * the venv step are the bench's own: removing them never touches images a test or a run built, and
 * a cold build cannot be served from Docker's layer cache. The venv step (`FROM base; RUN python3 -m
 * venv`) is identical in every env image of the base, so it may still hit the layer cache, as it
 * would for any new env in practice. Bench images are removed at the end (unless --keep-images);
 * the base image is left alone.
 *
 * Exit code: 0 ok, 1 a step failed, 2 bad flags, 3 no Docker engine.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import {
  buildEnvImage,
  buildInstanceImage,
  directoryDigest,
  ensureBaseImage,
  envImageTag,
  execInContainer,
  runInContainer,
} from '../activities/build/docker/index';
import { resolveRecipe } from '../activities/build/recipe';
import type { InstallConfig } from '../contracts/task';
import { fixtureWheelhouse } from '../infra/fixtures/wheelhouse';
import { makeBuildFixtures, type BuildFixtureTask } from '../infra/fixtures/make-build-repos';
import { formatTable, num } from './table';
import { connectDocker, rawExec, stats, timeInterleaved, WARMUPS } from './timing';

const execFileP = promisify(execFile);

/** Tasks of acme/calc that share one env (same base commit, same build-relevant recipe). */
const INSTANCES = ['acme__calc-1', 'acme__calc-3', 'acme__calc-4', 'acme__calc-5'];
const LIMITS = { cpus: 1, memoryMb: 512, pids: 256 };

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const since = (t0: number): number => (performance.now() - t0) / 1000;

/** Removes `tag` if present (404 is fine); untagged parents are pruned with it. */
async function removeImage(docker: Docker, tag: string): Promise<void> {
  try {
    await docker.getImage(tag).remove({ force: true });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}

/** Removes every instance image built on `envTag`, then `envTag` itself. */
async function removeBenchImages(docker: Docker, envTag: string): Promise<number> {
  const children = await docker.listImages({ filters: { label: [`bottega.env=${envTag}`] } });
  for (const img of children) {
    for (const t of img.RepoTags ?? []) if (t !== '<none>:<none>') await removeImage(docker, t);
  }
  await removeImage(docker, envTag);
  return children.length;
}

/**
 * Builds (or reuses, by content hash) the instance image of acme__calc-1 from the build fixtures
 * under `tmp`, with the task's own recipe (no bench marker, so tags a test or run built are reused).
 * Shared with other benches (bench/rollout.ts); returns the instance and env tags.
 */
export async function calcInstanceImage(
  docker: Docker,
  tmp: string,
  bottegaHome: string
): Promise<{ instanceTag: string; envTag: string; baseTag: string }> {
  const fx = await makeBuildFixtures(tmp);
  const repoPath = fx.repos.find((r) => r.repo === 'acme/calc')?.path;
  const task = fx.tasks.find((t) => t.instance_id === 'acme__calc-1');
  if (!repoPath || !task) throw new Error('build fixtures lack acme/calc or acme__calc-1');
  const r = resolveRecipe({ task });
  if (!r.config) throw new Error(`${task.instance_id}: ${r.reason}`);
  const baseTag = await ensureBaseImage(docker, r.config.python, { bottegaHome });
  const env = await buildEnvImage(docker, {
    baseTag,
    repo: 'acme/calc',
    repoPath,
    envCommit: task.base_commit,
    config: r.config,
    wheelhouse: fixtureWheelhouse(bottegaHome),
    network: false,
  });
  const inst = await buildInstanceImage(docker, {
    envTag: env.tag,
    repo: 'acme/calc',
    repoPath,
    baseCommit: task.base_commit,
    instanceId: task.instance_id,
  });
  return { instanceTag: inst.tag, envTag: env.tag, baseTag };
}

const mb = (bytes: number): string => num(bytes / 1e6, 2);
const kb = (bytes: number): string => num(bytes / 1e3, 1);
const bytes = (n: number): string => num(n, 0);

/** Runs the build benchmark; returns the exit code. */
export async function runBuildBench(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string', default: '50' },
        'env-builds': { type: 'string', default: '3' },
        'keep-images': { type: 'boolean', default: false },
        'keep-temp': { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(String((e as Error).message));
    return 2;
  }
  const runs = Number(flags.runs);
  const envBuilds = Number(flags['env-builds']);
  if (!Number.isInteger(runs) || runs <= 0 || !Number.isInteger(envBuilds) || envBuilds <= 0) {
    console.error('--runs and --env-builds must be positive integers');
    return 2;
  }

  const docker = await connectDocker();
  if (!docker) return 3;
  const dockerCli = process.env.DOCKER_CLI ?? 'docker';
  const bottegaHome = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
  const tmp = mkdtempSync(join(tmpdir(), 'bottega-bench-build-'));
  const tStart = performance.now();
  let container: Docker.Container | undefined;
  let envTag: string | undefined;

  try {
    // Setup (not timed as a figure): fixtures, wheelhouse, base image.
    const fx = await makeBuildFixtures(tmp);
    const repoPath = fx.repos.find((r) => r.repo === 'acme/calc')?.path;
    const tasks = INSTANCES.map((id) => fx.tasks.find((t) => t.instance_id === id));
    if (!repoPath || tasks.some((t) => !t)) throw new Error('build fixtures lack acme/calc or its tasks');
    const configs = (tasks as BuildFixtureTask[]).map((task): InstallConfig => {
      const r = resolveRecipe({ task });
      if (!r.config) throw new Error(`${task.instance_id}: ${r.reason}`);
      return { ...r.config, env_vars: { ...r.config.env_vars, BOTTEGA_BENCH: '1' } };
    });
    const wheels = fixtureWheelhouse(bottegaHome);
    let t0 = performance.now();
    const baseTag = await ensureBaseImage(docker, configs[0]!.python, { bottegaHome });
    const baseS = since(t0);
    const baseSize = (await docker.getImage(baseTag).inspect()).Size;
    log(`setup: fixtures in ${tmp}; base ${baseTag} (ensured in ${num(baseS, 1)} s)`);

    const envOpts = (i: number) => ({
      baseTag,
      repo: 'acme/calc',
      repoPath,
      envCommit: tasks[i]!.base_commit,
      config: configs[i]!,
      wheelhouse: wheels,
      network: false,
    });
    const wheelhouseDigest = await directoryDigest(wheels);
    const envTags = configs.map((_, i) => envImageTag({ ...envOpts(i), wheelhouseDigest }));
    if (new Set(envTags).size !== 1) throw new Error(`instances do not share one env: ${envTags.join(', ')}`);
    envTag = envTags[0]!;
    const stale = await removeBenchImages(docker, envTag);
    log(`removed env ${envTag} and ${stale} instance image(s) left by an earlier run`);

    // 1. build times: env cold (removed and rebuilt `envBuilds` times) and warm, then instances.
    const envCold: number[] = [];
    let cacheHits = '';
    for (let i = 0; i < envBuilds; i++) {
      if (i > 0) await removeImage(docker, envTag);
      t0 = performance.now();
      const cold = await buildEnvImage(docker, envOpts(0));
      envCold.push(since(t0));
      if (cold.cached) throw new Error('env build was a cache hit right after removing its tag');
      const steps = (cold.logs.match(/^Step \d+\/\d+ :/gm) ?? []).length;
      const hits = (cold.logs.match(/Using cache/g) ?? []).length;
      cacheHits = `${hits} of ${steps} Dockerfile steps`;
      log(`env cold #${i + 1}: ${num(envCold[i], 2)} s (docker layer cache: ${cacheHits})`);
    }
    t0 = performance.now();
    const envWarm = await buildEnvImage(docker, envOpts(0));
    const envWarmS = since(t0);
    if (!envWarm.cached) throw new Error('second env build was not a cache hit');
    log(`env warm: ${num(envWarmS, 3)} s`);

    const instOpts = (i: number) => ({
      envTag: envTag!,
      repo: 'acme/calc',
      repoPath,
      baseCommit: tasks[i]!.base_commit,
      instanceId: tasks[i]!.instance_id,
    });
    const instCold: number[] = [];
    const instWarm: number[] = [];
    const added: number[] = [];
    const instTags: string[] = [];
    for (let i = 0; i < tasks.length; i++) {
      t0 = performance.now();
      const cold = await buildInstanceImage(docker, instOpts(i));
      instCold.push(since(t0));
      if (cold.cached) {
        // A tag with this content already existed (another bench run raced us): rebuild it cold.
        await removeImage(docker, cold.tag);
        instCold.pop();
        t0 = performance.now();
        const again = await buildInstanceImage(docker, instOpts(i));
        instCold.push(since(t0));
        if (again.cached) throw new Error(`${cold.tag}: still a cache hit after removal`);
      }
      t0 = performance.now();
      const warm = await buildInstanceImage(docker, instOpts(i));
      instWarm.push(since(t0));
      if (!warm.cached) throw new Error(`${warm.tag}: second build was not a cache hit`);
      added.push(warm.sizeAddedBytes);
      instTags.push(warm.tag);
      log(
        `${tasks[i]!.instance_id}: cold ${num(instCold[i], 2)} s, warm ${num(instWarm[i], 3)} s, +${kb(added[i]!)} kB`
      );
    }

    // Sanity: the instance image runs its test command (one-shot container).
    t0 = performance.now();
    const check = await runInContainer(docker, {
      image: instTags[0]!,
      script: configs[0]!.test_cmd,
      timeoutMs: 60_000,
      limits: LIMITS,
    });
    const oneShotS = since(t0);
    if (check.exitCode === null || !/\d+ (passed|failed)/.test(check.output))
      throw new Error(`test run in ${instTags[0]} produced no pytest summary:\n${check.output.slice(-2000)}`);
    log(`test_cmd in a fresh container: exit ${check.exitCode} in ${num(oneShotS, 2)} s`);

    const envSize = (await docker.getImage(envTag).inspect()).Size;
    const envLayer = envSize - baseSize;
    const meanAdded = added.reduce((a, b) => a + b, 0) / added.length;
    const maxAdded = Math.max(...added);

    // 3. exec overhead in one long-running container.
    container = await docker.createContainer({
      Image: instTags[0]!,
      Cmd: ['sleep', '600'],
      Labels: { 'bottega.kind': 'bench' },
      HostConfig: { NetworkMode: 'none', AutoRemove: false },
    });
    await container.start();
    const c = container;
    const [raw, wrapped, cli, cliWrapped] = (await timeInterleaved(runs, [
      () => rawExec(c),
      async () => {
        const r = await execInContainer(c, 'true', { timeoutMs: 10_000 });
        if (r.exitCode !== 0) throw new Error(`execInContainer true exited ${r.exitCode}: ${r.output}`);
      },
      async () => void (await execFileP(dockerCli, ['exec', c.id, 'true'])),
      async () => void (await execFileP(dockerCli, ['exec', c.id, 'bash', '-lc', 'true'])),
    ])) as [number[], number[], number[], number[]];

    // Output.
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    console.log(
      `\nbuild bench: base ${baseTag}, env ${envTag}, ${tasks.length} instances (${INSTANCES.join(', ')}); docker engine ${(await docker.version()).Version}\n`
    );
    console.log('1. build time per image (s); cold = tag removed first, warm = same call again (tag cache hit)');
    console.log(
      formatTable(
        ['image', 'n', 'cold s', 'warm s', 'cold/warm'],
        [
          [
            'env (venv + pytest from wheelhouse + repo), mean',
            String(envCold.length),
            num(sum(envCold) / envCold.length, 2),
            num(envWarmS, 3),
            num(sum(envCold) / envCold.length / envWarmS, 0),
          ],
          ['env, max', String(envCold.length), num(Math.max(...envCold), 2), '-', '-'],
          [
            'instance (scrubbed .git + delta), mean',
            String(instCold.length),
            num(sum(instCold) / instCold.length, 2),
            num(sum(instWarm) / instWarm.length, 3),
            num(sum(instCold) / sum(instWarm), 0),
          ],
          ['instance, max', String(instCold.length), num(Math.max(...instCold), 2), num(Math.max(...instWarm), 3), '-'],
          ['reference: one-shot test run (runInContainer)', '1', num(oneShotS, 2), '-', '-'],
        ]
      )
    );
    console.log(
      `   cold env builds reused Docker's layer cache for ${cacheHits} (steps shared by every env of this base: SHELL, ENV, venv, COPY wheels)`
    );
    console.log('\n2. bytes on disk (image Size; MB = 1e6 bytes)');
    console.log(
      formatTable(
        ['what', 'MB', 'bytes', 'x instance mean'],
        [
          ['base image', mb(baseSize), bytes(baseSize), num(baseSize / meanAdded, 0)],
          ['env layer (env image - base)', mb(envLayer), bytes(envLayer), num(envLayer / meanAdded, 0)],
          [`added per instance above env, mean of ${added.length}`, mb(meanAdded), bytes(meanAdded), '1'],
          [
            `added per instance above env, max of ${added.length}`,
            mb(maxAdded),
            bytes(maxAdded),
            num(maxAdded / meanAdded, 2),
          ],
          [
            'reference: per-instance bytes if each instance carried its env (SWE-bench-style)',
            mb(envLayer + meanAdded),
            bytes(envLayer + meanAdded),
            num((envLayer + meanAdded) / meanAdded, 0),
          ],
        ]
      )
    );
    console.log(
      `   ${added.length} instances on one env: ${mb(envLayer + sum(added))} MB above base here vs ${mb(added.length * envLayer + sum(added))} MB if each carried its env`
    );
    console.log(`\n3. one trivial command in a running container (ms; ${runs} runs after ${WARMUPS} warmups each)`);
    const row = (label: string, ms: number[]): string[] => {
      const s = stats(ms);
      return [label, num(s.mean, 1), num(s.p50, 1), num(s.p95, 1)];
    };
    console.log(
      formatTable(
        ['how', 'mean', 'p50', 'p95'],
        [
          row('dockerode exec API: true', raw),
          row('execInContainer: timeout + bash -lc true', wrapped),
          row(`reference: ${dockerCli} exec <id> true (CLI)`, cli),
          row(`reference: ${dockerCli} exec <id> bash -lc true (CLI)`, cliWrapped),
        ]
      )
    );
    console.log(
      `\nCLI / exec API (true): ${num(stats(cli).mean / stats(raw).mean, 2)}x mean, p50 ${num(stats(cli).p50 / stats(raw).p50, 2)}x; total ${num(since(tStart), 0)} s`
    );
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    const logs = (err as { log?: string }).log;
    if (logs) console.error(logs.slice(-4000));
    return 1;
  } finally {
    if (container) await container.remove({ force: true, v: true }).catch(() => {});
    if (envTag && !flags['keep-images']) {
      await removeBenchImages(docker, envTag).catch((e: unknown) => log(`cleanup: ${String(e)}`));
    } else if (envTag) log(`kept bench images: ${envTag} and its instances`);
    if (!flags['keep-temp']) rmSync(tmp, { recursive: true, force: true });
    else log(`temp files kept in ${tmp}`);
  }
}
