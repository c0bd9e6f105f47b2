import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { EvaluateServeConfig, StoreConfig, parseInput, type ArtifactRef } from '../../contracts';
import { loggerFor } from '../logger';
import { readSecret } from '../secrets';
import { openStore } from '../store/artifact-store';
import type { SlurmBackend } from '../train/backend';
import { BackendRegistry } from '../train/backends';
import { jobName, jobPaths, logPath, type JobPaths } from '../train/paths';
import { isTerminal } from '../train/states';
import { endpointFile, renderServeScript } from './serve-script';

/** ApplicationFailure type: the serving job ended, or never answered its health check in time. */
export const SERVE_FAILED = 'ServeFailed';

/** Dependencies of the serving activities. */
export interface ServeDeps {
  env: NodeJS.ProcessEnv;
  bottegaHome: string;
  /** Shared with the train activities: one backend and poller per cluster. */
  registry?: BackendRegistry;
}

/** Common input of the serving activities. */
export interface ServeJobInput {
  experimentId: string;
  /** The evaluate workflow's id: the job name derives from it. */
  workflowId: string;
  serve: EvaluateServeConfig;
  checkpoint: string;
  store: StoreConfig;
  prefix: string;
}

/** A submitted serving job. */
export interface ServeJob {
  jobId: string;
  jobName: string;
  reused: boolean;
  script: ArtifactRef;
}

/** A healthy server. */
export interface ServeEndpoint {
  /** Base URL ending in /v1. */
  endpoint: string;
  host: string;
  port: number;
  /** The model name to send (configured, or the first id `/v1/models` lists). */
  model: string;
}

const TAIL = 20;

/** GET `<base>/models` with a short timeout: the listed model ids, or null when not (yet) healthy. */
export async function probeModels(base: string, timeoutMs = 5000, apiKey?: string): Promise<string[] | null> {
  try {
    const res = await fetch(`${base}/models`, {
      signal: AbortSignal.timeout(timeoutMs),
      ...(apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {}),
    });
    if (!res.ok) return null;
    const body = (await res.json()) as { data?: { id?: unknown }[] };
    return (body.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string');
  } catch {
    return null;
  }
}

/**
 * Creates the activities that serve a checkpoint on Slurm (slurm task queue): submit the serving
 * job, wait until it answers, cancel it. They use the train stage's backends (CLI, SSH, REST).
 */
export function createServeActivities(deps: ServeDeps) {
  const registry = (deps.registry ??= new BackendRegistry(deps.env, deps.bottegaHome));
  const prepare = (raw: ServeJobInput) => {
    const serve = parseInput(EvaluateServeConfig, raw.serve, 'evaluate serve config');
    const backend: SlurmBackend = registry.backend(serve.cluster);
    const paths: JobPaths = jobPaths(serve.workdir ?? join(deps.bottegaHome, 'slurm'), raw.experimentId, 'serve');
    return { serve, backend, paths, name: jobName(raw.workflowId, 'serve') };
  };
  const logOf = (raw: ServeJobInput) =>
    loggerFor({ experimentId: raw.experimentId, stage: 'evaluate', activity: 'serve' });

  return {
    /**
     * Submits the serving job, idempotently: an active job of the workflow's serving name is
     * reused. The rendered script is stored as an artifact before it reaches the cluster.
     */
    async submitServeJob(raw: ServeJobInput): Promise<ServeJob> {
      const { serve, backend, paths, name } = prepare(raw);
      const rendered = renderServeScript({
        name,
        workflowId: raw.workflowId,
        serve,
        checkpoint: raw.checkpoint,
        paths,
      });
      const store = openStore(parseInput(StoreConfig, raw.store, 'store config'), deps.env);
      const script = await store.put(`${raw.prefix}/serve/job.sbatch`, rendered.script, { records: null });
      const active = (await backend.findByName(name)).find((j) => !isTerminal(j.state));
      if (active) return { jobId: active.jobId, jobName: name, reused: true, script };
      await backend.files.mkdirp(paths.dir);
      const jobId = await backend.submit(rendered.script, rendered.options);
      logOf(raw).info({ jobId, job: name, command: rendered.command }, 'serving job submitted');
      return { jobId, jobName: name, reused: false, script };
    },

    /**
     * Waits until the serving job has written its `host:port` and the server answers
     * `GET /v1/models`, heartbeating the job state. A job that ends, or a server still not healthy
     * after `health_timeout_s`, is a non-retryable `ServeFailed` with the job's log tail.
     */
    async awaitServeEndpoint(
      raw: ServeJobInput & { jobId: string; /** Env var of the server's API key, if any. */ apiKeyEnv?: string }
    ): Promise<ServeEndpoint> {
      const { serve, backend, paths } = prepare(raw);
      const ctx = Context.current();
      const deadline = Date.now() + serve.health_timeout_s * 1000;
      const apiKey = raw.apiKeyEnv ? readSecret(deps.env, raw.apiKeyEnv) : undefined;
      const tail = () => backend.files.tail(logPath(paths, raw.jobId), TAIL).catch(() => [] as string[]);
      const fail = async (why: string) =>
        ApplicationFailure.create({
          type: SERVE_FAILED,
          nonRetryable: true,
          message: `serving job ${raw.jobId}: ${why}\n${(await tail()).join('\n')}`,
        });
      let unknown = 0;
      for (;;) {
        const info = (await backend.poll([raw.jobId])).get(raw.jobId) ?? null;
        ctx.heartbeat({ jobId: raw.jobId, state: info?.state ?? 'UNKNOWN' });
        if (info && isTerminal(info.state)) throw await fail(`ended ${info.state} before it was healthy`);
        if (!info && ++unknown >= 3) throw await fail('unknown to the scheduler');
        const hostPort = (await backend.files.read(endpointFile(paths, raw.jobId)))?.trim();
        const m = /^(.+):(\d+)$/.exec(hostPort ?? '');
        if (m && info?.state === 'RUNNING') {
          const base = `http://${m[1]!}:${m[2]!}/v1`;
          const models = await probeModels(base, 5000, apiKey);
          if (models) {
            const model = serve.model_name ?? models[0] ?? raw.checkpoint;
            logOf(raw).info({ jobId: raw.jobId, endpoint: base, model }, 'server healthy');
            return { endpoint: base, host: m[1]!, port: Number(m[2]), model };
          }
        }
        if (Date.now() >= deadline)
          throw await fail(`not healthy after ${serve.health_timeout_s}s (state ${info?.state ?? 'unknown'})`);
        await ctx.sleep(serve.poll_s * 1000);
      }
    },

    /**
     * `scancel`s the serving job (by id, and any other active job of its name), then waits up to
     * 30 s until the scheduler no longer lists it as active. Cancelling an ended job is no error.
     */
    async cancelServeJob(raw: ServeJobInput & { jobId?: string }): Promise<{ cancelled: string[] }> {
      const { backend, name } = prepare(raw);
      const ids = new Set<string>(raw.jobId ? [raw.jobId] : []);
      for (const j of await backend.findByName(name)) if (!isTerminal(j.state)) ids.add(j.jobId);
      for (const id of ids) await backend.cancel(id);
      logOf(raw).info({ jobs: [...ids] }, 'serving job cancelled');
      const deadline = Date.now() + 30_000;
      while (ids.size && Date.now() < deadline) {
        const infos = await backend.poll([...ids]);
        if ([...ids].every((id) => !infos.get(id) || isTerminal(infos.get(id)!.state))) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      return { cancelled: [...ids] };
    },
  };
}

/** The serving activities' type. */
export type ServeActivities = ReturnType<typeof createServeActivities>;
