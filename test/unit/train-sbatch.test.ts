import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TrainConfig } from '../../contracts';
import { jobName, jobPaths } from '../../activities/train/paths';
import {
  REFERENCE_COMMAND,
  parseJobComment,
  renderCommand,
  renderJobScript,
  type JobScriptInput,
} from '../../activities/train/sbatch';
import { restJobProperties } from '../../activities/train/rest-backend';

function input(over: Partial<TrainConfig> = {}): JobScriptInput {
  const config = TrainConfig.parse({
    base_model: '/models/base',
    framework: { type: 'reference', python: 'python3' },
    resources: {
      nodes: 2,
      gpus_per_node: 8,
      cpus_per_task: 32,
      mem: '400G',
      partition: 'gpu',
      account: 'lab',
      qos: 'high',
    },
    signal_lead_s: 300,
    stages: [{ name: 'mt1', data: 'mt1' }],
    ...over,
  });
  return {
    name: jobName('exp-1/train', 'mt1'),
    workflowId: 'exp-1/train',
    stage: 'mt1',
    resources: config.resources,
    signalLeadS: config.signal_lead_s,
    framework: config.framework,
    paths: jobPaths('/shared/bottega', 'exp-1', 'mt1'),
    hparams: config.stages[0]!.hparams,
    manifest: "/data/mix/it's/manifest.json",
    dataDir: "/data/mix/it's",
    initModel: '/models/base',
    trainer: '/opt/bottega/infra/trainer/train.py',
    env: { HF_HOME: '/cache/hf' },
  };
}

