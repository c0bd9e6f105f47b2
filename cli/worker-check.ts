import type { Client } from '@temporalio/client';
import { TASK_QUEUES, type Capability } from '../contracts';
import type { CapabilityNeeds } from './capabilities';

/** temporal.api.enums.v1.TaskQueueType: the cpu worker's workflow pollers, everyone's activity pollers. */
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

/**
 * A poller whose last poll is older than this is taken for gone. A live worker keeps a long poll
 * open (about a minute) and the server keeps a stopped worker listed for minutes; the slack
 * covers clock skew between this host and the server.
 */
export const POLLER_FRESH_MS = 120_000;

/** How long one DescribeTaskQueue may take. */
const DESCRIBE_TIMEOUT_MS = 5000;

/**
 * Whether a worker polls the task queue of `cap` now (Temporal's DescribeTaskQueue): for `cpu`,
 * the workflow pollers (the cpu worker runs the workflows); for the others, activity pollers.
 */
export async function hasPoller(client: Client, cap: Capability, now = Date.now()): Promise<boolean> {
  const r = await client.connection.withDeadline(Date.now() + DESCRIBE_TIMEOUT_MS, () =>
    client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: TASK_QUEUES[cap] },
      taskQueueType: cap === 'cpu' ? TASK_QUEUE_TYPE.workflow : TASK_QUEUE_TYPE.activity,
    })
  );
  return (r.pollers ?? []).some((p) => {
    const t = p.lastAccessTime;
    if (!t?.seconds) return true;
    return now - (Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)) < POLLER_FRESH_MS;
  });
}

/** The needed capabilities no worker polls for, in TASK_QUEUES order. A failed check counts as polled. */
export async function missingCapabilities(client: Client, needs: CapabilityNeeds): Promise<Capability[]> {
  const caps = Object.keys(needs) as Capability[];
  const polled = await Promise.all(caps.map((c) => hasPoller(client, c).catch(() => true)));
  return caps.filter((_, i) => !polled[i]);
}

/** How to start a worker for the capabilities: `BOTTEGA_WORKER_CAPABILITIES=docker npm run worker`. */
export function workerCommand(caps: Capability[]): string {
  return `BOTTEGA_WORKER_CAPABILITIES=${caps.join(',')} npm run worker`;
}

/**
 * Lines saying which workers are missing, what waits for them and how to start them:
 *
 * ```
 * no worker polls bottega-docker (needed by build, rollout): nothing runs there until one starts.
 *   start one on a host with Docker: BOTTEGA_WORKER_CAPABILITIES=docker npm run worker
 * ```
 */
export function missingWorkerLines(missing: Capability[], needs: CapabilityNeeds): string[] {
  if (!missing.length) return [];
  const lines = missing.map(
    (c) =>
      `no worker polls ${TASK_QUEUES[c]} (needed by ${(needs[c] ?? []).join(', ')}): nothing runs there until one starts.`
  );
  const host = missing.filter((c) => c !== 'cpu');
  const where = host.length ? ` on a host with ${host.map((c) => HOST[c]).join(' and ')}` : '';
  lines.push(
    `  start ${missing.length > 1 ? 'them' : 'one'}${where}: ${workerCommand(missing)} (or: bottega worker --capabilities ${missing.join(',')})`
  );
  return lines;
}

const HOST: Record<Capability, string> = { cpu: 'the code', docker: 'Docker', slurm: 'Slurm access' };

/** How often the reminder changes (and, printed as lines, is printed again). */
export const REMIND_EVERY_MS = 30_000;

/** `30s`, `2m`, `2m30s`: waiting times, to the {@link REMIND_EVERY_MS} below. */
export function formatWait(ms: number): string {
  const s = (Math.floor(ms / REMIND_EVERY_MS) * REMIND_EVERY_MS) / 1000;
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
}

/** The one-line reminder: `still no worker on bottega-docker after 1m: BOTTEGA_WORKER_CAPABILITIES=docker npm run worker`. */
export function reminderLine(missing: Capability[], waitedMs: number): string {
  return `still no worker on ${missing.map((c) => TASK_QUEUES[c]).join(', ')} after ${formatWait(waitedMs)}: ${workerCommand(missing)}`;
}

/** What {@link watchWorkers} returns. */
export interface WorkerWatch {
  /** Resolves once the first check is done (its warning, if any, printed). */
  readonly ready: Promise<void>;
  /** The reminder while a needed worker has been missing {@link REMIND_EVERY_MS} or more; empty otherwise. */
  lines(): string[];
  /** Stops checking; {@link WorkerWatch.lines} is empty from then on. */
  stop(): void;
}

/**
 * Checks now, and then every `intervalMs`, that a worker polls each capability `needs()` names.
 * The first check prints its warning through `err` at once. Later, a worker that appears is
 * reported through `err`; while one is still missing, {@link WorkerWatch.lines} holds a one-line
 * reminder and, with `remind`, it is printed through `err` whenever it changes (every 30 s).
 * `needs` is asked at every check, so stages already done drop out.
 */
export function watchWorkers(
  client: Client,
  needs: () => CapabilityNeeds,
  opts: { err: (s: string) => void; intervalMs?: number; remind?: boolean }
): WorkerWatch {
  const started = Date.now();
  let missing: Capability[] = [];
  let current: CapabilityNeeds = {};
  let reminded = '';
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const reminder = () => {
    const waited = Date.now() - started;
    return missing.length && waited >= REMIND_EVERY_MS ? [reminderLine(missing, waited)] : [];
  };
  const check = async (first: boolean) => {
    current = needs();
    const now = await missingCapabilities(client, current);
    if (stopped) return;
    const appeared = missing.filter((c) => !now.includes(c) && current[c]);
    missing = now;
    if (first) for (const l of missingWorkerLines(missing, current)) opts.err(l);
    if (appeared.length) opts.err(`a worker now polls ${appeared.map((c) => TASK_QUEUES[c]).join(', ')}`);
    if (!first && opts.remind) {
      const text = reminder().join('\n');
      if (text && text !== reminded) opts.err(text);
      reminded = text;
    }
  };
  const loop = () => {
    if (stopped) return;
    timer = setTimeout(
      () =>
        void check(false)
          .catch(() => undefined)
          .finally(loop),
      opts.intervalMs ?? 10_000
    );
    // A watch never keeps the process alive on its own.
    timer.unref();
  };
  const ready = check(true)
    .catch(() => undefined)
    .finally(loop);
  return {
    ready,
    lines: reminder,
    stop() {
      stopped = true;
      missing = [];
      clearTimeout(timer);
    },
  };
}
