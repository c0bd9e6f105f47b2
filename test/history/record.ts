/**
 * Records workflow histories for the replay tests (test/unit/replay.test.ts). Run it after any
 * intentional change to workflow code, and commit the files:
 *
 *   npm run record-histories            # everything (needs Docker and Slurm)
 *   npm run record-histories -- sweep   # only the sweep's histories (cpu only); others are kept
 *   npm run record-histories -- dag     # only the DAG experiments' histories (needs Docker); others are kept
 *
 * Each history comes from a real run on a local Temporal dev server, saved with
 * `temporal workflow show --output json` (the format the Web UI downloads too).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TASK_QUEUES } from '../../contracts';
import { makeBuildFixtures } from '../../infra/fixtures/make-build-repos';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { testWheelhouse } from '../helpers/docker';
import { createWorkers } from '../../workers/worker';
import { fixtureSpec } from '../helpers/stack';
import { startTemporal, temporalCliPath } from '../helpers/temporal';

const OUT = new URL('../history_files/', import.meta.url);
/** `sweep`: record only the sweep part, keeping the other recorded files. */
const ONLY = process.argv[2];

async function main(): Promise<void> {
  const env = await startTemporal();
  const home = mkdtempSync(join(tmpdir(), 'bottega-record-'));
  const { repos } = await makeFixtureRepos(join(home, 'fixtures'));
  const [worker, dockerWorker, slurmWorker] = await createWorkers({
    connection: env.nativeConnection,
    capabilities: ['cpu', 'docker', 'slurm'],
    env: { ...process.env, BOTTEGA_HOME: home },
  });
  // Replay needs each history's workflow id (child ids derive from it).
  const manifestUrl = new URL('manifest.json', OUT);
  const manifest: Record<string, string> =
    ONLY && existsSync(manifestUrl) ? (JSON.parse(readFileSync(manifestUrl, 'utf8')) as Record<string, string>) : {};
  const save = (name: string, workflowId: string, runId?: string) => {
    const args = ['workflow', 'show', '--address', env.address, '--workflow-id', workflowId, '--output', 'json'];
    if (runId) args.push('--run-id', runId);
    const json = execFileSync(temporalCliPath()!, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    writeFileSync(new URL(`${name}.json`, OUT), json);
    manifest[`${name}.json`] = workflowId;
    console.log(`recorded ${name} (${workflowId})`);
  };
  const dockerRun = dockerWorker!.run();
  const slurmRun = slurmWorker!.run();
  await worker!.runUntil(async () => {
    const start = (id: string, args: unknown[], type = 'experimentWorkflow') =>
      env.client.workflow.start(type, { workflowId: id, taskQueue: TASK_QUEUES.cpu, args });

    // The experiment as a DAG: mine beside build → rollout, then mix of both; and the same with
    // mine failing (build → rollout finish, mix never starts). `-- dag` records only these.
    if (!ONLY || ONLY === 'dag') {
      const dfx = await makeBuildFixtures(join(home, 'dag-build-fixtures'));
      const dagTasks = join(home, 'dag-tasks.jsonl');
      writeFileSync(
        dagTasks,
        dfx.tasks
          .filter((t) => t.instance_id === 'acme__calc-1')
          .map((t) => JSON.stringify(t))
          .join('\n') + '\n'
      );
      const dagSpec = (id: string, mineOver: Record<string, unknown> = {}) =>
        fixtureSpec(
          id,
          repos,
          {
            build: {
              tasks: { files: [dagTasks] },
              repo_paths: Object.fromEntries(dfx.repos.map((r) => [r.repo, r.path])),
              wheelhouse: testWheelhouse(resolve(process.env.BOTTEGA_HOME ?? '.bottega')),
              validation_runs: 1,
            },
            rollout: { policy: 'replay-gold', rollouts_per_task: 1 },
            mix: {
              sources: [
                { name: 'general_prs', from: 'mine.general' },
                { name: 'traj_pass', from: 'rollout.pass' },
              ],
              stages: [{ name: 'mt', seq_len: 1024, sources: [{ source: 'general_prs' }, { source: 'traj_pass' }] }],
            },
          },
          { formats: ['general'], ...mineOver }
        );
      const dag = await start('exp-history-dag', [dagSpec('exp-history-dag')]);
      await dag.result();
      save('experiment-dag', 'exp-history-dag', dag.firstExecutionRunId);
      const failing = await start('exp-history-dag-failed', [
        {
          ...dagSpec('exp-history-dag-failed', {
            sources: [{ type: 'git', repo: repos[0]!.repo, path: repos[0]!.path, ref: 'no-such-ref' }],
          }),
          force: ['build', 'rollout'],
        },
      ]);
      await failing.result().catch(() => undefined);
      save('experiment-dag-failed', 'exp-history-dag-failed', failing.firstExecutionRunId);
      if (ONLY === 'dag') return;
    }

    // A sweep of two arms sharing the mine stage, one arm per run: it continues as new once.
    const sweepBase = fixtureSpec('unused', repos, {
      mix: {
        sources: [{ name: 'general_prs', from: 'mine.general' }],
        stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }] }],
      },
    });
    delete (sweepBase as { id?: string }).id;
    const sweep = await start(
      'sweep-history',
      [
        {
          id: 'sweep-history',
          base: sweepBase,
          arms: [
            { name: 'once', set: { 'mix.stages.0.sources.0.repeat': 1 } },
            { name: 'twice', set: { 'mix.stages.0.sources.0.repeat': 2 } },
          ],
          max_parallel: 2,
          arms_per_run: 1,
        },
      ],
      'sweepWorkflow'
    );
    await env.client.workflow.getHandle('sweep-history').result();
    const sweepRuns: string[] = [];
    for await (const w of env.client.workflow.list({ query: 'WorkflowId = "sweep-history"' })) sweepRuns.push(w.runId);
    save('sweep-continued', 'sweep-history', sweep.firstExecutionRunId);
    save('sweep', 'sweep-history', sweepRuns[0]);
    save('experiment-sweep-arm', 'sweep-history-00');
    if (ONLY === 'sweep') return;

    // mine → mix → train (a stand-in trainer command on the local Slurm cluster).
    const fakeTrainer = join(home, 'fake-trainer.sh');
    writeFileSync(
      fakeTrainer,
      'mkdir -p "$1/step-1" && echo "{}" > "$1/step-1/COMPLETE" && echo \'{"step":1,"loss":1}\' >> "$2"\n'
    );
    const full = fixtureSpec('exp-history', repos, {
      mix: {
        sources: [{ name: 'general_prs', from: 'mine.general' }],
        stages: [{ name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }] }],
      },
      train: {
        resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '100M', time_limit: '5:00' },
        framework: { type: 'command', command: `bash ${fakeTrainer} {ckpt_dir} {metrics}` },
        workdir: join(home, 'slurm'),
        poll: { initial_s: 0.5, max_s: 1, report_every_s: 5 },
        stages: [{ name: 'mt1', data: 'mt1' }],
      },
    });
    const ran = await start('exp-history', [full]);
    await ran.result();
    save('experiment-ran', 'exp-history', ran.firstExecutionRunId);
    save('mine-stage', 'exp-history/mine');
    save('mine-repo', 'exp-history/mine/0-acme__widgets');
    save('mix-stage', 'exp-history/mix');
    save('train-stage', 'exp-history/train');

    const cached = await start('exp-history', [full]);
    await cached.result();
    save('experiment-cached', 'exp-history', cached.firstExecutionRunId);

    const invalid = await start('exp-history-invalid', [{ id: 'exp-history-invalid', mine: { sources: [] } }]);
    await invalid.result().catch(() => undefined);
    save('experiment-invalid', 'exp-history-invalid');

    const source = { type: 'git', repo: repos[0]!.repo, path: repos[0]!.path, ref: 'HEAD', description: '' };
    const can = await start(
      'exp-history-can/mine/0-acme__widgets',
      [
        {
          experimentId: 'exp-history-can',
          source,
          config: { sources: [source], page_size: 2 },
          store: {},
          prefix: 'h/can',
          continueAsNewAfterPages: 2,
        },
      ],
      'mineRepoWorkflow'
    );
    await can.result();
    save('mine-repo-continued', 'exp-history-can/mine/0-acme__widgets', can.firstExecutionRunId);

    // The build and rollout stages (need Docker): one valid task and one whose install fails.
    const bfx = await makeBuildFixtures(join(home, 'build-fixtures'));
    const few = bfx.tasks.filter((t) => ['acme__calc-1', 'acme__broken-1'].includes(t.instance_id));
    const tasksFile = join(home, 'build-tasks.jsonl');
    writeFileSync(tasksFile, few.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const build = await start('exp-history-build', [
      {
        id: 'exp-history-build',
        build: {
          tasks: { files: [tasksFile] },
          repo_paths: Object.fromEntries(bfx.repos.map((r) => [r.repo, r.path])),
          wheelhouse: testWheelhouse(resolve(process.env.BOTTEGA_HOME ?? '.bottega')),
          validation_runs: 2,
        },
        // Two rollouts, one per batch and one batch per run: the stage continues as new once.
        rollout: { policy: 'replay-gold', rollouts_per_task: 2, batch_size: 1, batches_per_run: 1 },
        evaluate: { policy: 'replay-gold', runs: 1, tasks: { from: 'build' } },
      },
    ]);
    await build.result();
    save('experiment-build', 'exp-history-build', build.firstExecutionRunId);
    save('build-stage', 'exp-history-build/build');
    const rolloutRuns: string[] = [];
    for await (const w of env.client.workflow.list({ query: 'WorkflowId = "exp-history-build/rollout"' }))
      rolloutRuns.push(w.runId);
    // Listed newest first: the first run continued as new into the second.
    save('rollout-stage-continued', 'exp-history-build/rollout', rolloutRuns.at(-1));
    save('rollout-stage', 'exp-history-build/rollout', rolloutRuns[0]);
    save('rollout-batch', 'exp-history-build/rollout/batch-0');
    save('evaluate-stage', 'exp-history-build/evaluate');
  });
  dockerWorker!.shutdown();
  slurmWorker!.shutdown();
  await Promise.all([dockerRun, slurmRun]);
  writeFileSync(manifestUrl, JSON.stringify(manifest, null, 2) + '\n');
  await env.teardown();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
