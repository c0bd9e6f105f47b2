import { z } from 'zod';
import { atMost } from './limits';
import { ArtifactRef } from './artifact';

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** How the slurm worker reaches the cluster. */
export const SlurmBackendName = z.enum(['cli', 'ssh', 'rest']);
export type SlurmBackendName = z.infer<typeof SlurmBackendName>;

/** A login node reached over SSH (the system `ssh` client, BatchMode: never a password prompt). */
export const SlurmSshConfig = z.strictObject({
  host: z.string().min(1),
  user: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  /** Env var holding the *path* of the private key; unset or empty means the ssh agent / ssh config. */
  key_env: EnvName.optional(),
  /** known_hosts file; unset means `$BOTTEGA_HOME/ssh/known_hosts` with accept-new. */
  known_hosts: z.string().optional(),
});
export type SlurmSshConfig = z.infer<typeof SlurmSshConfig>;

/** slurmrestd with JWT auth. The job directories must be on a filesystem the worker can read. */
export const SlurmRestConfig = z.strictObject({
  url: z.url(),
  /** Env var holding the JWT (`scontrol token`); the token itself never appears in a spec. */
  token_env: EnvName.default('SLURM_JWT'),
  /** `X-SLURM-USER-NAME`; unset means the worker's own user. */
  user: z.string().optional(),
  /** e.g. `v0.0.38`; unset means the newest version the server offers that bottega speaks. */
  api_version: z
    .string()
    .regex(/^v0\.0\.\d+$/, 'expected an API version like "v0.0.40"')
    .optional(),
});
export type SlurmRestConfig = z.infer<typeof SlurmRestConfig>;

/** The cluster: which backend, and its connection settings. */
export const SlurmClusterConfig = z
  .strictObject({
    backend: SlurmBackendName.default('cli'),
    ssh: SlurmSshConfig.optional(),
    rest: SlurmRestConfig.optional(),
  })
  .refine((c) => c.backend !== 'ssh' || c.ssh, { message: 'backend "ssh" needs cluster.ssh', path: ['ssh'] })
  .refine((c) => c.backend !== 'rest' || c.rest, { message: 'backend "rest" needs cluster.rest', path: ['rest'] });
export type SlurmClusterConfig = z.infer<typeof SlurmClusterConfig>;

/** Resources of each training job (one `srun` task per node). */
export const SlurmResources = z.strictObject({
  nodes: z.number().int().positive().check(atMost('nodes')).default(1),
  /** 0 for CPU-only jobs (tests); the trainer then runs one process per node. */
  gpus_per_node: z.number().int().nonnegative().check(atMost('gpus_per_node')).default(8),
  cpus_per_task: z.number().int().positive().check(atMost('cpus')).default(16),
  /** `--mem` per node, e.g. `"200G"`, `"512M"`; unset means the cluster default. */
  mem: z
    .string()
    .regex(/^\d+[KMGT]?$/, 'expected a size like "64G" or "512M"')
    .optional(),
  partition: z.string().optional(),
  account: z.string().optional(),
  qos: z.string().optional(),
  /** `--time`, e.g. `"24:00:00"` or `"2-00:00:00"`. */
  time_limit: z
    .string()
    .regex(/^(\d+-)?\d{1,2}(:\d{2}){0,2}$/, 'expected a Slurm time like "24:00:00" or "1-12:00:00"')
    .default('24:00:00'),
  /** Extra `#SBATCH` flags, e.g. `["--exclusive", "--constraint=h100"]`. */
  extra_sbatch: z.array(z.string().regex(/^--[a-z]/, 'expected a long sbatch flag like "--exclusive"')).default([]),
});
export type SlurmResources = z.infer<typeof SlurmResources>;

/**
 * The training program. `reference` is the bundled trainer (`infra/trainer/train.py`) under
 * `torchrun`; `command` is any per-node launch command with `{placeholders}` (see
 * `activities/train/sbatch.ts` for the list), e.g. a Megatron-LM or torchtitan launcher.
 */
