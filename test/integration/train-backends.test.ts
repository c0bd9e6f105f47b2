import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlurmClusterConfig, TrainConfig, type SlurmJobState } from '../../contracts';
import type { SlurmBackend } from '../../activities/train/backend';
import { createBackend } from '../../activities/train/backends';
import { jobName, jobPaths, logPath } from '../../activities/train/paths';
import { reapOrphans } from '../../activities/train/reap';
import { RestBackend } from '../../activities/train/rest-backend';
import { renderJobScript } from '../../activities/train/sbatch';
import { prerequisites } from '../helpers/prereq';

/**
 * Each backend against the real single-node cluster: submit a job, find it by name, poll it
 * (one call for several ids), read its log through the backend's files, scancel it.
 */
const home = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-train-backends-'));
const cleanup: (() => Promise<void>)[] = [];
const prereqSkip = await prerequisites('slurm', 'slurmrestd', 'sshd');

const sshKey = process.env.BOTTEGA_SSH_KEY ?? join(home, 'sshd', 'id_ed25519');
const sshPort = Number(process.env.BOTTEGA_SSHD_PORT ?? 2222);
const restUrl = process.env.SLURMRESTD_URL ?? 'http://127.0.0.1:6820';
const env: NodeJS.ProcessEnv = { ...process.env, BOTTEGA_SSH_KEY: sshKey };
if (!prereqSkip) {
  env.BOTTEGA_TEST_SLURM_JWT = execFileSync('scontrol', ['token', 'lifespan=900'], { encoding: 'utf8' })
    .trim()
    .replace(/^SLURM_JWT=/, '');
}

const clusters: Record<string, SlurmClusterConfig> = {
  cli: SlurmClusterConfig.parse({ backend: 'cli' }),
  ssh: SlurmClusterConfig.parse({
    backend: 'ssh',
    ssh: { host: '127.0.0.1', user: 'root', port: sshPort, key_env: 'BOTTEGA_SSH_KEY' },
  }),
  rest: SlurmClusterConfig.parse({ backend: 'rest', rest: { url: restUrl, token_env: 'BOTTEGA_TEST_SLURM_JWT' } }),
};

async function waitFor(b: SlurmBackend, id: string, want: (s: SlurmJobState) => boolean): Promise<SlurmJobState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = (await b.poll([id, '999999'])).get(id)?.state ?? 'UNKNOWN';
    if (want(s)) return s;
    assert.ok(Date.now() < deadline, `job ${id} stuck in ${s}`);
    await sleep(300);
  }
}

describe('Slurm backends against the real cluster', { skip: prereqSkip }, () => {
  // A failed assertion must not leave a job holding one of the node's CPUs.
  after(async () => {
    for (const c of cleanup) await c().catch(() => undefined);
  });
  for (const kind of ['cli', 'ssh', 'rest'] as const) {
    it(`${kind}: submits, finds by name, polls, reads the log, lists orphans, cancels`, async () => {
      const b = createBackend(clusters[kind]!, env, join(tmp, 'home'));
      const config = TrainConfig.parse({
        resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '100M', time_limit: '5:00' },
        framework: { type: 'command', command: 'bash -c "echo hello-{stage}; sleep 60"' },
        stages: [{ name: 'mt1', data: 'mt1' }],
      });
      const paths = jobPaths(join(tmp, 'work'), `exp-${kind}`, 'mt1');
      const name = jobName(`backend-test/${kind}/${process.pid}`, 'mt1');
      const workflowId = `backend-test/${kind}/${process.pid}`;
      const { script, options } = renderJobScript({
        name,
        workflowId,
        stage: 'mt1',
        resources: config.resources,
        signalLeadS: 30,
        framework: config.framework,
        paths,
        hparams: config.stages[0]!.hparams,
        manifest: '/nonexistent/manifest.json',
        dataDir: '/nonexistent',
        initModel: '',
        trainer: '',
        env: {},
      });
      await b.files.mkdirp(paths.checkpoints);
      const id = await b.submit(script, options);
      cleanup.push(() => b.cancel(id));
      if (b instanceof RestBackend) assert.equal(await b.apiVersion(), process.env.SLURMRESTD_API_VERSION ?? 'v0.0.38');
      const found = await b.findByName(name);
      assert.deepEqual(
        found.map((j) => j.jobId),
        [id]
      );
      await waitFor(b, id, (s) => s === 'RUNNING');
      const deadline = Date.now() + 15_000;
      while (!(await b.files.tail(logPath(paths, id), 5)).some((l) => l === 'hello-mt1')) {
        assert.ok(Date.now() < deadline, 'log never showed the job output');
        await sleep(300);
      }
      // The orphan reaper sees it (its workflow does not exist) and reads back the workflow id.
      const orphans = await reapOrphans(b, async (wf) => wf === workflowId);
      assert.ok(!orphans.some((o) => o.jobId === id), 'a job of a running workflow is no orphan');
      const [orphan] = (await reapOrphans(b, async () => false)).filter((o) => o.jobId === id);
      assert.deepEqual([orphan?.workflowId, orphan?.stage], [workflowId, 'mt1']);
      await b.cancel(id);
      assert.equal(await waitFor(b, id, (s) => s !== 'RUNNING' && s !== 'COMPLETING'), 'CANCELLED');
      await b.cancel(id); // cancelling a finished job is not an error
      assert.equal((await b.findByName(name))[0]?.state, 'CANCELLED');
    });
  }
});
