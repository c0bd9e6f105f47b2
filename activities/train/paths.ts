import { createHash } from 'node:crypto';
import { checkName } from '../../contracts/safe-names';

/** Where one stage's job keeps its files on the cluster's shared filesystem. */
export interface JobPaths {
  dir: string;
  /** Batch log; `%j` is the job id (append mode: a requeued job keeps one log). */
  log: string;
  checkpoints: string;
  metrics: string;
  hparams: string;
  /** Created by the USR2 trap: a trainer may poll it as well as catch the signal. */
  stop: string;
  /** Presigned URLs of the shards, when they are staged from S3 (see stage_data.py). */
  dataList: string;
  /**
   * The job's copy of infra/trainer/stage_data.py: the job directory is on the cluster's shared
   * filesystem, the worker's checkout need not be (a worker in a container, another host).
   */
  stager: string;
}

/**
 * Paths of a stage's job under `workdir/<experiment>/<stage>`. The experiment id and stage name
 * must each be one safe directory name (a non-retryable `UnsafeName` failure otherwise).
 */
export function jobPaths(workdir: string, experimentId: string, stage: string): JobPaths {
  const dir = `${workdir.replace(/\/+$/, '')}/${checkName('experiment id', experimentId)}/${checkName('stage', stage)}`;
  return {
    dir,
    log: `${dir}/job-%j.log`,
    checkpoints: `${dir}/checkpoints`,
    metrics: `${dir}/metrics.jsonl`,
    hparams: `${dir}/hparams.json`,
    stop: `${dir}/STOP`,
    dataList: `${dir}/data-urls.json`,
    stager: `${dir}/stage_data.py`,
  };
}

/** The log of one job. */
export const logPath = (p: JobPaths, jobId: string): string => p.log.replace('%j', jobId);
/** The exit-code file the job writes itself. */
export const exitCodePath = (p: JobPaths, jobId: string): string => `${p.dir}/exit-code.${jobId}`;

/**
 * The Slurm job name of a stage: derived from the workflow id and stage, so a retried or
 * re-run submit finds the job it already submitted. Long ids keep a hash suffix.
 */
export function jobName(workflowId: string, stage: string): string {
  const raw = `bottega.${workflowId}.${stage}`.replace(/[^A-Za-z0-9._-]/g, '_');
  if (raw.length <= 100) return raw;
  const h = createHash('sha256').update(raw).digest('hex').slice(0, 12);
  return `${raw.slice(0, 87)}.${h}`;
}
