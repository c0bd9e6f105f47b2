import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  MixStageResult,
  TASK_QUEUES,
  TrainStageResult,
  type ArtifactRef,
  type ExperimentResult,
  type TrainConfigInput,
} from '../../contracts';
import { makeFixtureRepos } from '../../infra/fixtures/make-repos';
import { fixtureSpec, runWorkers } from '../helpers/stack';
import { prerequisites, setupFailed } from '../helpers/prereq';
import { startTemporal } from '../helpers/temporal';

/**
 * The bundled reference trainer (PyTorch, CPU) as Slurm jobs on the real single-node cluster,
 * driven by the real Temporal dev server: trained on the real mix stage's shards inside one
 * experiment, and preempted with `scontrol requeue` mid-run, after which it resumes from its
 * checkpoint and ends with the same weights as an uninterrupted run.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const prereqSkip = await prerequisites('temporal', 'slurm');
const setup = prereqSkip
  ? null
  : spawnSync('bash', [join(root, 'infra/trainer/setup.sh')], { encoding: 'utf8', timeout: 900_000 });
const python = setup?.status === 0 ? setup.stdout.trim().split('\n').pop()! : '';
const skip =
  prereqSkip ||
  (setup && setup.status !== 0
    ? setupFailed('trainer', `infra/trainer/setup.sh exited ${setup.status}: ${setup.stderr.trim().split('\n').pop()}`)
    : false);

const tmp = mkdtempSync(join(tmpdir(), 'bottega-train-ref-'));
const home = join(tmp, 'home');
const RUN = Date.now().toString(36);
let env: TestWorkflowEnvironment;
let workers: { stop(): Promise<void> } | undefined;

type Rec = Record<string, number | string | null>;
const records = (file: string): Rec[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const squeueState = (jobId: string) =>
  execFileSync('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T'], { encoding: 'utf8' }).trim();

/** A CPU job of the reference trainer (one process; torchrun with one worker). */
function trainConfig(over: Partial<TrainConfigInput>): TrainConfigInput {
  return {
    resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '6G', time_limit: '20:00' },
    framework: { type: 'reference', python },
    workdir: join(tmp, 'slurm'),
    poll: { initial_s: 0.5, max_s: 2, heartbeat_timeout_s: 20, report_every_s: 5 },
    ...over,
  };
}

