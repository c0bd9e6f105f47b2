import { link, num, txt, type Block } from './cells';
import type { ArmData, ExperimentData, Interval, ReportData } from './data';
import { count, date, duration, factor, NONE, pct, pp, tokens } from './format';
import { dagBlocks } from './dag-blocks';
import { runFacts, stageTable } from './run-blocks';
import { specBlocks } from './spec-blocks';
import { continuousCurves } from './steps';
import { KEPT_COLOR, intervalChart, lineChart, stackedBars, type IntervalItem, type StackedRow } from './svg';
import { STEP_AXIS, trainBlocks } from './train-blocks';

/** The blocks of a report (see `cells.ts`); Cell and Block are re-exported for the renderers. */
export type { Block, Cell } from './cells';

/** Rows of `kept` plus each reason, largest first after kept (ties by name: deterministic). */
function reasonSegments(kept: number, reasons: Record<string, number>, prefix = ''): StackedRow['segments'] {
  return [{ label: 'kept', value: kept }, ...sortedReasons(reasons).map(([r, n]) => ({ label: prefix + r, value: n }))];
}

function sortedReasons(reasons: Record<string, number>): [string, number][] {
  return Object.entries(reasons).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The blocks of one experiment; `k` prefixes every data key (empty for a single experiment). */
export function experimentBlocks(e: ExperimentData, k = '', chartId = ''): Block[] {
  const out: Block[] = [...runFacts(e.run, k)];
  out.push({ kind: 'heading', level: 2, text: 'Stages', anchor: `${chartId}stages` });
  out.push(...stageTable(e, k));
  out.push(...dagBlocks(e, chartId));
  if (e.empty_outputs?.length)
    out.push(
      { kind: 'heading', level: 3, text: 'Empty outputs (bottega run --strict exits 4)' },
      { kind: 'list', items: e.empty_outputs }
    );
  if (e.spec) out.push(...specBlocks(e.spec, k, chartId));

  const funnel: StackedRow[] = [];
  if (e.mine) {
    const m = e.mine;
    funnel.push({ label: 'mine: PRs', segments: reasonSegments(m.prs_kept, m.prs_dropped) });
    for (const [name, f] of Object.entries(m.formats))
      funnel.push({
        label: `mine: ${name} samples`,
        segments: [
          { label: 'kept', value: f.samples },
          ...sortedReasons(f.filtered).map(([r, n]) => ({ label: `filtered: ${r}`, value: n })),
          ...sortedReasons(f.dropped).map(([r, n]) => ({ label: `dropped: ${r}`, value: n })),
        ],
      });
  }
  if (e.build)
    funnel.push({ label: 'build: tasks', segments: reasonSegments(e.build.kept, e.build.failed, 'build: ') });
  if (e.rollout)
    funnel.push({
      label: 'rollout: trajectories',
      segments: [
        { label: 'kept', value: e.rollout.passed },
        { label: 'rollout: failed', value: e.rollout.failed },
      ],
    });
  if (e.mix)
    for (const [name, s] of Object.entries(e.mix.sources))
      funnel.push({
        label: `mix: ${name} docs`,
        segments: [
          { label: 'kept', value: s.documents_kept },
          ...Object.entries(s.removed)
            .map(([r, c]) => [r, c.documents] as [string, number])
            .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .map(([r, n]) => ({ label: `mix: ${r}`, value: n })),
        ],
      });
  if (funnel.length) {
    out.push({ kind: 'heading', level: 2, text: 'Data funnel', anchor: `${chartId}funnel` });
    out.push({
      kind: 'chart',
      title: 'Data funnel',
      svg: stackedBars({
        id: `${chartId}funnel`,
        title: 'Data funnel: kept and dropped, by reason',
        rows: funnel,
        colors: { kept: KEPT_COLOR },
      }),
    });
  }

  if (e.mine) out.push(...mineBlocks(e, k));
  if (e.build) {
    const b = e.build;
    out.push({ kind: 'heading', level: 3, text: 'Build' });
    out.push({
      kind: 'table',
      head: ['candidates', 'built', 'validated', 'kept'],
      rows: [
        [
          num(`${k}build.candidates`, b.candidates),
          num(`${k}build.built`, b.built),
          num(`${k}build.validated`, b.validated),
          num(`${k}build.kept`, b.kept),
        ],
      ],
    });
    out.push(reasonTable('failure reason', b.failed, `${k}build.failed.`));
  }
  if (e.rollout) {
    const r = e.rollout;
    out.push({ kind: 'heading', level: 3, text: 'Rollout' });
    out.push({
      kind: 'table',
      head: ['tasks', 'rollouts', 'passed', 'failed', 'pass rate', 'tokens'],
      rows: [
        [
          num(`${k}rollout.tasks`, r.tasks),
          num(`${k}rollout.rollouts`, r.rollouts),
          num(`${k}rollout.passed`, r.passed),
          num(`${k}rollout.failed`, r.failed),
          num(`${k}rollout.pass_rate`, r.pass_rate, pct),
          num(`${k}rollout.tokens`, r.tokens, tokens),
        ],
      ],
    });
    if (Object.keys(r.dropped).length) out.push(reasonTable('dropped', r.dropped, `${k}rollout.dropped.`));
  }
  if (e.mix) out.push(...mixBlocks(e, k, chartId));
  if (e.train) out.push(...trainBlocks(e, k, chartId));
  if (e.evaluate) out.push(...evaluateBlocks(e, k, chartId));
  if ((e.evaluations?.length ?? 0) >= 2) out.push(...evaluationsBlocks(e, k, chartId));
  return out;
}

function reasonTable(head: string, reasons: Record<string, number>, key: string): Block {
  return {
    kind: 'table',
    head: [head, 'count'],
    rows: sortedReasons(reasons).map(([r, n]) => [txt(r), num(`${key}${r}`, n)]),
  };
}

function mineBlocks(e: ExperimentData, k: string): Block[] {
  const m = e.mine!;
  return [
    { kind: 'heading', level: 3, text: 'Mine' },
    {
      kind: 'table',
      head: ['repos', 'PRs seen', 'PRs kept', 'PRs dropped', 'samples', 'tokens', 'task candidates'],
      rows: [
        [
          num(`${k}mine.repos`, m.repos),
          num(`${k}mine.prs_seen`, m.prs_seen),
          num(`${k}mine.prs_kept`, m.prs_kept),
          num(
            `${k}mine.prs_dropped_total`,
            Object.values(m.prs_dropped).reduce((a, b) => a + b, 0)
          ),
          num(`${k}mine.samples`, m.samples),
          num(`${k}mine.tokens`, m.tokens, tokens),
          num(`${k}mine.task_candidates`, m.task_candidates),
        ],
      ],
    },
    reasonTable('PR drop reason', m.prs_dropped, `${k}mine.prs_dropped.`),
    reasonTable('PRs found as', m.prs_found, `${k}mine.prs_found.`),
    ...(Object.keys(m.not_prs).length ? [reasonTable('not a PR (not sampled)', m.not_prs, `${k}mine.not_prs.`)] : []),
    {
      kind: 'table',
      head: ['format', 'eligible PRs', 'samples', 'tokens', 'filtered', 'dropped'],
      rows: Object.entries(m.formats).map(([f, s]) => [
        txt(f),
        num(`${k}mine.formats.${f}.eligible`, s.eligible),
        num(`${k}mine.formats.${f}.samples`, s.samples),
        num(`${k}mine.formats.${f}.tokens`, s.tokens, tokens),
        txt(reasonText(s.filtered)),
        txt(reasonText(s.dropped)),
      ]),
    },
  ];
}

function reasonText(r: Record<string, number>): string {
  const e = sortedReasons(r);
  return e.length ? e.map(([k, n]) => `${k}: ${count(n)}`).join(', ') : NONE;
}

/** Stacked rows of tokens per source for each training stage (plus eos and pad when known). */
function tokenRows(e: ExperimentData, prefix = ''): StackedRow[] {
  return (e.mix?.stages ?? []).map((st) => ({
    label: `${prefix}${st.name}`,
    segments: [
      ...Object.entries(st.sources).map(([s, v]) => ({ label: s, value: v.tokens_out })),
      ...(st.eos_tokens !== null ? [{ label: '(eos)', value: st.eos_tokens }] : []),
      ...(st.pad_tokens !== null ? [{ label: '(pad)', value: st.pad_tokens }] : []),
    ],
  }));
}

function mixBlocks(e: ExperimentData, k: string, chartId: string): Block[] {
  const mix = e.mix!;
  const out: Block[] = [{ kind: 'heading', level: 2, text: 'Mixture', anchor: `${chartId}mix` }];
  out.push({
    kind: 'chart',
    title: 'Tokens per mixture source',
    svg: stackedBars({
      id: `${chartId}mix-tokens`,
      title: `Tokens per mixture source and training stage (${mix.tokenizer})`,
      rows: tokenRows(e),
      colors: { '(eos)': '#bbbbbb', '(pad)': '#dddddd' },
    }),
  });
  out.push({
    kind: 'table',
    head: ['stage', 'tokens', 'content', 'eos', 'pad', 'loss tokens', 'documents', 'sequences', 'seq_len', 'from'],
    rows: mix.stages.map((s) => [
      txt(s.name),
      num(`${k}mix.${s.name}.tokens`, s.tokens, tokens),
      num(`${k}mix.${s.name}.content_tokens`, s.content_tokens, tokens),
      num(`${k}mix.${s.name}.eos_tokens`, s.eos_tokens, tokens),
      num(`${k}mix.${s.name}.pad_tokens`, s.pad_tokens, tokens),
      num(`${k}mix.${s.name}.loss_tokens`, s.loss_tokens, tokens),
      num(`${k}mix.${s.name}.documents`, s.documents),
      num(`${k}mix.${s.name}.sequences`, s.sequences),
      num(`${k}mix.${s.name}.seq_len`, s.seq_len),
      txt(s.from),
    ]),
  });
  out.push({
    kind: 'table',
    head: ['stage', 'source', 'tokens out', 'documents out', 'repetition', 'share'],
    rows: mix.stages.flatMap((s) =>
      Object.entries(s.sources).map(([src, v]) => {
        const p = `${k}mix.${s.name}.sources.${src}.`;
        return [
          txt(s.name),
          txt(src),
          num(`${p}tokens_out`, v.tokens_out, tokens),
          num(`${p}documents_out`, 'documents_out' in v ? v.documents_out : null),
          num(`${p}repetition`, v.repetition, factor),
          num(`${p}share`, v.share, pct),
        ];
      })
    ),
  });
  out.push({
    kind: 'table',
    head: ['source', 'documents in', 'tokens in', 'documents kept', 'tokens kept', 'removed'],
    rows: Object.entries(mix.sources).map(([src, s]) => [
      txt(src),
      num(`${k}mix.cleaning.${src}.documents_in`, s.documents_in),
      num(`${k}mix.cleaning.${src}.tokens_in`, s.tokens_in, tokens),
      num(`${k}mix.cleaning.${src}.documents_kept`, s.documents_kept),
      num(`${k}mix.cleaning.${src}.tokens_kept`, s.tokens_kept, tokens),
      txt(reasonText(Object.fromEntries(Object.entries(s.removed).map(([r, c]) => [r, c.documents])))),
    ]),
  });
  return out;
}

/** The interval to show for an evaluation: over runs when there are several, else over instances. */
export function bestInterval(ev: { ci95: Interval | null; ci95_instances: Interval | null }): Interval | null {
  return ev.ci95 ?? ev.ci95_instances;
}

function ivText(i: Interval | null): string {
  return i ? `[${pct(i.low)}, ${pct(i.high)}] (${i.method})` : NONE;
}

/** Several named evaluations side by side: mean resolved rate with its interval, difference to the first. */
function evaluationsBlocks(e: ExperimentData, k: string, chartId: string): Block[] {
  const evs = e.evaluations!;
  const first = evs[0]!;
  return [
    { kind: 'heading', level: 2, text: 'Evaluations compared', anchor: `${chartId}evaluations` },
    {
      kind: 'chart',
      title: 'Resolved rate per evaluation',
      svg: intervalChart({
        id: `${chartId}evaluations`,
        title: 'Resolved rate per evaluation, with 95% intervals over runs',
        items: evs.map((v) => ({
          label: v.node.slice('evaluate.'.length),
          value: v.mean,
          low: bestInterval(v)?.low ?? null,
          high: bestInterval(v)?.high ?? null,
        })),
        yLabel: 'resolved rate',
        percent: true,
      }),
    },
    {
      kind: 'table',
      head: ['evaluation', 'model', 'tasks', 'runs', 'mean', 'interval', `vs ${first.node}`],
      rows: evs.map((v, i) => [
        txt(v.node),
        txt(v.model),
        num(`${k}${v.node}.tasks`, v.tasks),
        num(`${k}${v.node}.runs`, v.runs),
        num(`${k}${v.node}.mean`, v.mean, pct),
        txt(ivText(bestInterval(v))),
        i === 0 ? txt(NONE) : num(`${k}${v.node}.difference`, v.mean - first.mean, pp),
      ]),
    },
  ];
}

function evaluateBlocks(e: ExperimentData, k: string, chartId: string): Block[] {
  const ev = e.evaluate!;
  const items: IntervalItem[] = [];
  if (ev.ci95) items.push({ label: 'over runs', value: ev.mean, low: ev.ci95.low, high: ev.ci95.high });
  if (ev.ci95_instances)
    items.push({ label: 'over instances', value: ev.mean, low: ev.ci95_instances.low, high: ev.ci95_instances.high });
  if (!items.length) items.push({ label: 'mean', value: ev.mean, low: null, high: null });
  ev.resolved_rates.forEach((r, i) => items.push({ label: `run ${i + 1}`, value: r, low: null, high: null }));
  for (const b of ev.baselines) items.push({ label: `baseline ${b.name}`, value: b.mean, low: null, high: null });
  const ivCell = (name: string, i: Interval | null) =>
    i
      ? [num(`${k}evaluate.${name}.low`, i.low, pct), num(`${k}evaluate.${name}.high`, i.high, pct)]
      : [txt(NONE), txt(NONE)];
  return [
    { kind: 'heading', level: 2, text: 'Evaluation', anchor: `${chartId}evaluate` },
    {
      kind: 'chart',
      title: 'Resolved rate',
      svg: intervalChart({
        id: `${chartId}resolved`,
        title: `Resolved rate of ${ev.model} with 95% intervals`,
        items,
        yLabel: 'resolved rate',
        percent: true,
      }),
    },
    {
      kind: 'table',
      head: ['model', 'tasks', 'runs', 'mean', 'ci95 low', 'ci95 high', 'instances low', 'instances high'],
      rows: [
        [
          txt(ev.model),
          num(`${k}evaluate.tasks`, ev.tasks),
          num(`${k}evaluate.runs`, ev.runs),
          num(`${k}evaluate.mean`, ev.mean, pct),
          ...ivCell('ci95', ev.ci95),
          ...ivCell('ci95_instances', ev.ci95_instances),
        ],
      ],
    },
    {
      kind: 'table',
      head: ['run', 'resolved rate'],
      rows: ev.resolved_rates.map((r, i) => [txt(String(i + 1)), num(`${k}evaluate.runs.${i + 1}`, r, pct)]),
    },
    ...(ev.baselines.length
      ? [
          {
            kind: 'table' as const,
            head: ['baseline', 'mean', 'difference'],
            rows: ev.baselines.map((b) => [
              txt(b.name),
              num(`${k}evaluate.baselines.${b.name}.mean`, b.mean, pct),
              num(`${k}evaluate.baselines.${b.name}.difference`, b.difference, pp),
            ]),
          },
        ]
      : []),
    { kind: 'para', text: `Intervals: over runs ${ivText(ev.ci95)}; over instances ${ivText(ev.ci95_instances)}.` },
  ];
}

/** Resolved rate of an arm with its interval, when it has one. */
function armEstimate(a: ArmData): IntervalItem | null {
  const ev = a.experiment?.evaluate;
  if (ev) {
    const i = bestInterval(ev);
    return { label: `#${a.index} ${a.name}`, value: ev.mean, low: i?.low ?? null, high: i?.high ?? null };
  }
  return a.eval_score !== null ? { label: `#${a.index} ${a.name}`, value: a.eval_score, low: null, high: null } : null;
}

/** The blocks of a sweep: the arms table, the per-arm comparisons, then each arm in a group. */
export function sweepBlocks(d: Extract<ReportData, { kind: 'sweep' }>): Block[] {
  const out: Block[] = [...runFacts(d.run)];
  const s = d.sweep;
  out.push({
    kind: 'para',
    text: `${d.arms.length} arms: ${s.completed} completed, ${s.reused} reused, ${s.failed} failed (${s.runs} workflow run${s.runs === 1 ? '' : 's'}).`,
  });
  out.push({ kind: 'heading', level: 2, text: 'Arms', anchor: 'arms' });
  out.push({
    kind: 'table',
    head: [
      '#',
      'arm',
      'params',
      'state',
      'resolved rate',
      '95% interval',
      'mid-training tokens',
      'started',
      'duration',
      'Web UI',
      'error',
    ],
    rows: d.arms.map((a) => {
      const est = armEstimate(a);
      const ev = a.experiment?.evaluate;
      const p = `arms.${a.index}.`;
      return [
        txt(String(a.index)),
        txt(a.name),
        txt(JSON.stringify(a.params)),
        { text: a.state, key: `${p}state`, value: a.state },
        num(`${p}score`, est?.value ?? null, pct),
        txt(ev ? ivText(bestInterval(ev)) : NONE),
        num(`${p}midtrain_tokens`, a.experiment?.midtrain_tokens ?? null, tokens),
        a.run?.start ? { text: date(a.run.start), key: `${p}start`, value: a.run.start } : txt(NONE),
        num(`${p}duration_ms`, a.run?.duration_ms, duration),
        a.run ? link('open', a.run.url) : txt(NONE),
        txt(a.error ?? ''),
      ];
    }),
  });

  const estimates = d.arms.map(armEstimate).filter((x): x is IntervalItem => x !== null);
  if (estimates.length) {
    out.push({ kind: 'heading', level: 2, text: 'Resolved rate per arm', anchor: 'resolved' });
    out.push({
      kind: 'chart',
      title: 'Resolved rate per arm',
      svg: intervalChart({
        id: 'resolved-per-arm',
        title: 'Resolved rate per arm with 95% intervals',
        items: estimates,
        yLabel: 'resolved rate',
        percent: true,
      }),
    });
    const withTokens = d.arms
      .map((a) => {
        const est = armEstimate(a);
        const x = a.experiment?.midtrain_tokens;
        return est && typeof x === 'number' ? { ...est, x } : null;
      })
      .filter((x): x is IntervalItem & { x: number } => x !== null);
    if (new Set(withTokens.map((w) => w.x)).size >= 2)
      out.push({
        kind: 'chart',
        title: 'Resolved rate against mid-training tokens',
        svg: intervalChart({
          id: 'resolved-vs-tokens',
          title: 'Resolved rate against mid-training tokens',
          items: withTokens,
          yLabel: 'resolved rate',
          xLabel: 'mid-training tokens',
          percent: true,
        }),
      });
  }

  const tokenRowsAll = d.arms.flatMap((a) => (a.experiment ? tokenRows(a.experiment, `#${a.index} · `) : []));
  if (tokenRowsAll.length) {
    out.push({ kind: 'heading', level: 2, text: 'Tokens per mixture source', anchor: 'mix' });
    out.push({
      kind: 'chart',
      title: 'Tokens per mixture source per arm',
      svg: stackedBars({
        id: 'mix-tokens-per-arm',
        title: 'Tokens per mixture source, per arm and training stage',
        rows: tokenRowsAll,
        colors: { '(eos)': '#bbbbbb', '(pad)': '#dddddd' },
      }),
    });
  }
  // Each arm's stages on one step axis; a boundary where each later stage starts, per arm.
  const curves = d.arms.map((a) => continuousCurves(a.experiment?.train?.stages ?? [], `#${a.index} · `));
  const series = curves.flatMap((c) => c.series);
  if (series.length) {
    out.push({ kind: 'heading', level: 2, text: 'Training loss', anchor: 'loss' });
    out.push({
      kind: 'chart',
      title: 'Training loss per arm',
      svg: lineChart({
        id: 'loss-per-arm',
        title: 'Training loss per arm and stage',
        series,
        markers: curves.flatMap((c) => c.boundaries),
        xLabel: STEP_AXIS,
        yLabel: 'loss',
      }),
    });
  }
  for (const a of d.arms)
    if (a.experiment)
      out.push({
        kind: 'group',
        summary: `Arm ${a.index}: ${a.name} (${a.id})`,
        blocks: experimentBlocks(a.experiment, `arm${a.index}.`, `arm${a.index}-`),
      });
  return out;
}
