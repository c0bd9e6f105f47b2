import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { ExperimentResult, StoreConfig, TASK_QUEUES } from '../../contracts';
import { openStore, S3ArtifactStore } from '../../activities/store/artifact-store';
import { collectRefs } from '../../activities/store/step-cache';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { makeSweepRepo } from '../../bench/sweep-repo';
import { spawnCli } from '../helpers/cli';
import { prerequisites } from '../helpers/prereq';

/**
 * The compose stack with the images built on this machine (infra/compose/build-images.sh, cached):
 * Temporal on PostgreSQL, its Web UI, SeaweedFS and the worker containers (two cpu, docker, slurm on
 * the local Slurm through slurmrestd). `bottega run` on the host drives experiments through them;
 * nothing else serves this Temporal, so every activity runs in a container. Then the scale-out
 * check: two cpu workers share a mine stage of 3,000 PRs, one is killed mid-stage, and the outputs
 * equal those of a one-worker run. Set BOTTEGA_TEST_KEEP_STACK=1 to leave the stack up.
 */
const skip = await prerequisites('docker', 'slurm', 'slurmrestd');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN = Date.now().toString(36);
const PROJECT = 'bottega-it';
// Host ports away from the dev stack's (7233, 8233, 8333 and their +10000 gRPC ports).
const PORTS = { temporal: 27233, ui: 28233, s3: 28333 };
const tmp = mkdtempSync(join(tmpdir(), 'bottega-compose-'));
const sources = join(tmp, 'sources');
const slurmDir = join(tmp, 'slurm');
const bucket = 'bottega';

const stackEnv: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  BOTTEGA_HOME: process.env.BOTTEGA_HOME,
  BOTTEGA_COMPOSE_PROJECT: PROJECT,
  BOTTEGA_TEMPORAL_PORT: String(PORTS.temporal),
  BOTTEGA_UI_PORT: String(PORTS.ui),
  BOTTEGA_S3_PORT: String(PORTS.s3),
  BOTTEGA_SOURCES_DIR: sources,
  BOTTEGA_SLURM_WORKDIR: slurmDir,
};
/** The host CLI's view of the stack: its Temporal and its S3 (dev credentials). */
const cliEnv: NodeJS.ProcessEnv = {
  ...process.env,
  TEMPORAL_ADDRESS: `127.0.0.1:${PORTS.temporal}`,
  TEMPORAL_NAMESPACE: 'default',
  BOTTEGA_S3_ENDPOINT: `http://127.0.0.1:${PORTS.s3}`,
  AWS_ACCESS_KEY_ID: 'bottega',
  AWS_SECRET_ACCESS_KEY: 'bottega-secret',
  BOTTEGA_HOME: join(tmp, 'cli-home'),
};