describe('reference trainer on Slurm (real cluster, real Temporal, torch on CPU)', { skip }, () => {
  before(async () => {
    assert.equal(setup?.status, 0, `infra/trainer/setup.sh failed:\n${setup?.stderr}`);
    env = await startTemporal();
    workers = await runWorkers(env, home, ['cpu', 'slurm']);
  });
  after(async () => {
    await workers?.stop();
    await env?.teardown();
  });

  it('mine → mix → train: the trainer learns from the mixed shards; checkpoint and metrics are artifacts', async () => {
    const { repos } = await makeFixtureRepos(join(tmp, 'fixtures'));
    const id = `exp-it-train-${RUN}`;
    const spec = fixtureSpec(id, repos, {
      store: { uri: `file://${join(tmp, 'artifacts')}` },
      mix: {
        sources: [{ name: 'general_prs', from: 'mine.general' }],
        stages: [{ name: 'mt1', seq_len: 256, sources: [{ source: 'general_prs' }] }],
      },
      train: trainConfig({
        // Random init with the real Qwen vocabulary: the shards hold real Qwen2.5 token ids.
        model_config: 'tiny',
        stages: [
          {
            name: 'mt1',
            data: 'mt1',
            hparams: { global_batch: 8, micro_batch: 2, lr: 3e-3, warmup: 0.1, epochs: 4, threads: 1 },
          },
        ],
      }),
    });
    const r = (await env.client.workflow.execute('experimentWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [spec],
    })) as ExperimentResult;
    const mix = MixStageResult.parse(r.stages.mix!.result);
    const train = TrainStageResult.parse(r.stages.train!.result);
    const stage = train.stages[0]!;
    assert.equal(stage.state, 'COMPLETED');

    // It trained on the mix stage's shards: every sequence, 4 epochs.
    const sequences = mix.summary.stages.mt1!.sequences;
    const steps = records(fileURLToPath(stage.artifacts.metrics!.uri)).filter((x) => x.event === 'step');
    assert.equal(steps.length, Math.ceil((4 * sequences) / 8), 'one step per global batch over 4 epochs');
    const loss = steps.map((x) => x.loss as number);
    assert.ok(loss.at(-1)! < loss[0]! - 1, `the loss decreases: ${loss.map((l) => l.toFixed(2)).join(' ')}`);

    // The final checkpoint is a complete Hugging Face model directory; the listing is an artifact.
    assert.ok(existsSync(join(train.final_checkpoint, 'COMPLETE')));
    assert.ok(existsSync(join(train.final_checkpoint, 'model.safetensors')));
    const listing = readFileSync(fileURLToPath(stage.artifacts.checkpoints!.uri), 'utf8');
    assert.match(listing, /model\.safetensors/);
    // What ran is recoverable: the script and its inputs were stored before submission.
    assert.match(readFileSync(fileURLToPath(stage.artifacts.script.uri), 'utf8'), /#SBATCH --requeue/);
    const inputs = JSON.parse(readFileSync(fileURLToPath(stage.artifacts.inputs.uri), 'utf8')) as {
      manifest: ArtifactRef;
    };
    assert.equal(inputs.manifest.uri, mix.artifacts.manifests.mt1!.uri);
  });

  it('scontrol requeue mid-run: resumes from its checkpoint, same final weights, no repeated or skipped sample', async () => {
    // Learnable fixture shards (512-id vocabulary), written by the trainer's own shard writer.
    const data = join(tmp, 'pattern');
    execFileSync(python, [
      join(root, 'infra/trainer/shards.py'),
      data,
      '--docs',
      '96',
      '--seq-len',
      '64',
      '--vocab',
      '512',
    ]);
    const manifest: ArtifactRef = {
      uri: pathToFileURL(join(data, 'manifest.json')).href,
      sha256: sha(join(data, 'manifest.json')),
      bytes: readFileSync(join(data, 'manifest.json')).length,
      records: null,
      schemaVersion: 1,
    };
    const hparams = {
      global_batch: 4,
      micro_batch: 2,
      lr: 3e-3,
      warmup: 0.1,
      max_steps: 24,
      save_every: 2,
      threads: 1,
    };
    const id = `train-requeue-${RUN}`;
    const h = await env.client.workflow.start('trainStageWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          experimentId: id,
          config: trainConfig({ model_config: 'tiny-512', stages: [{ name: 'mt1', data: 'pattern', hparams }] }),
          store: { uri: `file://${join(tmp, 'artifacts')}` },
          prefix: `${id}/train`,
          manifests: { pattern: manifest },
        },
      ],
    });
    const jobDir = join(tmp, 'slurm', id, 'mt1');
    const metrics = join(jobDir, 'metrics.jsonl');
    // Preempt once a few checkpoints exist.
    const deadline = Date.now() + 180_000;
    while (!(existsSync(metrics) && records(metrics).filter((x) => x.event === 'step').length >= 9)) {
      assert.ok(Date.now() < deadline, 'the job did not reach step 9 in time');
      await sleep(300);
    }
    const jobId = execFileSync('squeue', ['-h', '-n', `bottega.${id}.mt1`, '-o', '%i'], { encoding: 'utf8' }).trim();
    execFileSync('scontrol', ['requeue', jobId]);
    // A requeued job waits out BeginTime (~2 min) once it is back in the queue: make it eligible
    // now. An update while it is still COMPLETING is ignored, and a start within the second of the
    // requeue meets the revoked credential, so wait for PENDING plus two seconds (train-stage.test.ts).
    const until = Date.now() + 120_000;
    while (squeueState(jobId) !== 'PENDING') {
      assert.ok(Date.now() < until, `job ${jobId} did not go back to PENDING: ${squeueState(jobId)}`);
      await sleep(250);
    }
    await sleep(2000);
    execFileSync('scontrol', ['update', `jobid=${jobId}`, 'StartTime=now']);
    const r = TrainStageResult.parse(await h.result());
    assert.equal(r.stages[0]!.jobId, jobId, 'the same job, requeued, not a second submission');

    // Metrics: every step exactly once, sample positions contiguous across the requeue.
    const steps = records(metrics).filter((x) => x.event === 'step');
    assert.deepEqual(
      steps.map((x) => x.step),
      Array.from({ length: 24 }, (_, i) => i + 1)
    );
    for (let i = 1; i < steps.length; i++)
      assert.equal(steps[i]!.first_sample, (steps[i - 1]!.last_sample as number) + 1, `gap or repeat at step ${i + 1}`);
    const log = readFileSync(join(jobDir, `job-${jobId}.log`), 'utf8');
    assert.match(log, /restart 1/, 'the job really ran twice');
    assert.match(log, /resum/i, 'the second run resumed from a checkpoint');

    // An uninterrupted run of the same config gives bitwise the same weights.
    const cfg = JSON.parse(readFileSync(join(jobDir, 'hparams.json'), 'utf8')) as Record<string, unknown>;
    const ref = join(tmp, 'uninterrupted');
    writeFileSync(join(tmp, 'ref.json'), JSON.stringify({ ...cfg, checkpoint_dir: join(ref, 'checkpoints') }));
    execFileSync(python, [
      join(root, 'infra/trainer/train.py'),
      '--config',
      join(tmp, 'ref.json'),
      '--data',
      data,
      '--output',
      ref,
    ]);
    assert.equal(
      sha(join(r.final_checkpoint, 'model.safetensors')),
      sha(join(ref, 'checkpoints', 'step-00000024', 'model.safetensors')),
      'preempted + resumed = uninterrupted'
    );
  });
});
