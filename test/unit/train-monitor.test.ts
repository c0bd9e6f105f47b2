import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActivityCancellationDetails, ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ClusterFiles, JobInfo, SlurmBackend } from '../../activities/train/backend';
import { BackendRegistry } from '../../activities/train/backends';
import { jobName } from '../../activities/train/paths';
import { reapOrphans } from '../../activities/train/reap';
import { createTrainActivities, type SubmittedJob, type TrainJobInput } from '../../activities/train/train-activities';
import { StoreConfig, TrainConfig, type SlurmJobState, type TrainJobProgress } from '../../contracts';

/** An in-memory cluster: a job table, scripted state sequences, and files. */
class FakeCluster implements SlurmBackend {
  readonly kind = 'cli' as const;
  readonly key = `fake-${Math.random()}`;
  jobs = new Map<string, { name: string; states: SlurmJobState[] }>();
  fileTable = new Map<string, string>();
  submitted: string[] = [];
  cancelled: string[] = [];
  onSubmit: () => void = () => undefined;
  private nextId = 100;
  readonly files: ClusterFiles = {
    read: async (p) => this.fileTable.get(p) ?? null,
    tail: async (p, n) => (this.fileTable.get(p) ?? '').split('\n').filter(Boolean).slice(-n),
    write: async (p, t) => void this.fileTable.set(p, t),
    mkdirp: async () => undefined,
    list: async () => [],
  };
  private info(jobId: string): JobInfo | null {
    const j = this.jobs.get(jobId);
    if (!j || !j.states.length) return null;
    const state = j.states.length > 1 ? j.states.shift()! : j.states[0]!;
    return { jobId, name: j.name, state, elapsed: 1, exitCode: null, reason: null };
  }
  async submit(_script: string, o: { name: string }) {
    this.onSubmit();
    const id = String(this.nextId++);
    this.jobs.set(id, { name: o.name, states: ['PENDING', 'RUNNING', 'COMPLETED'] });
    this.submitted.push(id);
    return id;
  }
  async findByName(name: string) {
    return [...this.jobs.entries()]
      .filter(([, j]) => j.name === name)
      .map(([id, j]) => ({ jobId: id, name, state: j.states[0]!, elapsed: 0, exitCode: null, reason: null }));
  }
  async poll(ids: readonly string[]) {
    const m = new Map<string, JobInfo>();
    for (const id of ids) {
      const i = this.info(id);
      if (i) m.set(id, i);
    }
    return m;
  }
  async listActive(prefix: string) {
    return (await Promise.all([...this.jobs.values()].map((j) => this.findByName(j.name))))
      .flat()
      .filter((j, i, all) => j.name.startsWith(prefix) && all.findIndex((x) => x.jobId === j.jobId) === i)
      .filter((j) => !['COMPLETED', 'FAILED', 'CANCELLED'].includes(j.state))
      .map((j) => ({ ...j, comment: this.comments.get(j.jobId) ?? null }));
  }
  comments = new Map<string, string>();
  async cancel(id: string) {
    this.cancelled.push(id);
    const j = this.jobs.get(id);
    if (j) j.states = ['CANCELLED'];
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'bottega-train-monitor-'));
const workdir = join(tmp, 'work');
const config = TrainConfig.parse({
  workdir,
  resources: { gpus_per_node: 0 },
  framework: { type: 'command', command: 'true' },
  poll: { initial_s: 0.01, max_s: 0.02, report_every_s: 60 },
  stages: [{ name: 'mt1', data: 'mt1' }],
});
const base: TrainJobInput = {
  experimentId: 'exp',
  workflowId: 'exp/train',
  config,
  store: StoreConfig.parse({ uri: `file://${join(tmp, 'artifacts')}` }),
  prefix: 'exp/train',
  stage: 'mt1',
};
const NAME = jobName('exp/train', 'mt1');
const exitFile = (id: string) => `${workdir}/exp/mt1/exit-code.${id}`;

function setup(info: Record<string, unknown> = {}) {
  const cluster = new FakeCluster();
  const acts = createTrainActivities({
    env: {},
    bottegaHome: tmp,
    registry: new BackendRegistry({}, tmp, () => cluster),
  });
  const mock = new MockActivityEnvironment({ heartbeatTimeoutMs: 3000, ...info });
  const beats: TrainJobProgress[] = [];
  mock.on('heartbeat', (d: TrainJobProgress) => beats.push(d));
  return { cluster, acts, mock, beats };
}

