import { userInfo } from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import { INVALID_SPEC, type SlurmRestConfig } from '../../contracts';
import { readSecret } from '../secrets';
import type { ClusterFiles, JobInfo, SlurmBackend } from './backend';
import type { SbatchOptions } from './sbatch';
import { isTerminal, normalizeState, parseElapsed } from './states';

/** API versions bottega speaks, newest first (v0.0.40 = Slurm 23.11 … v0.0.38 = 22.05). */
export const REST_VERSIONS = ['v0.0.44', 'v0.0.43', 'v0.0.42', 'v0.0.41', 'v0.0.40', 'v0.0.39', 'v0.0.38'];

/** A number, or slurmrestd ≥ v0.0.40's `{ set, infinite, number }`. */
function num(x: unknown): number | null {
  if (typeof x === 'number') return x;
  if (x && typeof x === 'object' && 'number' in x) {
    const o = x as { set?: boolean; number?: unknown };
    return o.set === false ? null : typeof o.number === 'number' ? o.number : null;
  }
  return null;
}

/** Megabytes of an sbatch size (`512M`, `64G`; bare numbers are MB). */
export function memMb(s: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(s);
  if (!m) throw new Error(`bad memory size ${s}`);
  const mult: Record<string, number> = { K: 1 / 1024, '': 1, M: 1, G: 1024, T: 1024 * 1024 };
  return Math.max(1, Math.ceil(Number(m[1]) * mult[m[2]!]!));
}

/** Minutes of an sbatch time limit (rounded up). */
export const timeMinutes = (t: string): number => Math.max(1, Math.ceil(parseElapsed(t) / 60));

/** The job description slurmrestd wants (it does not read `#SBATCH` lines). */
export function restJobProperties(o: SbatchOptions, version: string, env: Record<string, string>): object {
  const newer = versionNumber(version) >= 40;
  const wrap = (n: number) => (newer ? { set: true, infinite: false, number: n } : n);
  const environment = newer ? Object.entries(env).map(([k, v]) => `${k}=${v}`) : env;
  return {
    name: o.name,
    comment: o.comment,
    nodes: newer ? String(o.nodes) : [o.nodes, o.nodes],
    tasks_per_node: 1,
    cpus_per_task: o.cpusPerTask,
    ...(o.gpusPerNode > 0 ? { tres_per_node: `gres/gpu:${o.gpusPerNode}` } : {}),
    ...(o.mem ? { memory_per_node: wrap(memMb(o.mem)) } : {}),
    ...(o.partition ? { partition: o.partition } : {}),
    ...(o.account ? { account: o.account } : {}),
    ...(o.qos ? { qos: o.qos } : {}),
    time_limit: wrap(timeMinutes(o.time)),
    requeue: true,
    open_mode: newer ? ['APPEND'] : 'append',
    // v0.0.38 (22.05) rejects the `B:` prefix: the signal then goes to the job steps, whose
    // wrapper creates the stop file, and the batch shell requeues when the step ends.
    signal: versionNumber(version) <= 38 ? o.signal.replace(/^B:/, '') : o.signal,
    standard_output: o.output,
    current_working_directory: o.chdir,
    environment,
  };
}

const versionNumber = (v: string) => Number(v.split('.').at(-1));

/** A JobInfo from a slurmrestd job record (any supported version). */
export function jobFromRest(j: Record<string, unknown>, nowS: number): JobInfo {
  const state = normalizeState(j.job_state);
  const start = num(j.start_time) ?? 0;
  const end = num(j.end_time) ?? 0;
  const running = state === 'RUNNING' || state === 'COMPLETING';
  const elapsed = start > 0 && start <= nowS ? (running || end < start ? nowS - start : end - start) : 0;
  let exitCode: string | null = null;
  const ec = j.exit_code;
  if (typeof ec === 'number') exitCode = `${ec >> 8}:${ec & 0xff}`;
  else if (ec && typeof ec === 'object') {
    const o = ec as { return_code?: unknown; signal?: { id?: unknown } };
    exitCode = `${num(o.return_code) ?? 0}:${num(o.signal?.id) ?? 0}`;
  }
  const reason = typeof j.state_reason === 'string' && j.state_reason !== 'None' ? j.state_reason : null;
  const comment = typeof j.comment === 'string' && j.comment ? j.comment : null;
  return { jobId: String(j.job_id), name: String(j.name ?? ''), state, elapsed, exitCode, reason, comment };
}

/**
 * slurmrestd with JWT (`X-SLURM-USER-NAME`, `X-SLURM-USER-TOKEN`). The API version is the
 * configured one, or the newest the server offers (from `GET /openapi/v3`) that bottega speaks.
 * Files are read on this host: the job directories must be on a filesystem shared with it.
 */