describe('sbatch template', () => {
  const { script, options, command } = renderJobScript(input());

  it('has the directives: requeue, append, signal, one task per node, resources', () => {
    const directives = script.split('\n').filter((l) => l.startsWith('#SBATCH '));
    for (const d of [
      '#SBATCH --job-name=bottega.exp-1_train.mt1',
      '#SBATCH --comment=bottega:mt1:exp-1%2Ftrain',
      '#SBATCH --nodes=2',
      '#SBATCH --ntasks-per-node=1',
      '#SBATCH --cpus-per-task=32',
      '#SBATCH --gpus-per-node=8',
      '#SBATCH --mem=400G',
      '#SBATCH --partition=gpu',
      '#SBATCH --account=lab',
      '#SBATCH --qos=high',
      '#SBATCH --time=24:00:00',
      '#SBATCH --requeue',
      '#SBATCH --open-mode=append',
      '#SBATCH --signal=B:USR2@300',
      '#SBATCH --output=/shared/bottega/exp-1/mt1/job-%j.log',
      '#SBATCH --chdir=/shared/bottega/exp-1/mt1',
    ])
      assert.ok(directives.includes(d), `missing ${d}`);
    // every directive precedes the first command
    const firstCmd = script.split('\n').findIndex((l, i) => i > 0 && !l.startsWith('#'));
    assert.ok(
      script
        .split('\n')
        .slice(firstCmd)
        .every((l) => !l.startsWith('#SBATCH'))
    );
    assert.equal(options.signal, 'B:USR2@300');
  });

  it('takes MASTER_ADDR from the first host and runs one srun task per node', () => {
    assert.match(script, /export MASTER_ADDR="\$\(scontrol show hostnames "\$SLURM_JOB_NODELIST" \| head -n1\)"/);
    assert.match(script, /export MASTER_PORT=29500/);
    assert.match(script, /^srun --nodes=2 --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c /m);
  });

  it('traps USR2, forwards it, and requeues itself after the trainer stops', () => {
    assert.match(script, /^trap on_usr2 USR2$/m);
    assert.match(script, /kill -USR2 "\$srun_pid"/);
    assert.match(script, /scontrol requeue "\$SLURM_JOB_ID"/);
    // torchrun would die on USR2: the node wrapper signals its workers instead
    assert.match(script, /pkill -USR2 -P/);
    assert.ok(script.indexOf('trap on_usr2 USR2') < script.indexOf('srun --nodes'));
  });

  it('writes its own exit-code file, after the requeue check', () => {
    assert.match(script, /EXIT_FILE="\$JOB_DIR\/exit-code\.\$SLURM_JOB_ID"/);
    assert.match(script, /echo "\$rc" > "\$EXIT_FILE"/);
    assert.ok(script.indexOf('scontrol requeue') < script.indexOf('echo "$rc" > "$EXIT_FILE"'));
  });

  it('renders the reference command with quoted placeholders', () => {
    assert.ok(REFERENCE_COMMAND.includes('{hparams_file}'));
    assert.match(command, /^python3 -m torch\.distributed\.run --nnodes=2 --nproc_per_node=8 /);
    assert.ok(command.includes(`--data '/data/mix/it'\\''s'`), command);
    assert.ok(command.includes('--config /shared/bottega/exp-1/mt1/hparams.json'));
    assert.match(script, /export HF_HOME=\/cache\/hf/);
  });

  it('renders a user command; an unknown placeholder is an InvalidSpec', () => {
    const r = renderJobScript(
      input({
        framework: {
          type: 'command',
          command: 'megatron {hparams_json} --seed {seed}',
          python: 'python3',
          usr2_to: 'launcher',
        },
      } as Partial<TrainConfig>)
    );
    assert.ok(r.command.startsWith(`megatron '{"global_batch":1024,`), r.command);
    assert.match(r.command, /--seed 0$/);
    assert.match(r.script, /kill -USR2 "\$pid"/);
    assert.throws(
      () => renderCommand('run {nope}', {} as never),
      (e: unknown) => (e as { type?: string }).type === 'InvalidSpec' && /\{nope\}/.test(String(e))
    );
  });

  it('maps options to slurmrestd job properties per API version', () => {
    const v38 = restJobProperties(options, 'v0.0.38', { PATH: '/bin' }) as Record<string, unknown>;
    assert.deepEqual(v38.nodes, [2, 2]);
    assert.equal(v38.memory_per_node, 400 * 1024);
    assert.equal(v38.time_limit, 24 * 60);
    assert.equal(v38.signal, 'USR2@300');
    assert.equal(v38.requeue, true);
    assert.deepEqual(v38.environment, { PATH: '/bin' });
    const v40 = restJobProperties(options, 'v0.0.40', { PATH: '/bin' }) as Record<string, unknown>;
    assert.equal(v40.signal, 'B:USR2@300');
    assert.deepEqual(v40.environment, ['PATH=/bin']);
    assert.deepEqual(v40.time_limit, { set: true, infinite: false, number: 1440 });
  });

  it('records the owning workflow in the comment', () => {
    assert.deepEqual(parseJobComment(options.comment), { workflowId: 'exp-1/train', stage: 'mt1' });
    assert.equal(parseJobComment('something else'), null);
    assert.equal(parseJobComment(null), null);
  });

  it('derives stable, safe job names', () => {
    assert.equal(jobName('exp-1/train', 'sft'), 'bottega.exp-1_train.sft');
    const long = jobName('x'.repeat(300), 'sft');
    assert.ok(long.length <= 100);
    assert.equal(long, jobName('x'.repeat(300), 'sft'));
    assert.notEqual(long, jobName('x'.repeat(301), 'sft'));
  });

  describe('shards staged from S3', () => {
    it('each node task stages before the trainer, and removes the copy unless the job requeues', () => {
      const sd = {
        python: '/venv/bin/python',
        script: '/opt/stage_data.py',
        list: '/shared/j/data-urls.json',
        dir: '/tmp/bd/j',
      };
      const { script, command } = renderJobScript({
        ...input(),
        stageData: sd,
        dataDir: sd.dir,
        manifest: `${sd.dir}/manifest.json`,
      });
      assert.match(command, /--data \/tmp\/bd\/j /);
      const wrapper = /bash -c '([\s\S]*?)' &\nsrun_pid/.exec(script)![1]!;
      const lines = wrapper.split('\n');
      assert.match(
        lines[0]!,
        /\/venv\/bin\/python'?\S* '?\S*stage_data.py'? --list '?\S*data-urls.json'? --dest '?\/tmp\/bd\/j'? \|\| exit \$\?/
      );
      assert.match(lines[1]!, /torch\.distributed\.run .* &$/);
      assert.deepEqual(
        lines.slice(-3).map((l) => l.replace(/'\\''/g, "'")),
        ['rc=$?', `[[ -e "$BOTTEGA_STOP_FILE" ]] || rm -rf /tmp/bd/j`, 'exit $rc']
      );
      assert.doesNotMatch(renderJobScript(input()).script, /stage_data/);
    });
  });
});
