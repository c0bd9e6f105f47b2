import { ApplicationFailure } from '@temporalio/common';
import { INVALID_SPEC, type SlurmResources, type TrainFramework, type TrainHparams } from '../../contracts';
import type { JobPaths } from './paths';
import { shQuote } from './runner';

/**
 * Placeholders of a framework command template. Each is replaced by its shell-quoted value;
 * `$MASTER_ADDR`, `$MASTER_PORT`, `$SLURM_NODEID`, `$SLURM_RESTART_COUNT` and `$BOTTEGA_STOP_FILE`
 * are set in the job's environment and may be used as-is.
 */
export const TEMPLATE_PLACEHOLDERS = [
  'python',
  'trainer',
  'data_dir',
  'manifest',
  'out_dir',
  'ckpt_dir',
  'metrics',
  'hparams_json',
  'hparams_file',
  'init_model',
  'stage',
  'nnodes',
  'nproc_per_node',
  'seed',
  'job_dir',
] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

/** The reference trainer's per-node launch: torchrun (as `python -m torch.distributed.run`). */
export const REFERENCE_COMMAND =
  '{python} -m torch.distributed.run --nnodes={nnodes} --nproc_per_node={nproc_per_node}' +
  ' --node_rank=$SLURM_NODEID --master_addr=$MASTER_ADDR --master_port=$MASTER_PORT' +
  ' {trainer} --config {hparams_file} --data {data_dir} --output {out_dir} --metrics {metrics}';

/** Port of the torch rendezvous on the first node. */
export const MASTER_PORT = 29500;

/** Values for the template, before quoting. */
export type TemplateValues = Record<TemplatePlaceholder, string>;

