/**
 * One run of `npm run bench -- mine --scale`, in its own process so that its peak RSS is its own:
 * starts an in-process cpu worker on the given Temporal server, mines one generated repository
 * through `mineRepoWorkflow`, and prints a {@link ScaleRunResult} on a line starting with {@link RESULT_MARK}.
 *
 * `cached: false` sets the issues-file cache to 0 entries: every page reads and validates the
 * whole file again, as before the cache (the reference).
 *
 * Usage (from bench/mine-scale.ts): `node --import tsx bench/mine-scale-run.ts '<ScaleRunInput JSON>'`.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { GitSource, MineConfig, StoreConfig, TASK_QUEUES } from '../contracts';
import { issuesFileCache } from '../activities/mine/git-source';
import { createWorkers } from '../workers/worker';
import type { MineRepoInput, MineRepoResult } from '../workflows/mine';
import { RESULT_MARK, type ScaleRunInput, type ScaleRunResult } from './mine-scale';

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as ScaleRunInput;
  if (!input.cached) issuesFileCache.setMaxEntries(0);
  const native = await NativeConnection.connect({ address: input.address });
  const connection = await Connection.connect({ address: input.address });
  const [worker] = await createWorkers({
    connection: native,
    capabilities: ['cpu'],
    env: { ...process.env, BOTTEGA_HOME: input.home },
  });
  const running = worker!.run();
  try {
    const source = GitSource.parse({
      type: 'git',
      repo: 'bench/scale',
      path: input.repo,
      issues_file: input.issuesFile,
    });
    const config = MineConfig.parse({
      sources: [source],
      ...(input.pageSize ? { page_size: input.pageSize } : {}),
    });
    const args: MineRepoInput = {
      experimentId: input.workflowId,
      source,
      config,
      store: StoreConfig.parse({ uri: `file://${input.home}/store` }),
      prefix: 'mine/repos/0-bench-scale',
    };
    // Warm-up: one page without the issues file loads the tokenizer and the workflow code, so the
    // timed run measures mining, not the per-process start-up that would skew the smallest size.
    await new Client({ connection }).workflow.execute('mineRepoWorkflow', {
      workflowId: `${input.workflowId}-warmup`,
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          ...args,
          source: { ...source, issues_file: undefined, max_prs: config.page_size },
          prefix: 'mine/repos/warmup',
        } satisfies MineRepoInput,
      ],
    });
    const mb = (b: number) => b / 1024 / 1024;
    global.gc?.();
    const baseRssMb = mb(process.memoryUsage.rss());
    let peak = baseRssMb;
    const sampler = setInterval(() => (peak = Math.max(peak, mb(process.memoryUsage.rss()))), 20);
    const t0 = performance.now();
    const client = new Client({ connection });
    const r = (await client.workflow.execute('mineRepoWorkflow', {
      workflowId: input.workflowId,
      taskQueue: TASK_QUEUES.cpu,
      args: [args],
    })) as MineRepoResult;
    const ms = performance.now() - t0;
    clearInterval(sampler);
    if (r.prsSeen !== input.prs) throw new Error(`mined ${r.prsSeen} PRs, expected ${input.prs}`);
    const result: ScaleRunResult = {
      prs: r.prsSeen,
      ms,
      peakRssMb: Math.max(peak, mb(process.memoryUsage.rss())),
      baseRssMb,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      issuesParses: issuesFileCache.stats.parses,
      pages: r.pages,
    };
    console.log(`${RESULT_MARK}${JSON.stringify(result)}`);
  } finally {
    worker!.shutdown();
    await running;
    await native.close();
    await connection.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