export const TrainFramework = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('reference'),
    /**
     * Python on the compute nodes. `auto`: the venv `infra/trainer/setup.sh` made under the slurm
     * worker's BOTTEGA_HOME (`trainer-venv`) when it exists (local clusters), else `python3`.
     */
    python: z.string().default('auto'),
    /** Path of the trainer on the cluster; unset means `<repo>/infra/trainer/train.py`. */
    script: z.string().optional(),
    /** Per-node launch template; the default runs torchrun on the reference trainer. */
    command: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('command'),
    command: z.string().min(1),
    python: z.string().default('python3'),
    /** On USR2, signal the launched process itself (`launcher`) or its children (`workers`, torchrun). */
    usr2_to: z.enum(['launcher', 'workers']).default('launcher'),
  }),
]);
export type TrainFramework = z.infer<typeof TrainFramework>;

/** Hyperparameters of one stage as written by the user; omitted ones take the paper's defaults. */
export const TrainHparamsInput = z.looseObject({
  global_batch: z.number().int().positive().check(atMost('batch')).optional(),
  micro_batch: z.number().int().positive().check(atMost('batch')).optional(),
  lr: z.number().positive().optional(),
  /** Warmup as a fraction of the steps. */
  warmup: z.number().min(0).max(1).optional(),
  schedule: z.literal('cosine').optional(),
  epochs: z.number().positive().check(atMost('epochs')).optional(),
  /** Mask user and tool tokens out of the loss (SFT). */
  masked_loss: z.boolean().optional(),
  seed: z.number().int().nonnegative().optional(),
});
export type TrainHparamsInput = z.infer<typeof TrainHparamsInput>;

/** Resolved hyperparameters handed to the trainer (extra keys pass through). */
export const TrainHparams = z.looseObject({
  global_batch: z.number().int().positive(),
  micro_batch: z.number().int().positive(),
  lr: z.number().positive(),
  warmup: z.number().min(0).max(1),
  schedule: z.literal('cosine'),
  epochs: z.number().positive(),
  masked_loss: z.boolean(),
  seed: z.number().int().nonnegative(),
});
export type TrainHparams = z.infer<typeof TrainHparams>;

/** The paper's recipe (daVinci-Dev §6): mid-training vs SFT. */
export const PAPER_HPARAMS = {
  mt: {
    global_batch: 1024,
    micro_batch: 1,
    lr: 8e-5,
    warmup: 0.05,
    schedule: 'cosine',
    epochs: 1,
    masked_loss: false,
    seed: 0,
  },
  sft: {
    global_batch: 128,
    micro_batch: 1,
    lr: 1e-5,
    warmup: 0.1,
    schedule: 'cosine',
    epochs: 5,
    masked_loss: true,
    seed: 0,
  },
} as const satisfies Record<string, TrainHparams>;

/** Stage kinds: which of the paper's defaults apply. */
export const TrainStageKind = z.enum(['mt', 'sft']);
export type TrainStageKind = z.infer<typeof TrainStageKind>;

/** One training stage: a Slurm job. */
export const TrainStage = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected a short slug like "mt1" or "sft"'),
    /** `mt` or `sft`; unset means `sft` for names starting with "sft", else `mt`. */
    kind: TrainStageKind.optional(),
    /** The mix stage's name whose manifest this stage trains on. */
    data: z.string().min(1),
    /** `previous`: the previous stage's final checkpoint; otherwise a model path on the cluster. */
    init: z.string().min(1).optional(),
    hparams: TrainHparamsInput.prefault({}),
  })
  .transform((s) => {
    const kind: TrainStageKind = s.kind ?? (s.name.startsWith('sft') ? 'sft' : 'mt');
    const hparams: TrainHparams = { ...PAPER_HPARAMS[kind], ...stripUndefined(s.hparams) };
    return { ...s, kind, hparams };
  });
export type TrainStage = z.infer<typeof TrainStage>;

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The default stages: two mid-training stages, then SFT, chained. */
export const DEFAULT_TRAIN_STAGES = [
  { name: 'mt1', data: 'mt1' },
  { name: 'mt2', data: 'mt2', init: 'previous' },
  { name: 'sft', data: 'sft', init: 'previous' },
];

/**
 * Poll and report cadence of a job's monitor. The batched `squeue` poll runs every tenth of the
 * time since the job last changed state, between `initial_s` and `max_s`; the job's exit-code
 * and log files are also checked every `initial_s` and cut the wait short. The monitor reports
 * to the workflow (progress query, Web UI, `run --wait`) at once on a state change, and in
 * between after `report_initial_s`, doubling up to `report_every_s`.
 */
