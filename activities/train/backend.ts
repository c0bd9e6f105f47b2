import type { SlurmBackendName, SlurmJobState } from '../../contracts';
import type { SbatchOptions } from './sbatch';

/** What the scheduler says about one job. */
export interface JobInfo {
  jobId: string;
  name: string;
  state: SlurmJobState;
  /** Seconds run so far (this attempt). */
  elapsed: number;
  /** `exit:signal` when known. */
  exitCode: string | null;
  /** Why it waits or ended (`BeginTime`, `NonZeroExitCode`…), when known. */
  reason: string | null;
  /** The job's `--comment` (bottega's names the workflow), when the backend reports it. */
  comment?: string | null;
}

/** Files on the cluster's shared filesystem (job dirs, logs, checkpoints). */
export interface ClusterFiles {
  /** Whole file, or null when it does not exist. */
  read(path: string): Promise<string | null>;
  /** Last `lines` lines ([] when the file does not exist). */
  tail(path: string, lines: number): Promise<string[]>;
  write(path: string, text: string): Promise<void>;
  mkdirp(path: string): Promise<void>;
  /** Entries of a directory (names, with `/` after sub-directories), [] when missing. */
  list(path: string): Promise<string[]>;
}

/**
 * One Slurm cluster, however it is reached. Implemented by the local CLI, the CLI over SSH,
 * and slurmrestd.
 */
export interface SlurmBackend {
  readonly kind: SlurmBackendName;
  /** Identity for sharing a poller between activities (same cluster, same poller). */
  readonly key: string;
  /** Submits a batch script; returns the job id. */
  submit(script: string, options: SbatchOptions): Promise<string>;
  /** Jobs the scheduler still knows with this exact name (any state). */
  findByName(name: string): Promise<JobInfo[]>;
  /** One call for many jobs. Jobs the scheduler no longer knows are absent from the map. */
  poll(jobIds: readonly string[]): Promise<Map<string, JobInfo>>;
  /** Active jobs whose name starts with `prefix` (for the orphan reaper). */
  listActive(prefix: string): Promise<JobInfo[]>;
  /** `scancel`. Cancelling a finished job is not an error. */
  cancel(jobId: string): Promise<void>;
  readonly files: ClusterFiles;
}
