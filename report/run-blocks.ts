import type { Block, Cell } from './cells';
import { link, num, txt } from './cells';
import type { ExperimentData, RunData } from './data';
import { date, duration, NONE } from './format';

/** A date cell under `key` (the ISO time as its value); a dash when unknown. */
const dateCell = (key: string, iso: string | null | undefined): Cell =>
  iso ? { text: date(iso), key, value: iso } : txt(NONE);

/**
 * When a workflow run started and closed, how long it took, and its Temporal Web UI page; `k`
 * prefixes the data keys (`run.start`, `run.close`, `run.duration_ms`).
 */
export function runFacts(run: RunData | undefined, k = ''): Block[] {
  if (!run) return [];
  return [
    {
      kind: 'facts',
      items: [
        { label: 'Workflow', cell: txt(`${run.workflowId}${run.runId ? ` (run ${run.runId})` : ''}`) },
        { label: 'Started', cell: dateCell(`${k}run.start`, run.start) },
        { label: 'Closed', cell: dateCell(`${k}run.close`, run.close) },
        { label: 'Duration', cell: num(`${k}run.duration_ms`, run.duration_ms, duration) },
        { label: 'Temporal Web UI', cell: link(run.workflowId, run.url) },
      ],
    },
  ];
}

/**
 * The stages table: how each stage got its result, the dates and duration of the run that
 * produced it (for a cached stage, the earlier run it was reused from) and that run's Web UI page.
 */
export function stageTable(e: ExperimentData, k: string): Block[] {
  const cached = e.stages.some((s) => s.status === 'cached');
  return [
    {
      kind: 'table',
      head: ['stage', 'status', 'produced by', 'started', 'closed', 'duration', 'cache key', 'Web UI'],
      rows: e.stages.map((s) => {
        const p = `${k}stages.${s.stage}.`;
        return [
          txt(s.stage),
          { text: s.status, key: `${p}status`, value: s.status },
          txt(s.status === 'cached' && s.run?.runId ? `${s.producer} (run ${s.run.runId})` : s.producer),
          dateCell(`${p}start`, s.run?.start),
          dateCell(`${p}close`, s.run?.close),
          num(`${p}duration_ms`, s.run?.duration_ms, duration),
          txt(s.cacheKey.slice(0, 16)),
          s.run ? link('open', s.run.url) : txt(NONE),
        ];
      }),
    },
    ...(cached
      ? [
          {
            kind: 'para' as const,
            text: 'Cached stages were reused from the step cache: their dates and duration are those of the run that produced them.',
          },
        ]
      : []),
  ];
}