export const SlurmPollConfig = z.strictObject({
  initial_s: z.number().positive().check(atMost('duration_s')).default(2),
  max_s: z.number().positive().check(atMost('duration_s')).default(60),
  /** The monitor activity's heartbeat timeout: how soon a lost worker's monitor is retried elsewhere. */
  heartbeat_timeout_s: z.number().int().min(5).check(atMost('duration_s')).default(120),
  /** First progress report (elapsed, log tail, metrics) this long after a state change. */
  report_initial_s: z.number().positive().check(atMost('duration_s')).default(5),
  /** Longest interval between progress reports while the state does not change. */
  report_every_s: z.number().positive().check(atMost('duration_s')).default(60),
});
export type SlurmPollConfig = z.infer<typeof SlurmPollConfig>;

/**
 * The wait before the monitor's next progress report: `report_initial_s` after a state change,
 * then doubling up to `report_every_s` (each report costs a few workflow history events).
 */
export function nextReportAfterS(poll: SlurmPollConfig, previousS: number | null): number {
  const first = Math.min(poll.report_initial_s, poll.report_every_s);
  return previousS === null ? first : Math.min(poll.report_every_s, Math.max(first, previousS * 2));
}

/**
 * Settings the bundled trainer (`infra/trainer/train.py`) reads from its `--config` JSON; keep in
 * step with `DEFAULTS` there. Other frameworks get any keys.
 */
export const REFERENCE_TRAINER_KEYS: readonly string[] = [
  'global_batch',
  'micro_batch',
  'lr',
  'warmup',
  'min_lr_ratio',
  'epochs',
  'max_steps',
  'weight_decay',
  'beta1',
  'beta2',
  'eps',
  'grad_clip',
  'seed',
  'data_seed',
  'save_every',
  'keep',
  'precision',
  'attn',
  'fsdp',
  'grad_checkpointing',
  'max_seq_len',
  'threads',
  'deterministic',
  'print_every',
];

/** The train stage. */
export const TrainConfig = z
  .strictObject({
    cluster: SlurmClusterConfig.prefault({}),
    resources: SlurmResources.prefault({}),
    /** `--signal=B:USR2@<s>`: Slurm may fire up to 60 s early; leave time to write a checkpoint. */
    signal_lead_s: z.number().int().min(0).check(atMost('duration_s')).default(300),
    framework: TrainFramework.default({ type: 'reference', python: 'auto' }),
    /** Model of the first stage: a Hugging Face model directory on the cluster. */
    base_model: z.string().min(1).optional(),
    /**
     * Random init of the first stage instead (reference trainer): a preset (`tiny`, `tiny-512`,
     * `qwen2.5-0.5b`), a JSON object or a config file on the cluster.
     */
    model_config: z.string().min(1).optional(),
    /** Shared directory on the cluster for scripts, logs and checkpoints; unset: `$BOTTEGA_HOME/slurm`. */
    workdir: z.string().min(1).optional(),
    /**
     * Node-local directory where each node task stages the shards first when they live in S3 (the
     * store is not a filesystem the cluster mounts): one sub-directory per job, removed when it ends.
     */
    data_staging_dir: z.string().min(1).default('/tmp/bottega-data'),
    /** Extra environment of the job (plain values, never secrets). */
    env: z.record(EnvName, z.string()).default({}),
    poll: SlurmPollConfig.prefault({}),
    stages: z.array(TrainStage).min(1).prefault(DEFAULT_TRAIN_STAGES),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.stages.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['stages', i, 'name'], message: 'duplicate name' });
      seen.add(s.name);
      if (i === 0 && s.init === 'previous')
        ctx.addIssue({ code: 'custom', path: ['stages', 0, 'init'], message: 'the first stage has no previous' });
    });
    if (c.framework.type === 'reference') {
      const first = c.stages[0];
      if (first && !first.init && !c.base_model && !c.model_config)
        ctx.addIssue({
          code: 'custom',
          path: ['model_config'],
          message:
            'the reference trainer needs a model to start from: base_model (a model directory) or model_config (random init, e.g. "qwen2.5-0.5b")',
        });
      c.stages.forEach((s, i) => {
        for (const k of Object.keys(s.hparams))
          if (!REFERENCE_TRAINER_KEYS.includes(k) && k !== 'schedule' && k !== 'masked_loss')
            ctx.addIssue({
              code: 'custom',
              path: ['stages', i, 'hparams', k],
              message: `the reference trainer has no setting "${k}" (known: ${REFERENCE_TRAINER_KEYS.join(', ')})`,
            });
      });
    }
    if (c.poll.max_s < c.poll.initial_s)
      ctx.addIssue({ code: 'custom', path: ['poll', 'max_s'], message: 'must be at least initial_s' });
  });
