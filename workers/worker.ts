import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import {
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createActivities } from '../activities';
import { rootLogger } from '../activities/logger';
import { setLogHome } from '../activities/log-files';
import { TASK_QUEUES, type Capability } from '../contracts';
import { redactingActivityInterceptors } from './redact-interceptor';

/** Path of the module that re-exports every workflow. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundles the workflow code once per process (about a second) and reuses it for every worker. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  // The runtime's logger, so that the bundler's lines go where the worker's go (not always stderr).
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: Runtime.instance().logger });
  return bundle;
}

/** Options of {@link createWorkers}. */
export interface WorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Capabilities this host has; one worker per capability's task queue. */
  capabilities: Capability[];
  /** Environment the activities read (secrets by name, BOTTEGA_HOME). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Creates one worker per capability. The `cpu` worker also runs the workflows, which are
 * orchestration only and need no special host.
 */
export async function createWorkers(opts: WorkerOptions): Promise<Worker[]> {
  const env = opts.env ?? process.env;
  const home = resolve(env.BOTTEGA_HOME ?? '.bottega');
  const activities = createActivities({ cacheDir: join(home, 'cache'), env, bottegaHome: home });
  // Stage log lines (`bottega logs`) go under this worker's home.
  setLogHome(home);
  const workers: Worker[] = [];
  // Secrets echoed by a server never leave an activity (failures, results): see redact-interceptor.ts.
  const interceptors = { activity: [redactingActivityInterceptors(env)] };
  for (const cap of opts.capabilities) {
    workers.push(
      await Worker.create({
        connection: opts.connection,
        namespace: opts.namespace ?? 'default',
        taskQueue: TASK_QUEUES[cap],
        activities,
        interceptors,
        ...(cap === 'cpu' ? { workflowBundle: await workflowBundle() } : {}),
        // Let heartbeating activities see worker shutdown and finish their current step; then they
        // are cancelled, and the docker activities kill and remove their containers within seconds.
        shutdownGraceTime: '10 seconds',
        // Backstop: an activity that ignores its cancellation cannot keep the worker alive (run()
        // then rejects, and workers/main.ts exits).
        shutdownForceTime: '40 seconds',
        // Cancellation reaches an activity in a heartbeat response: keep that latency to seconds.
        maxHeartbeatThrottleInterval: '3 seconds',
      })
    );
  }
  rootLogger.info({ queues: opts.capabilities.map((c) => TASK_QUEUES[c]) }, 'workers created');
  return workers;
}

/** Parses `BOTTEGA_WORKER_CAPABILITIES`-style lists: "cpu,docker". */
export function parseCapabilities(list: string | undefined): Capability[] {
  const caps = (list ?? 'cpu')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const c of caps) {
    if (!(c in TASK_QUEUES)) {
      throw new Error(
        `unknown worker capability ${JSON.stringify(c)}; expected one of ${Object.keys(TASK_QUEUES).join(', ')}`
      );
    }
  }
  return caps as Capability[];
}
