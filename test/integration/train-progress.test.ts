import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { TASK_QUEUES, TrainStageResult, type ArtifactRef, type TrainConfigInput } from '../../contracts';
import { LocalArtifactStore } from '../../activities/store/artifact-store';
import { logsCommand } from '../../cli/logs';
import { stageCounts } from '../../cli/progress';
import type { TrainProgress } from '../../workflows/train';
import { prerequisites } from '../helpers/prereq';
import { runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';

/**
 * Live progress of the train stage on the real single-node Slurm cluster and a real Temporal dev
 * server, with the default poll and report cadence: a running job's state, elapsed time, log
 * lines and trainer metrics reach the `progress` query (and so `run --wait`), the Web UI's
 * current details and `bottega logs` within seconds, and the stage ends within seconds of the job.
 */
const prereqSkip = await prerequisites('temporal', 'slurm');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-train-progress-'));
const home = join(tmp, 'home');
const workdir = join(tmp, 'work');
const trainer = join(tmp, 'timed-trainer.sh');
writeFileSync(
  trainer,
  `#!/bin/bash
# timed-trainer.sh DIR METRICS CKPT: FAKE_STEPS steps of a second (metrics lines as the reference
# trainer writes them), then a complete checkpoint; DIR/started and DIR/ended hold epoch ms.
dir=$1 metrics=$2 ckpt=$3
steps=\${FAKE_STEPS:-20}
date +%s%3N > "$dir/started"
echo "{\\"event\\":\\"start\\",\\"step\\":0,\\"total_steps\\":$steps}" >> "$metrics"
for i in $(seq 1 "$steps"); do
  sleep 1
  echo "step $i/$steps loss $((100 - i))"
  echo "{\\"event\\":\\"step\\",\\"step\\":$i,\\"loss\\":$((100 - i)).5,\\"tokens_per_s\\":$((1000 * i)),\\"lr\\":0.001}" >> "$metrics"
done
mkdir -p "$ckpt/step-$steps" && echo '{}' > "$ckpt/step-$steps/COMPLETE"
echo "trained"
date +%s%3N > "$dir/ended"
`
);
const store = { uri: `file://${join(tmp, 'artifacts')}` };
const RUN = Date.now().toString(36);
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> }[] = [];
let manifests: Record<string, ArtifactRef>;

function config(steps: number, poll: TrainConfigInput['poll'] = {}): TrainConfigInput {
  return {
    resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '200M', time_limit: '10:00' },
    framework: { type: 'command', command: `bash ${trainer} {job_dir} {metrics} {ckpt_dir}` },
    workdir,
    env: { FAKE_STEPS: String(steps) },
    poll,
    stages: [{ name: 'mt1', data: 'mt1' }],
  };
}

/** Starts the train stage as `<experiment>/train`, as the experiment workflow names it. */
function start(experimentId: string, cfg: TrainConfigInput, extra: Record<string, unknown> = {}) {
  return env.client.workflow.start('trainStageWorkflow', {
    workflowId: `${experimentId}/train`,
    taskQueue: TASK_QUEUES.cpu,
    args: [{ experimentId, config: cfg, store, prefix: `${experimentId}/train`, manifests, ...extra }],
  });
}

const stamp = (experimentId: string, name: 'started' | 'ended') => {
  try {
    return Number(readFileSync(join(workdir, experimentId, 'mt1', name), 'utf8').trim());
  } catch {
    return null;
  }
};

/** The Web UI's current details of a workflow (the SDK's metadata query). */
async function currentDetails(h: WorkflowHandle): Promise<string> {
  const m = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return m.currentDetails ?? '';
}