export type TrainConfig = z.infer<typeof TrainConfig>;
/** What a user writes: defaults may be omitted. */
export type TrainConfigInput = z.input<typeof TrainConfig>;

/** Slurm job states bottega distinguishes (anything else is treated as still running). */
export const SlurmJobState = z.enum([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESIZING',
  'PREEMPTED',
  'STOPPED',
  'SIGNALING',
  'STAGE_OUT',
  'COMPLETED',
  'FAILED',
  'NODE_FAIL',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'CANCELLED',
  'BOOT_FAIL',
  'DEADLINE',
  'UNKNOWN',
]);
export type SlurmJobState = z.infer<typeof SlurmJobState>;

/** The trainer's latest step, read from the tail of its metrics JSONL while the job runs. */
export const TrainLiveMetrics = z.strictObject({
  step: z.number(),
  /** From the trainer's `start` line, when it is still in the tail (kept by the workflow after). */
  total_steps: z.number().nullable(),
  loss: z.number().nullable(),
  /** Mean over the step lines in the tail (a single step's rate is noisy). */
  tokens_per_s: z.number().nullable(),
  lr: z.number().nullable(),
  /** Unix seconds of the latest step line, when the trainer writes `time`. */
  time: z.number().nullable(),
});
export type TrainLiveMetrics = z.infer<typeof TrainLiveMetrics>;

/** Heartbeat details and progress of one monitored job. */
export const TrainJobProgress = z.strictObject({
  stage: z.string(),
  jobId: z.string(),
  state: SlurmJobState,
  /** Seconds the job has run (this attempt), as Slurm reports it. */
  elapsed: z.number().nonnegative(),
  /** Last lines of the job's log. */
  logTail: z.array(z.string()),
  /** False when the monitor returned only to report progress (the job is still active). */
  done: z.boolean(),
  /** The trainer's latest step from its metrics JSONL; null before the first step. */
  metrics: TrainLiveMetrics.nullable().optional(),
});
export type TrainJobProgress = z.infer<typeof TrainJobProgress>;

/** One finished training stage. */
export const TrainStageOutcome = z.strictObject({
  name: z.string(),
  jobId: z.string(),
  state: SlurmJobState,
  /** Directory of the stage's checkpoints on the cluster. */
  checkpoint_dir: z.string(),
  /** The checkpoint the next stage starts from. */
  final_checkpoint: z.string(),
  /** From the metrics JSONL's step lines (`{step, loss, tokens?}`); null when it has none. */
  metrics_summary: z
    .strictObject({
      steps: z.number().int().nonnegative(),
      tokens: z.number().int().nonnegative(),
      loss_first: z.number().nullable(),
      loss_last: z.number().nullable(),
      /** Mean over the steps that report it. */
      tokens_per_s: z.number().nullable(),
    })
    .nullable()
    .default(null),
  artifacts: z.strictObject({
    script: ArtifactRef,
    inputs: ArtifactRef,
    checkpoints: ArtifactRef,
    metrics: ArtifactRef,
    log: ArtifactRef,
  }),
});
export type TrainStageOutcome = z.infer<typeof TrainStageOutcome>;

/** The train stage's output. */
export const TrainStageResult = z.strictObject({
  stages: z.array(TrainStageOutcome),
  /** The last stage's final checkpoint (the trained model). */
  final_checkpoint: z.string(),
});
export type TrainStageResult = z.infer<typeof TrainStageResult>;

/**
 * ApplicationFailure types of a training job that ended badly (all non-retryable: the job ran).
 * Their details carry `{ jobId, state, exitCode, logTail }`.
 */
export const SLURM_FAILURES = {
  FAILED: 'SlurmJobFailed',
  NODE_FAIL: 'SlurmNodeFail',
  TIMEOUT: 'SlurmJobTimeout',
  OUT_OF_MEMORY: 'SlurmJobOutOfMemory',
  CANCELLED: 'SlurmJobCancelled',
  BOOT_FAIL: 'SlurmJobFailed',
  DEADLINE: 'SlurmJobTimeout',
} as const;
/** The failure type of a finished job that did not complete. */
export type SlurmFailureType = (typeof SLURM_FAILURES)[keyof typeof SLURM_FAILURES];
