import type { SlurmBackendName } from '../../contracts';
import type { ClusterFiles, JobInfo, SlurmBackend } from './backend';
import type { CommandRunner } from './runner';
import type { SbatchOptions } from './sbatch';
import { normalizeState, parseElapsed } from './states';

const SQUEUE_FORMAT = '%i|%j|%T|%M|%r|%k';

/** Parses `squeue -o '%i|%j|%T|%M|%r|%k'` lines. Names may not contain `|`; bottega's never do. */
export function parseSqueue(stdout: string): JobInfo[] {
  return stdout
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const [jobId, name, state, elapsed, reason, ...comment] = l.split('|');
      const c = comment.join('|');
      return {
        jobId: jobId!.trim(),
        name: name ?? '',
        state: normalizeState(state),
        elapsed: parseElapsed(elapsed ?? ''),
        exitCode: null,
        reason: reason && reason !== 'None' ? reason : null,
        comment: c && c !== '(null)' ? c : null,
      };
    });
}

/** Parses `sacct -n -P -X -o JobIDRaw,JobName,State,ElapsedRaw,ExitCode,Reason` lines. */
export function parseSacct(stdout: string): JobInfo[] {
  return stdout
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const [jobId, name, state, elapsed, exitCode, reason] = l.split('|');
      return {
        jobId: jobId!.trim(),
        name: name ?? '',
        state: normalizeState(state),
        elapsed: Number(elapsed) || 0,
        exitCode: exitCode || null,
        reason: reason && reason !== 'None' ? reason : null,
      };
    });
}

/**
 * The Slurm CLI (`sbatch --parsable`, `squeue`, `sacct`, `scancel`) through a runner: on this
 * host, or on a login node over SSH. squeue answers for jobs the controller still holds
 * (`MinJobAge` after they end); sacct, when accounting is on, for older ones.
 */
export class CliBackend implements SlurmBackend {
  private sacctWorks = true;

  constructor(
    readonly kind: SlurmBackendName,
    readonly key: string,
    private readonly runner: CommandRunner,
    readonly files: ClusterFiles
  ) {}

  async submit(script: string, options: SbatchOptions): Promise<string> {
    // The script (with its #SBATCH lines) goes on stdin: nothing to copy to the login node.
    const r = await this.runner.run('sbatch', ['--parsable'], { input: script });
    if (r.code !== 0) throw new Error(`sbatch (${this.runner.where}) failed for ${options.name}: ${r.stderr.trim()}`);
    const id = r.stdout.trim().split(';')[0]!;
    if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${JSON.stringify(r.stdout)}`);
    return id;
  }

  async findByName(name: string): Promise<JobInfo[]> {
    const r = await this.runner.run('squeue', ['-h', '-a', '-t', 'all', '-n', name, '-o', SQUEUE_FORMAT]);
    if (r.code !== 0) throw new Error(`squeue (${this.runner.where}): ${r.stderr.trim()}`);
    const found = parseSqueue(r.stdout).filter((j) => j.name === name);
    const more = await this.sacct(['--name', name]);
    for (const j of more) if (j.name === name && !found.some((f) => f.jobId === j.jobId)) found.push(j);
    return found;
  }

  async poll(jobIds: readonly string[]): Promise<Map<string, JobInfo>> {
    const out = new Map<string, JobInfo>();
    if (!jobIds.length) return out;
    const r = await this.runner.run('squeue', ['-h', '-a', '-t', 'all', '-j', jobIds.join(','), '-o', SQUEUE_FORMAT]);
    // All ids unknown: squeue exits 1 with "Invalid job id specified".
    if (r.code !== 0 && !/Invalid job id/i.test(r.stderr))
      throw new Error(`squeue (${this.runner.where}): ${r.stderr.trim()}`);
    for (const j of parseSqueue(r.stdout)) if (jobIds.includes(j.jobId)) out.set(j.jobId, j);
    const missing = jobIds.filter((id) => !out.has(id));
    if (missing.length) for (const j of await this.sacct(['-j', missing.join(',')])) out.set(j.jobId, j);
    return out;
  }

  async listActive(prefix: string): Promise<JobInfo[]> {
    const r = await this.runner.run('squeue', ['-h', '-a', '-o', SQUEUE_FORMAT]);
    if (r.code !== 0) throw new Error(`squeue (${this.runner.where}): ${r.stderr.trim()}`);
    return parseSqueue(r.stdout).filter((j) => j.name.startsWith(prefix));
  }

  async cancel(jobId: string): Promise<void> {
    const r = await this.runner.run('scancel', [jobId]);
    if (r.code !== 0 && !/Invalid job id|already completing or completed/i.test(r.stderr))
      throw new Error(`scancel ${jobId} (${this.runner.where}): ${r.stderr.trim()}`);
  }

  /** sacct rows, or [] when accounting is disabled (remembered: one failed call per backend). */
  private async sacct(select: string[]): Promise<JobInfo[]> {
    if (!this.sacctWorks) return [];
    const r = await this.runner
      .run('sacct', ['-n', '-P', '-X', ...select, '-o', 'JobIDRaw,JobName,State,ElapsedRaw,ExitCode,Reason'])
      .catch(() => null);
    if (!r || r.code !== 0) {
      if (!r || /accounting storage is disabled|not found/i.test(r.stderr)) this.sacctWorks = false;
      return [];
    }
    return parseSacct(r.stdout);
  }
}