export class RestBackend implements SlurmBackend {
  readonly kind = 'rest' as const;
  readonly key: string;
  private version: Promise<string> | undefined;

  constructor(
    private readonly cfg: SlurmRestConfig,
    private readonly env: NodeJS.ProcessEnv,
    readonly files: ClusterFiles
  ) {
    this.key = `rest:${cfg.url}`;
  }

  private headers(): Record<string, string> {
    const token = readSecret(this.env, this.cfg.token_env);
    if (!token) {
      throw ApplicationFailure.create({
        type: INVALID_SPEC,
        nonRetryable: true,
        message: `slurmrestd: env var ${this.cfg.token_env} (JWT) is not set on the slurm worker`,
      });
    }
    return {
      'X-SLURM-USER-NAME': this.cfg.user ?? userInfo().username,
      'X-SLURM-USER-TOKEN': token,
      'Content-Type': 'application/json',
      Accept: 'application/json',
    };
  }

  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(new URL(path, this.cfg.url), {
      method,
      headers: this.headers(),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text };
    }
    return { status: res.status, json };
  }

  /** The API version in use (discovered once). */
  apiVersion(): Promise<string> {
    this.version ??= this.discover().catch((e: unknown) => {
      this.version = undefined;
      throw e;
    });
    return this.version;
  }

  private async discover(): Promise<string> {
    if (this.cfg.api_version) return this.cfg.api_version;
    const offered = new Set<string>();
    const spec = await this.request('GET', '/openapi/v3').catch(() => null);
    const paths = (spec?.json as { paths?: Record<string, unknown> } | null)?.paths ?? {};
    for (const p of Object.keys(paths)) {
      const m = /^\/slurm\/(v0\.0\.\d+)\//.exec(p);
      if (m) offered.add(m[1]!);
    }
    const pick = REST_VERSIONS.find((v) => offered.has(v));
    if (pick) return pick;
    // No usable spec: probe ping, newest first.
    for (const v of REST_VERSIONS) {
      const r = await this.request('GET', `/slurm/${v}/ping`).catch(() => null);
      if (r && r.status === 200) return v;
    }
    throw new Error(`slurmrestd at ${this.cfg.url} offers none of ${REST_VERSIONS.join(', ')}`);
  }

  private static errors(json: unknown): string {
    const errs = (json as { errors?: { error?: string; description?: string }[] } | null)?.errors ?? [];
    return errs.map((e) => e.description || e.error).join('; ');
  }

  async submit(script: string, options: SbatchOptions): Promise<string> {
    const v = await this.apiVersion();
    const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
    const r = await this.request('POST', `/slurm/${v}/job/submit`, {
      script,
      job: restJobProperties(options, v, env),
    });
    const id = (r.json as { job_id?: unknown } | null)?.job_id;
    if (r.status !== 200 || id === undefined) {
      throw new Error(`slurmrestd submit ${options.name}: HTTP ${r.status} ${RestBackend.errors(r.json)}`);
    }
    return String(id);
  }

  private async allJobs(): Promise<JobInfo[]> {
    const v = await this.apiVersion();
    const r = await this.request('GET', `/slurm/${v}/jobs`);
    if (r.status !== 200) throw new Error(`slurmrestd jobs: HTTP ${r.status} ${RestBackend.errors(r.json)}`);
    const now = Math.floor(Date.now() / 1000);
    const jobs = (r.json as { jobs?: Record<string, unknown>[] }).jobs ?? [];
    return jobs.map((j) => jobFromRest(j, now));
  }

  async findByName(name: string): Promise<JobInfo[]> {
    return (await this.allJobs()).filter((j) => j.name === name);
  }

  async poll(jobIds: readonly string[]): Promise<Map<string, JobInfo>> {
    const out = new Map<string, JobInfo>();
    if (!jobIds.length) return out;
    for (const j of await this.allJobs()) if (jobIds.includes(j.jobId)) out.set(j.jobId, j);
    return out;
  }

  async listActive(prefix: string): Promise<JobInfo[]> {
    return (await this.allJobs()).filter((j) => j.name.startsWith(prefix) && !isTerminal(j.state));
  }

  async cancel(jobId: string): Promise<void> {
    const v = await this.apiVersion();
    const r = await this.request('DELETE', `/slurm/${v}/job/${encodeURIComponent(jobId)}`);
    const msg = RestBackend.errors(r.json);
    if (r.status !== 200 && !/already complet|invalid job id/i.test(msg))
      throw new Error(`slurmrestd cancel ${jobId}: HTTP ${r.status} ${msg}`);
  }
}