/** Runs a command to its end (asynchronously: the test's timers keep running); throws on failure. */
function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = stackEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}`))
    );
  });
}
const stack = (...args: string[]) => sh('bash', ['infra/compose/stack.sh', ...args]);

async function runSpec(spec: object, name: string, extra: string[] = []) {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, stringify(spec));
  const r = await spawnCli(['run', file, '--json', ...extra], cliEnv);
  assert.equal(r.code, 0, `bottega run ${name}:\n${r.stderr.slice(-4000)}`);
  return ExperimentResult.parse(JSON.parse(r.stdout));
}

describe('compose stack built offline, experiments through its worker containers', { skip }, () => {
  let client: Client;
  let connection: Connection;
  const s3 = openStore(StoreConfig.parse({ uri: `s3://${bucket}` }), cliEnv) as S3ArtifactStore;

  before(async () => {
    mkdirSync(sources, { recursive: true });
    mkdirSync(slurmDir, { recursive: true });
    await makeFixtureRepos(join(sources, 'fixtures'));
    makeSweepRepo(join(sources, 'many-prs'), 3000);
    await stack('down', '--profile', 'slurm', '-v').catch(() => undefined); // leftovers of an interrupted run
    const jwt = execFileSync('scontrol', ['token', 'lifespan=7200'], { encoding: 'utf8' })
      .trim()
      .replace(/^SLURM_JWT=/, '');
    stackEnv.SLURM_JWT = jwt;
    await stack('up', '--profile', 'slurm', '--scale', 'worker-cpu=2');
    connection = await Connection.connect({ address: cliEnv.TEMPORAL_ADDRESS! });
    client = new Client({ connection, namespace: 'default' });
  });

  after(async () => {
    await connection?.close();
    if (process.env.BOTTEGA_TEST_KEEP_STACK !== '1')
      await stack('down', '--profile', 'slurm', '-v').catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('Temporal runs on PostgreSQL (schema by the admin tools), with the search attributes, and the Web UI serves', async () => {
    const psql = (db: string, query: string) =>
      stack('exec', '-T', 'postgresql', 'psql', '-U', 'temporal', '-d', db, '-At', '-c', query);
    const dbs = await psql('postgres', "SELECT datname FROM pg_database WHERE datname LIKE 'temporal%' ORDER BY 1");
    assert.deepEqual(dbs.trim().split('\n'), ['temporal', 'temporal_visibility']);
    const schema = await psql('temporal', 'SELECT curr_version FROM schema_version');
    assert.match(schema.trim(), /^1\.\d+$/);
    const sys = await connection.workflowService.getSystemInfo({});
    assert.ok(sys.serverVersion?.startsWith('1.32.'), `server ${sys.serverVersion}`);
    const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of ['ExperimentId', 'Stage', 'SweepId', 'GitSha', 'BaseModel', 'DatasetVersion', 'EvalScore'])
      assert.ok(name in attrs.customAttributes!, `search attribute ${name}`);
    const ui = await fetch(`http://127.0.0.1:${PORTS.ui}/`);
    assert.equal(ui.status, 200);
    const workers = (await stack('ps', '-q', 'worker-cpu')).trim().split('\n').filter(Boolean);
    assert.equal(workers.length, 2, 'two cpu worker containers');
  });

  it('the three kinds of worker containers poll their queues; the docker worker reaches the host engine', async () => {
    const hosts = async (svc: string) =>
      (await stack('ps', '-q', svc))
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((c) => c.slice(0, 12));
    const expected: Record<string, string[]> = {
      cpu: await hosts('worker-cpu'),
      docker: await hosts('worker-docker'),
      slurm: [], // on the host's network (local.yml), so under the host's name: any poller
    };
    for (const [cap, want] of Object.entries(expected)) {
      const deadline = Date.now() + 60_000;
      let seen: string[] = [];
      while (Date.now() < deadline) {
        const r = await connection.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: TASK_QUEUES[cap as keyof typeof TASK_QUEUES] },
          taskQueueType: 2, // activity pollers
        });
        seen = (r.pollers ?? []).map((p) => p.identity?.split('@')[1] ?? '');
        if (want.every((h) => seen.includes(h)) && seen.length > 0) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      for (const h of want) assert.ok(seen.includes(h), `${cap}: container ${h} polls (${seen.join(', ')})`);
      assert.ok(seen.length > 0, `${cap}: no poller`);
    }
    // The activities' own Docker client, in the container, on the mounted socket.
    const ping = await stack(
      'exec',
      '-T',
      'worker-docker',
      'node',
      '-e',
      "import('dockerode').then(async ({ default: D }) => { const d = new D(); await d.ping(); console.log('engine', (await d.version()).Version); })"
    );
    assert.match(ping, /^engine \d+\./m);
  });

  it('bottega run: mine → mix → train (Slurm via slurmrestd, shards staged from S3), outputs in the stack S3', async () => {
    const id = `compose-exp-${RUN}`;
    const python = join(process.env.BOTTEGA_HOME ?? join(ROOT, '.bottega'), 'trainer-venv', 'bin', 'python');
    const result = await runSpec(
      {
        id,
        store: { uri: `s3://${bucket}/it-${RUN}` },
        mine: {
          sources: [{ type: 'git', repo: 'acme/widgets', path: join(sources, 'fixtures', 'acme-widgets') }],
          formats: ['python', 'general'],
          page_size: 3,
        },
        mix: {
          seed: 1,
          sources: [{ name: 'general_prs', from: 'mine.general' }],
          stages: [{ name: 'mt1', seq_len: 512, pack: true, sources: [{ source: 'general_prs' }] }],
        },
        train: {
          cluster: {
            backend: 'rest',
            rest: { url: process.env.SLURMRESTD_URL ?? 'http://127.0.0.1:6820', token_env: 'SLURM_JWT' },
          },
          workdir: slurmDir,
          framework: { type: 'reference', python, script: join(ROOT, 'infra', 'trainer', 'train.py') },
          resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '4G', time_limit: '20:00' },
          model_config: 'tiny',
          stages: [{ name: 'mt1', data: 'mt1', hparams: { global_batch: 2, micro_batch: 1, lr: 0.003, threads: 1 } }],
        },
      },
      id
    );
    for (const stage of ['mine', 'mix', 'train']) assert.equal(result.dag?.status[stage], 'ran', stage);
    // Every artifact the result names is in the stack's S3, with its recorded size.
    const inS3 = collectRefs(result).filter((r) => r.uri.startsWith(`s3://${bucket}/it-${RUN}/`));
    assert.ok(inS3.length >= 5, `artifacts in S3: ${inS3.map((r) => r.uri).join(', ')}`);
    for (const r of inS3) assert.equal(await s3.exists(r.uri, r.bytes), true, r.uri);
    const train = result.stages.train!.result as {
      stages: Array<{ state: string; artifacts: { log: { uri: string } } }>;
    };
    assert.equal(train.stages[0]!.state, 'COMPLETED');
    const log = (await s3.get(train.stages[0]!.artifacts.log.uri)).toString('utf8');
    assert.match(log, /\[bottega\] staged \d+ files/, 'the job staged the shards from S3');
  });

  it('two cpu workers share a mine stage of 3,000 PRs; killing one mid-stage loses nothing', async (t) => {
    const spec = (id: string) => ({
      id,
      store: { uri: `s3://${bucket}/it-${RUN}-${id}` },
      mine: {
        sources: [{ type: 'git', repo: 'acme/many', path: join(sources, 'many-prs') }],
        formats: ['general'],
        page_size: 100,
      },
    });
    // The reference: one cpu worker.
    await stack('up', '--profile', 'slurm', '--scale', 'worker-cpu=1');
    let t0 = Date.now();
    const one = await runSpec(spec(`scale-one-${RUN}`), 'scale-one');
    t.diagnostic(`one worker: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await stack('up', '--profile', 'slurm', '--scale', 'worker-cpu=2');

    const id = `scale-two-${RUN}`;
    t0 = Date.now();
    const run = runSpec(spec(id), 'scale-two', ['--force', 'mine']);
    // Kill the worker running a page once a few pages are done, so the page it holds is lost with it.
    const killed = await killOneMidStage(id);
    const two = await run;
    t.diagnostic(`two workers, one killed mid-stage: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const pageStarts = await pageWorkers(id);
    assert.ok(pageStarts.has(killed.identity), 'the killed worker had run pages');
    assert.ok(pageStarts.size >= 2, `pages ran on both workers: ${[...pageStarts].join(', ')}`);

    // Samples, tasks and decisions by their key under the experiment, with their sha256.
    const samples = (r: ExperimentResult) =>
      collectRefs(r.stages.mine)
        .filter(({ uri }) => /\.jsonl(\.gz)?$/.test(uri))
        .map(
          ({ uri, sha256 }) =>
            `${uri.slice(uri.indexOf(`/experiments/${r.experimentId}/`)).replace(r.experimentId, 'ID')} ${sha256}`
        )
        .sort();
    const a = samples(one);
    const b = samples(two);
    assert.ok(a.length > 0);
    assert.deepEqual(b, a, 'the outputs equal the one-worker run');
    const summary = (r: ExperimentResult) => (r.stages.mine!.result as { summary: { prs_seen: number } }).summary;
    assert.equal(summary(two).prs_seen, 3000);
    assert.equal(summary(one).prs_seen, 3000);
  });

  /** Waits for a mine page to be in flight on a worker that has completed pages, then SIGKILLs its container. */
  async function killOneMidStage(experimentId: string): Promise<{ identity: string; container: string }> {
    const containers = (await stack('ps', '-q', 'worker-cpu')).trim().split('\n').filter(Boolean);
    assert.equal(containers.length, 2);
    const byHost = new Map(containers.map((c) => [c.slice(0, 12), c]));
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      for await (const wf of client.workflow.list({
        query: `WorkflowType = 'mineRepoWorkflow' AND ExecutionStatus = 'Running'`,
      })) {
        if (!wf.workflowId.includes(experimentId)) continue;
        const d = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
        const pending = d.raw.pendingActivities ?? [];
        const { ids, completed } = await pageWorkersOf(wf.workflowId);
        // A worker that has completed pages (history records who started an activity only when
        // it ends), now holding another one.
        const running = pending.find(
          (p) => p.lastWorkerIdentity && ids.has(p.lastWorkerIdentity) && p.activityType?.name === 'minePage'
        );
        if (running && completed >= 3) {
          const identity = running.lastWorkerIdentity!;
          const container = byHost.get(identity.split('@')[1] ?? '');
          assert.ok(container, `worker ${identity} is one of the cpu containers`);
          // No restart: the other worker must finish alone.
          await sh('docker', ['update', '--restart', 'no', container]);
          await sh('docker', ['kill', '--signal', 'KILL', container]);
          return { identity, container };
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail('no mine page in flight within 180 s');
  }

  /** Identities of the workers that started mine pages, and how many pages completed. */
  async function pageWorkersOf(workflowId: string) {
    const ids = new Set<string>();
    let completed = 0;
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    for (const e of history.events ?? []) {
      if (e.activityTaskStartedEventAttributes?.identity) ids.add(e.activityTaskStartedEventAttributes.identity);
      if (e.activityTaskCompletedEventAttributes) completed++;
    }
    return { ids, completed };
  }

  async function pageWorkers(experimentId: string): Promise<Set<string>> {
    const all = new Set<string>();
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'mineRepoWorkflow'` }))
      if (wf.workflowId.includes(experimentId)) for (const i of (await pageWorkersOf(wf.workflowId)).ids) all.add(i);
    return all;
  }
});