/** Calls the monitor as the workflow does (with the state it last reported) until the job is done. */
async function monitorUntilDone(
  mock: MockActivityEnvironment,
  acts: ReturnType<typeof createTrainActivities>,
  jobId: string
): Promise<TrainJobProgress[]> {
  const reports: TrainJobProgress[] = [];
  let lastState: SlurmJobState = 'PENDING';
  for (;;) {
    const r = (await mock.run(acts.monitorJob, { ...base, jobId, lastState, reportAfterS: 60 })) as TrainJobProgress;
    reports.push(r);
    lastState = r.state;
    if (r.done) return reports;
  }
}

describe('train activities against a fake cluster', () => {
  it('submitJob stores script and inputs before sbatch, and reuses an active job by name', async () => {
    const { cluster, acts, mock } = setup();
    const manifest = {
      uri: 'file:///data/mix/mt1/manifest.json',
      sha256: 'a'.repeat(64),
      bytes: 1,
      records: null,
      schemaVersion: 1,
    };
    cluster.onSubmit = () => {
      assert.ok(existsSync(join(tmp, 'artifacts/exp/train/mt1/job.sbatch')), 'script stored first');
      assert.ok(existsSync(join(tmp, 'artifacts/exp/train/mt1/inputs.json')), 'inputs stored first');
    };
    const a = (await mock.run(acts.submitJob, { ...base, manifest, initModel: '/m' })) as SubmittedJob;
    assert.equal(a.reused, false);
    const b = (await mock.run(acts.submitJob, { ...base, manifest, initModel: '/m' })) as SubmittedJob;
    assert.deepEqual([b.jobId, b.reused], [a.jobId, true]);
    assert.equal(cluster.submitted.length, 1);
    // A COMPLETED job of that name that did not run in this stage's directory is not adopted.
    cluster.jobs.get(a.jobId)!.states = ['COMPLETED'];
    const c = (await mock.run(acts.submitJob, { ...base, manifest, initModel: '/m' })) as SubmittedJob;
    assert.equal(c.reused, false);
    // …but one whose exit-code file says 0 is.
    cluster.jobs.get(c.jobId)!.states = ['COMPLETED'];
    cluster.fileTable.set(exitFile(c.jobId), '0\n');
    const d = (await mock.run(acts.submitJob, { ...base, manifest, initModel: '/m' })) as SubmittedJob;
    assert.deepEqual([d.jobId, d.reused], [c.jobId, true]);
  });

  it('waits through a requeue (a FAILED blip, then PENDING), reporting each state change', async () => {
    const { cluster, acts, mock, beats } = setup();
    cluster.jobs.set('7', { name: NAME, states: ['RUNNING', 'FAILED', 'PENDING', 'RUNNING', 'COMPLETED'] });
    const reports = await monitorUntilDone(mock, acts, '7');
    // The FAILED blip is not confirmed by the next poll: never reported.
    assert.deepEqual(
      reports.map((r) => [r.state, r.done]),
      [
        ['RUNNING', false],
        ['PENDING', false],
        ['RUNNING', false],
        ['COMPLETED', true],
      ]
    );
    assert.ok(beats.some((b) => b.state === 'PENDING'));
    assert.ok(beats.every((b) => b.jobId === '7' && b.stage === 'mt1'));
  });

  it('reports elapsed time, log tail and trainer metrics when the report is due, without a state change', async () => {
    const { cluster, acts, mock } = setup();
    cluster.jobs.set('30', { name: NAME, states: ['RUNNING'] });
    cluster.fileTable.set(`${workdir}/exp/mt1/job-30.log`, 'loading\nstep 2/10 loss 3.5\n');
    cluster.fileTable.set(
      `${workdir}/exp/mt1/metrics.jsonl`,
      [
        '{"event":"start","step":0,"total_steps":10}',
        '{"event":"step","step":1,"loss":4.0,"tokens_per_s":100,"lr":0.1,"time":5}',
        '{"event":"step","step":2,"loss":3.5,"tokens_per_s":300,"lr":0.2,"time":6}',
        '{"event":"st',
      ].join('\n')
    );
    const t0 = Date.now();
    const r = (await mock.run(acts.monitorJob, {
      ...base,
      jobId: '30',
      lastState: 'RUNNING' as const,
      reportAfterS: 0.2,
    })) as TrainJobProgress;
    assert.ok(Date.now() - t0 < 2000, 'returned when the report was due');
    assert.deepEqual([r.state, r.done], ['RUNNING', false]);
    assert.deepEqual(r.logTail, ['loading', 'step 2/10 loss 3.5']);
    assert.deepEqual(r.metrics, { step: 2, total_steps: 10, loss: 3.5, tokens_per_s: 200, lr: 0.2, time: 6 });
  });

  it('falls back to the exit-code file when the scheduler has forgotten the job', async () => {
    const { cluster, acts, mock } = setup();
    cluster.jobs.set('8', { name: NAME, states: [] });
    cluster.fileTable.set(exitFile('8'), '0\n');
    assert.equal(((await mock.run(acts.monitorJob, { ...base, jobId: '8' })) as TrainJobProgress).state, 'COMPLETED');
    const s2 = setup();
    s2.cluster.fileTable.set(exitFile('9'), '3\n');
    s2.cluster.fileTable.set(`${workdir}/exp/mt1/job-9.log`, 'Traceback\nValueError: bad shard\n');
    await assert.rejects(
      s2.mock.run(s2.acts.monitorJob, { ...base, jobId: '9' }),
      (e: unknown) =>
        e instanceof ApplicationFailure && e.type === 'SlurmJobFailed' && e.nonRetryable && /bad shard/.test(e.message)
    );
  });

  it('re-attaches from the last heartbeat, or by name', async () => {
    const a = setup({ heartbeatDetails: { jobId: '11', state: 'RUNNING' } });
    a.cluster.jobs.set('11', { name: NAME, states: ['RUNNING', 'COMPLETED'] });
    assert.equal(((await a.mock.run(a.acts.monitorJob, { ...base })) as TrainJobProgress).jobId, '11');
    const b = setup();
    b.cluster.jobs.set('12', { name: NAME, states: ['RUNNING', 'COMPLETED'] });
    assert.equal(((await b.mock.run(b.acts.monitorJob, { ...base })) as TrainJobProgress).jobId, '12');
    assert.equal(a.cluster.submitted.length + b.cluster.submitted.length, 0);
  });

  it('reaps active bottega jobs whose workflow is gone', async () => {
    const { cluster } = setup();
    cluster.jobs.set('20', { name: 'bottega.a.mt1', states: ['RUNNING'] });
    cluster.jobs.set('21', { name: 'bottega.b.mt1', states: ['PENDING'] });
    cluster.jobs.set('22', { name: 'bottega.c.mt1', states: ['COMPLETED'] });
    cluster.jobs.set('23', { name: 'someone-else', states: ['RUNNING'] });
    cluster.jobs.set('24', { name: 'bottega.d.mt1', states: ['RUNNING'] }); // no comment: not ours
    cluster.comments.set('20', 'bottega:mt1:a');
    cluster.comments.set('21', 'bottega:mt1:exp%2Fb');
    cluster.comments.set('22', 'bottega:mt1:c');
    const asked: string[] = [];
    const orphans = await reapOrphans(
      cluster,
      async (wf) => {
        asked.push(wf);
        return wf === 'a';
      },
      { cancel: true }
    );
    assert.deepEqual(
      orphans.map((o) => [o.jobId, o.workflowId, o.stage]),
      [['21', 'exp/b', 'mt1']]
    );
    assert.deepEqual(cluster.cancelled, ['21']);
    assert.deepEqual(asked.sort(), ['a', 'exp/b']);
  });

  it('scancels on a workflow cancel, never on worker shutdown', async () => {
    for (const [details, expected] of [
      [new ActivityCancellationDetails({ workerShutdown: true }), []],
      [new ActivityCancellationDetails({ cancelRequested: true }), ['13']],
    ] as const) {
      const { cluster, acts, mock, beats } = setup();
      cluster.jobs.set('13', { name: NAME, states: ['RUNNING'] });
      const run = mock.run(acts.monitorJob, { ...base, jobId: '13', lastState: 'RUNNING' as const, reportAfterS: 600 });
      while (!beats.some((b) => b.state === 'RUNNING')) await new Promise((r) => setTimeout(r, 5));
      mock.cancel(details.workerShutdown ? 'WORKER_SHUTDOWN' : 'CANCELLED', details);
      await assert.rejects(run);
      assert.deepEqual(cluster.cancelled, expected);
    }
  });
});