describe('train stage live progress on Slurm', { skip: prereqSkip }, () => {
  before(async () => {
    env = await startTemporal();
    const s = new LocalArtifactStore(join(tmp, 'artifacts'));
    manifests = { mt1: await s.put('mix/mt1/manifest.json', '{"shards":[]}\n', { records: null }) };
    workers = [await runWorkers(env, home, ['cpu']), await runWorkers(env, home, ['slurm'])];
  });
  after(async () => {
    for (const w of workers.reverse()) await w.stop();
    await env?.teardown();
  });

  it('shows RUNNING, a growing elapsed time, log lines and metrics within seconds, and ends within seconds of the job', async (t) => {
    const id = `train-live-${RUN}`;
    const h = await start(id, config(20));
    let running: { at: number; elapsed: number } | null = null;
    let growing: number | null = null;
    let metricsAt: number | null = null;
    let details = '';
    let cli = '';
    let logsOut: string[] = [];
    const deadline = Date.now() + 120_000;
    // Until the job has ended: watch the progress query as `run --wait` does.
    while (stamp(id, 'ended') === null) {
      assert.ok(Date.now() < deadline, 'the job never ended');
      const p = await h.query<TrainProgress>('progress').catch(() => null);
      const job = p?.stages[0];
      const now = Date.now();
      if (job?.state === 'RUNNING') {
        running ??= { at: now, elapsed: job.elapsed };
        if (growing === null && job.elapsed > running.elapsed) growing = now;
        if (metricsAt === null && job.metrics && job.metrics.step >= 1 && job.logTail.some((l) => /^step \d/.test(l))) {
          metricsAt = now;
          details = await currentDetails(h);
          cli = stageCounts('train', p as unknown as Record<string, unknown>)!.extra.join(' · ');
          const out: string[] = [];
          await logsCommand(
            env.client,
            { id, stage: 'train', home },
            { out: (s) => out.push(s), err: () => undefined }
          );
          logsOut = out;
        }
      }
      await sleep(200);
    }
    const started = stamp(id, 'started')!;
    const ended = stamp(id, 'ended')!;
    const r = TrainStageResult.parse(await h.result());
    const done = Date.now();
    assert.equal(r.stages[0]!.state, 'COMPLETED');
    assert.ok(running && growing && metricsAt, JSON.stringify({ running, growing, metricsAt }));
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    t.diagnostic(
      `RUNNING seen ${s(running.at - started)} after the trainer started, elapsed growing after ` +
        `${s(growing - started)}, metrics after ${s(metricsAt - started)}; stage done ${s(done - ended)} after the job ended`
    );
    assert.ok(running.at - started < 10_000, `RUNNING seen ${s(running.at - started)} after start`);
    assert.ok(growing - started < 10_000, `elapsed grew ${s(growing - started)} after start`);
    assert.ok(done - ended < 10_000, `stage done ${s(done - ended)} after the job ended`);

    // The same live state in the Web UI's current details, `run --wait`'s line and `bottega logs`.
    assert.match(details, /mt1 \(job \d+\) RUNNING \d+s · step \d+\/20 · loss \d+\.5 · [\d,.k]+ tok\/s/);
    assert.match(details, /step \d+\/20 loss/);
    assert.match(cli, /^mt1 RUNNING \d+s · step \d+\/20 · loss \d+\.5 · [\d,.k]+ tok\/s$/);
    const text = logsOut.join('\n');
    assert.match(text, /live progress/);
    assert.match(text, /mt1 \(job \d+\) RUNNING .*step \d+\/20/);
    assert.match(text, /step \d+\/20 loss/);

    const p = await h.query<TrainProgress>('progress');
    assert.equal(p.stages[0]!.state, 'COMPLETED');
    assert.equal(p.stages[0]!.metrics?.step, 20);
    assert.equal(p.stages[0]!.metrics?.total_steps, 20);
  });

  it('a long job continues as new between reports and still completes with its progress', async () => {
    const id = `train-continue-${RUN}`;
    const h = await start(id, config(8, { report_initial_s: 1, report_every_s: 1 }), { continueAsNewAfterReports: 2 });
    const firstRun = h.firstExecutionRunId;
    const r = TrainStageResult.parse(await h.result());
    assert.equal(r.stages[0]!.state, 'COMPLETED');
    assert.match(r.final_checkpoint, /checkpoints\/step-8$/);
    const d = await h.describe();
    assert.notEqual(d.runId, firstRun, 'continued as new');
    // One job across runs: the continued run re-attached instead of submitting again.
    const first = await env.client.workflow.getHandle(h.workflowId, firstRun).fetchHistory();
    const submits = (first.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'submitJob'
    );
    assert.equal(submits.length, 1);
    const last = await h.fetchHistory();
    assert.ok(
      !(last.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'submitJob'),
      'the last run did not submit'
    );
    const p = await h.query<TrainProgress>('progress');
    assert.equal(p.stages[0]!.state, 'COMPLETED');
    assert.equal(p.stages[0]!.jobId, r.stages[0]!.jobId);
    assert.equal(p.stages[0]!.metrics?.step, 8);
  });
});