/** Substitutes `{name}` placeholders with shell-quoted values; an unknown name is an InvalidSpec. */
export function renderCommand(template: string, values: TemplateValues): string {
  return template.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw ApplicationFailure.create({
        type: INVALID_SPEC,
        nonRetryable: true,
        message: `framework command: unknown placeholder {${name}}; known: ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
      });
    }
    return shQuote(values[name as TemplatePlaceholder]);
  });
}

/** Structured sbatch options: written as `#SBATCH` lines, and mapped to JSON by the REST backend. */
export interface SbatchOptions {
  name: string;
  /** `bottega:<stage>:<url-encoded workflow id>`: lets the reaper find the job's workflow. */
  comment: string;
  nodes: number;
  gpusPerNode: number;
  cpusPerTask: number;
  mem?: string;
  partition?: string;
  account?: string;
  qos?: string;
  time: string;
  /** `B:USR2@<s>`: the batch shell gets USR2 `<s>` seconds before the time limit. */
  signal: string;
  requeue: true;
  openMode: 'append';
  /** stdout+stderr of the batch script (`%j` = job id). */
  output: string;
  chdir: string;
  extra: string[];
}

/** Everything the job script is rendered from. */
export interface JobScriptInput {
  name: string;
  /** The workflow that owns the job (recorded in `--comment`). */
  workflowId: string;
  stage: string;
  resources: SlurmResources;
  signalLeadS: number;
  framework: TrainFramework;
  paths: JobPaths;
  hparams: TrainHparams;
  /** Manifest location on the cluster (a path) and the directory of its shards. */
  manifest: string;
  dataDir: string;
  initModel: string;
  /** The reference trainer's path on the cluster. */
  trainer: string;
  env: Record<string, string>;
  /**
   * Shards outside the cluster's filesystem (S3): each node task first downloads them into `dir`
   * (node-local; `dataDir` points there) with `script` (infra/trainer/stage_data.py) from the
   * presigned URLs in `list`, and removes them when the trainer ends for good (kept on requeue).
   */
  stageData?: { python: string; script: string; list: string; dir: string };
}

/** The job script and its options. */
export interface JobScript {
  script: string;
  options: SbatchOptions;
  /** The per-node command after substitution. */
  command: string;
}

/** The `--comment` naming a job's workflow and stage (no spaces, no `|`). */
export const jobComment = (workflowId: string, stage: string): string =>
  `bottega:${stage}:${encodeURIComponent(workflowId)}`;

/** The workflow and stage of a bottega job's comment; null for other comments. */
export function parseJobComment(comment: string | null | undefined): { workflowId: string; stage: string } | null {
  const m = /^bottega:([^:]+):(\S+)$/.exec(comment ?? '');
  if (!m) return null;
  try {
    return { stage: m[1]!, workflowId: decodeURIComponent(m[2]!) };
  } catch {
    return null;
  }
}

/** The sbatch options a job's resources set (nodes, GPUs, CPUs, memory, partition, time...). */
export function resourceOptions(
  r: SlurmResources
): Pick<
  SbatchOptions,
  'nodes' | 'gpusPerNode' | 'cpusPerTask' | 'mem' | 'partition' | 'account' | 'qos' | 'time' | 'extra'
> {
  return {
    nodes: r.nodes,
    gpusPerNode: r.gpus_per_node,
    cpusPerTask: r.cpus_per_task,
    ...(r.mem ? { mem: r.mem } : {}),
    ...(r.partition ? { partition: r.partition } : {}),
    ...(r.account ? { account: r.account } : {}),
    ...(r.qos ? { qos: r.qos } : {}),
    time: r.time_limit,
    extra: r.extra_sbatch,
  };
}

/** The sbatch options for a job. */
export function sbatchOptions(i: JobScriptInput): SbatchOptions {
  return {
    name: i.name,
    comment: jobComment(i.workflowId, i.stage),
    ...resourceOptions(i.resources),
    signal: `B:USR2@${i.signalLeadS}`,
    requeue: true,
    openMode: 'append',
    output: i.paths.log,
    chdir: i.paths.dir,
  };
}

/**
 * The `#SBATCH` lines of a job. `requeueAndSignal: false` leaves out `--requeue` and `--signal`
 * (a serving job has nothing to checkpoint).
 */
export function sbatchDirectives(o: SbatchOptions, { requeueAndSignal = true } = {}): string[] {
  const d = [
    `--job-name=${o.name}`,
    `--comment=${o.comment}`,
    `--nodes=${o.nodes}`,
    '--ntasks-per-node=1',
    `--cpus-per-task=${o.cpusPerTask}`,
    ...(o.gpusPerNode > 0 ? [`--gpus-per-node=${o.gpusPerNode}`] : []),
    ...(o.mem ? [`--mem=${o.mem}`] : []),
    ...(o.partition ? [`--partition=${o.partition}`] : []),
    ...(o.account ? [`--account=${o.account}`] : []),
    ...(o.qos ? [`--qos=${o.qos}`] : []),
    `--time=${o.time}`,
    ...(requeueAndSignal ? ['--requeue'] : []),
    `--open-mode=${o.openMode}`,
    ...(requeueAndSignal ? [`--signal=${o.signal}`] : []),
    `--output=${o.output}`,
    `--chdir=${o.chdir}`,
    ...o.extra,
  ];
  return d.map((x) => `#SBATCH ${x}`);
}

/**
 * Renders the batch script. The batch shell:
 * - sets `MASTER_ADDR` to the first host of `scontrol show hostnames $SLURM_JOB_NODELIST`;
 * - starts one `srun` task per node, each running the framework command in a wrapper that
 *   forwards USR2 to the trainer (the launcher itself, or torchrun's workers: torchrun would die);
 * - traps USR2 (sent `signal_lead_s` before the time limit): creates the stop file and forwards
 *   USR2 through srun; when the trainer has checkpointed and exited, a stop file (made by this
 *   trap, or by a node task that got the signal directly) makes it `scontrol requeue` itself; the
 *   requeued job restarts with the same id and resumes from the checkpoint;
 * - writes its exit status to `exit-code.<jobid>` (the ground truth when Slurm has forgotten the
 *   job and there is no accounting).
 */
export function renderJobScript(i: JobScriptInput): JobScript {
  const options = sbatchOptions(i);
  const template = i.framework.type === 'command' ? i.framework.command : (i.framework.command ?? REFERENCE_COMMAND);
  const usr2To = i.framework.type === 'command' ? i.framework.usr2_to : 'workers';
  const values: TemplateValues = {
    python: i.framework.python,
    trainer: i.trainer,
    data_dir: i.dataDir,
    manifest: i.manifest,
    out_dir: i.paths.dir,
    ckpt_dir: i.paths.checkpoints,
    metrics: i.paths.metrics,
    hparams_json: JSON.stringify(i.hparams),
    hparams_file: i.paths.hparams,
    init_model: i.initModel,
    stage: i.stage,
    nnodes: String(i.resources.nodes),
    nproc_per_node: String(Math.max(1, i.resources.gpus_per_node)),
    seed: String(i.hparams.seed),
    job_dir: i.paths.dir,
  };
  const command = renderCommand(template, values);
  const q = shQuote;
  const envLines = Object.entries(i.env).map(([k, v]) => `export ${k}=${q(v)}`);
  // The per-node wrapper, run by srun in each allocation node: bash -c '<wrapper>'.
  const signalTarget = usr2To === 'workers' ? 'pkill -USR2 -P "$pid"' : 'kill -USR2 "$pid"';
  const sd = i.stageData;
  const wrapper = [
    ...(sd ? [`${q(sd.python)} ${q(sd.script)} --list ${q(sd.list)} --dest ${q(sd.dir)} || exit $?`] : []),
    `${command} &`,
    'pid=$!',
    `trap 'touch "$BOTTEGA_STOP_FILE"; ${signalTarget} 2>/dev/null' USR2`,
    // wait returns early when a trapped signal arrives: keep waiting until the trainer exits,
    // then wait once more for its real status (bash keeps it).
    'while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done',
    'wait "$pid"',
    // Staged shards stay for a requeued run (stop file) and go when the trainer is done.
    ...(sd ? ['rc=$?', `[[ -e "$BOTTEGA_STOP_FILE" ]] || rm -rf ${q(sd.dir)}`, 'exit $rc'] : []),
  ].join('\n');
  const script = [
    '#!/bin/bash',
    ...sbatchDirectives(options),
    '# Generated by bottega (activities/train/sbatch.ts). Stage: ' + i.stage,
    'set -u',
    `JOB_DIR=${q(i.paths.dir)}`,
    'EXIT_FILE="$JOB_DIR/exit-code.$SLURM_JOB_ID"',
    'rm -f "$EXIT_FILE"',
    `export BOTTEGA_STOP_FILE=${q(i.paths.stop)}`,
    'rm -f "$BOTTEGA_STOP_FILE"',
    'echo "[bottega] job $SLURM_JOB_ID start (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST at $(date -Is)"',
    'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)"',
    `export MASTER_PORT=${MASTER_PORT}`,
    `export BOTTEGA_STAGE=${q(i.stage)}`,
    `export BOTTEGA_CKPT_DIR=${q(i.paths.checkpoints)}`,
    `export BOTTEGA_METRICS=${q(i.paths.metrics)}`,
    ...envLines,
    'on_usr2() {',
    '  echo "[bottega] USR2: time limit or preemption near; asking the trainer to checkpoint"',
    '  touch "$BOTTEGA_STOP_FILE"',
    '  kill -USR2 "$srun_pid" 2>/dev/null  # srun forwards USR2 to every node task',
    '}',
    'trap on_usr2 USR2',
    `srun --nodes=${options.nodes} --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c ${q(wrapper)} &`,
    'srun_pid=$!',
    'while kill -0 "$srun_pid" 2>/dev/null; do wait "$srun_pid"; done',
    'wait "$srun_pid"',
    'rc=$?',
    // Stopped by USR2 (here or in the node tasks): the trainer has checkpointed; go back in the queue.
    'if [[ -e "$BOTTEGA_STOP_FILE" ]]; then',
    '  echo "[bottega] trainer stopped ($rc) after USR2; requeueing job $SLURM_JOB_ID"',
    '  scontrol requeue "$SLURM_JOB_ID"',
    '  sleep 600  # the requeue ends this shell',
    'fi',
    'echo "$rc" > "$EXIT_FILE"',
    'echo "[bottega] job $SLURM_JOB_ID exit $rc at $(date -Is)"',
    'exit "$rc"',
    '',
  ].join('\n');
  return { script, options, command };
}
