import type { Client, ScheduleOverlapPolicy, ScheduleSummary } from '@temporalio/client';
import { SA, TASK_QUEUES, type ExperimentSpec, type SweepSpec } from '../contracts';

/** What a schedule starts: one experiment or one sweep (validated by the caller). */
export type ScheduledAction = { kind: 'experiment'; spec: ExperimentSpec } | { kind: 'sweep'; sweep: SweepSpec };

/** When it starts it: cron expressions and/or fixed intervals (`1h`, `1d`). */
export interface ScheduleTiming {
  cron: string[];
  every: string[];
  timezone?: string;
}

/** Overlap policies by their CLI names. */
export const OVERLAP = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export type OverlapName = (typeof OVERLAP)[number];
const overlapOf = (o: OverlapName) => o.toUpperCase() as ScheduleOverlapPolicy;

/**
 * Creates a Temporal Schedule that runs an experiment or a sweep. Each run's workflow id is the
 * spec's id plus the scheduled time (Temporal appends it), and the workflows use that id for
 * their children and arms, so runs never collide; arms still share stages through the step cache.
 */
export async function createSchedule(
  client: Client,
  o: {
    scheduleId: string;
    action: ScheduledAction;
    timing: ScheduleTiming;
    overlap: OverlapName;
    paused?: boolean;
    note?: string;
  }
): Promise<void> {
  if (!o.timing.cron.length && !o.timing.every.length)
    throw new Error('a schedule needs --cron EXPR or --every DURATION (e.g. --every 1d)');
  const a = o.action;
  const id = a.kind === 'experiment' ? a.spec.id : a.sweep.id;
  await client.schedule.create({
    scheduleId: o.scheduleId,
    spec: {
      cronExpressions: o.timing.cron,
      intervals: o.timing.every.map((every) => ({ every: every as `${number}${'s' | 'm' | 'h' | 'd'}` })),
      ...(o.timing.timezone ? { timezone: o.timing.timezone } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: a.kind === 'experiment' ? 'experimentWorkflow' : 'sweepWorkflow',
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [a.kind === 'experiment' ? a.spec : a.sweep],
      typedSearchAttributes:
        a.kind === 'experiment'
          ? [
              { key: SA.ExperimentId, value: id },
              ...(a.spec.sweep_id ? [{ key: SA.SweepId, value: a.spec.sweep_id }] : []),
            ]
          : [{ key: SA.SweepId, value: id }],
      staticSummary: `scheduled ${a.kind} ${id} (schedule ${o.scheduleId})`,
    },
    policies: { overlap: overlapOf(o.overlap), catchupWindow: '1 day' },
    state: { paused: !!o.paused, ...(o.note ? { note: o.note } : {}) },
  });
}

/** One row of `bottega schedule list`. */
export interface ScheduleRow {
  id: string;
  workflowType: string;
  paused: boolean;
  note: string;
  spec: string;
  next: string[];
  recent: { scheduledAt: string; workflowId: string }[];
}

/** Lists the schedules (all of the namespace's; bottega's start experiment or sweep workflows). */
export async function listSchedules(client: Client): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for await (const s of client.schedule.list() as AsyncIterable<ScheduleSummary>) {
    const action = s.action as { workflowType?: string } | undefined;
    rows.push({
      id: s.scheduleId,
      workflowType: action?.workflowType ?? '',
      paused: s.state.paused,
      note: s.state.note ?? '',
      spec: [
        ...(s.spec?.calendars ?? []).map((c) => JSON.stringify(c.comment ?? c)),
        ...(s.spec?.intervals ?? []).map((i) => `every ${JSON.stringify(i.every)}`),
      ].join('; '),
      next: (s.info.nextActionTimes ?? []).slice(0, 3).map((d) => d.toISOString()),
      recent: (s.info.recentActions ?? []).map((r) => ({
        scheduledAt: r.scheduledAt.toISOString(),
        workflowId: r.action.workflow.workflowId,
      })),
    });
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

/** The table `bottega schedule list` prints. */
export function formatSchedules(rows: ScheduleRow[]): string {
  if (!rows.length) return 'no schedules';
  return rows
    .map((r) =>
      [
        `${r.id}  ${r.workflowType}  ${r.paused ? 'PAUSED' : 'active'}${r.note ? `  (${r.note})` : ''}`,
        `    next: ${r.next.join(', ') || '-'}`,
        ...(r.recent.length ? [`    last: ${r.recent.at(-1)!.workflowId} at ${r.recent.at(-1)!.scheduledAt}`] : []),
      ].join('\n')
    )
    .join('\n');
}

/** Pause, unpause, trigger, backfill or delete one schedule. */
export async function scheduleAction(
  client: Client,
  scheduleId: string,
  action:
    | { type: 'pause' | 'unpause'; note?: string }
    | { type: 'trigger'; overlap?: OverlapName }
    | { type: 'backfill'; start: Date; end: Date; overlap: OverlapName }
    | { type: 'delete' }
): Promise<void> {
  const h = client.schedule.getHandle(scheduleId);
  switch (action.type) {
    case 'pause':
      return h.pause(action.note);
    case 'unpause':
      return h.unpause(action.note);
    case 'trigger':
      return h.trigger(action.overlap ? overlapOf(action.overlap) : undefined);
    case 'backfill':
      if (!(action.start < action.end)) throw new Error('--from must be before --to');
      return h.backfill({ start: action.start, end: action.end, overlap: overlapOf(action.overlap) });
    case 'delete':
      return h.delete();
  }
}
