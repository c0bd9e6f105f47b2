import type {
  BuildStageResult,
  ExperimentResult,
  MineStageResult,
  MixStageResult,
  RolloutStageResult,
  TrainStageResult,
  EvaluateStageResult,
  RunWarning,
} from '../contracts';
import { evaluationNodes, experimentWarnings } from '../contracts';

const fmt = (n: number) => n.toLocaleString('en-US');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function counts(c: Record<string, number>, indent = '    '): string[] {
  const entries = Object.entries(c).filter(([, v]) => v > 0);
  return entries.length
    ? entries.map(([k, v]) => `${indent}${k.padEnd(28)} ${fmt(v).padStart(8)}`)
    : [`${indent}(none)`];
}

/** Human-readable summary of the mine stage. */
export function formatMineSummary(r: MineStageResult): string {
  const s = r.summary;
  const lines = [
    `  repositories                   ${fmt(s.repos).padStart(8)}`,
    `  PRs seen                       ${fmt(s.prs_seen).padStart(8)}`,
    `  PRs kept                       ${fmt(s.prs_kept).padStart(8)}`,
    `  PRs dropped, by reason:`,
    ...counts(s.prs_dropped),
  ];
  // Results of runs before discovery counts existed have none.
  const d = s.discovery ?? { prs_found: {}, duplicates_merged: 0, not_prs: {}, pull_refs_not_merged: 0 };
  lines.push(`  PRs found, by how they were merged:`, ...counts(d.prs_found));
  if (d.duplicates_merged) lines.push(`  duplicate sightings merged      ${fmt(d.duplicates_merged).padStart(8)}`);
  if (Object.keys(d.not_prs).length) lines.push(`  not PRs (not sampled), by reason:`, ...counts(d.not_prs));
  if (d.pull_refs_not_merged)
    lines.push(`  pull refs not merged into the ref ${fmt(d.pull_refs_not_merged).padStart(5)}`);
  for (const [name, f] of Object.entries(s.formats)) {
    lines.push(
      `  format ${name}: ${fmt(f.samples)} samples, ${fmt(f.tokens)} tokens (eligible ${fmt(f.eligible)})`,
      `    filtered out:`,
      ...counts(f.filtered, '      '),
      `    dropped after rendering:`,
      ...counts(f.dropped, '      '),
      `    kept at length limit: ${Object.entries(f.retention)
        .map(([t, n]) => `${Number(t) / 1024}k=${n}`)
        .join(' ')}`
    );
  }
  lines.push(`  relevant files skipped:`, ...counts(s.files_skipped));
  if (s.enhance.calls)
    lines.push(`  LLM enhancement: ${s.enhance.calls} calls, ${s.enhance.failures} failed (original text kept)`);
  lines.push(`  task candidates                ${fmt(s.task_candidates).padStart(8)}`);
  lines.push(`  samples ${fmt(s.samples)}, tokens ${fmt(s.tokens)}`);
  lines.push(`  artifacts:`);
  for (const [k, a] of Object.entries(r.artifacts))
    if (a) lines.push(`    ${k.padEnd(10)} ${a.uri}  (${a.records ?? '-'} records, sha256 ${a.sha256.slice(0, 12)})`);
  return lines.join('\n');
}

/** Human-readable funnel of the build stage. */
export function formatBuildSummary(r: BuildStageResult): string {
  const s = r.summary;
  const lines = [
    `  funnel: candidates ${fmt(s.candidates)} → built ${fmt(s.built)} → validated ${fmt(s.validated)} → kept ${fmt(s.kept)}`,
    `  failures, by reason:`,
    ...counts(s.failed),
    `  flaky tests excluded: ${fmt(s.flaky_tests)}; images built now: ${s.images_built.env} env, ${s.images_built.instance} instance`,
    `  test lists kept: ${fmt(s.lists.official)} official (verbatim), ${fmt(s.lists.derived)} derived; ` +
      `records whose own lists did not hold: ${fmt(s.lists.mismatched)}`,
    `  artifacts:`,
  ];
  for (const [k, a] of Object.entries(r.artifacts))
    lines.push(`    ${k.padEnd(10)} ${a.uri}  (${a.records ?? '-'} records)`);
  return lines.join('\n');
}

/** Human-readable summary of the rollout stage. */
export function formatRolloutSummary(r: RolloutStageResult): string {
  const s = r.summary;
  return [
    `  tasks ${fmt(s.tasks)}, rollouts ${fmt(s.rollouts)}: ${fmt(s.passed)} pass, ${fmt(s.failed)} fail (pass rate ${(s.pass_rate * 100).toFixed(1)}%), ${fmt(s.tokens)} tokens`,
    `  exits, by reason:`,
    ...counts(s.exits),
    `  dropped:`,
    ...counts(s.dropped),
    `  artifacts:`,
    ...Object.entries(r.artifacts).map(([k, a]) => `    ${k.padEnd(10)} ${a.uri}  (${a.records ?? '-'} records)`),
  ].join('\n');
}

/** Human-readable summary of the mix stage: the cleaning funnel per source, then each training stage. */
export function formatMixSummary(r: MixStageResult): string {
  const s = r.summary;
  const out = [`  cleaning (tokenizer ${s.tokenizer}):`];
  for (const [name, c] of Object.entries(s.sources)) {
    out.push(
      `    ${name.padEnd(18)} ${fmt(c.documents_in).padStart(7)} docs ${fmt(c.tokens_in).padStart(12)} tok in → ${fmt(c.documents_kept).padStart(7)} docs ${fmt(c.tokens_kept).padStart(12)} tok kept`
    );
    for (const [reason, n] of Object.entries(c.removed))
      if (n.documents > 0)
        out.push(`      - ${reason.padEnd(22)} ${fmt(n.documents).padStart(7)} docs ${fmt(n.tokens).padStart(12)} tok`);
  }
  for (const [name, st] of Object.entries(s.stages)) {
    out.push(
      `  stage ${name}: ${fmt(st.sequences)} sequences, ${fmt(st.tokens)} tokens (${fmt(st.content_tokens)} content, ${fmt(st.loss_tokens)} in the loss), ${fmt(st.documents)} documents, ${fmt(st.shards)} shards`
    );
    for (const [src, x] of Object.entries(st.sources))
      out.push(
        `    ${src.padEnd(18)} ${fmt(x.tokens_out).padStart(12)} tok  ×${x.repetition.toFixed(2)}  ${(x.share * 100).toFixed(1).padStart(5)}%`
      );
  }
  out.push(`  artifacts:`);
  for (const [k, a] of Object.entries(r.artifacts.manifests)) out.push(`    manifest ${k.padEnd(8)} ${a.uri}`);
  out.push(`    removed          ${r.artifacts.report.uri}  (${r.artifacts.report.records ?? '-'} records)`);
  return out.join('\n');
}

/** Human-readable summary of the train stage: one line per Slurm job, then its artifacts. */
export function formatTrainSummary(r: TrainStageResult): string {
  const out: string[] = [];
  for (const st of r.stages) {
    const m = st.metrics_summary;
    const loss = m && m.loss_first !== null ? `, loss ${m.loss_first.toFixed(3)} → ${m.loss_last!.toFixed(3)}` : '';
    const speed = m?.tokens_per_s ? `, ${fmt(Math.round(m.tokens_per_s))} tok/s` : '';
    out.push(
      `  ${st.name.padEnd(6)} job ${st.jobId} ${st.state}: ${m ? `${fmt(m.steps)} steps, ${fmt(m.tokens)} tokens` : 'no metrics'}${loss}${speed}`
    );
    out.push(`         checkpoint ${st.final_checkpoint}`);
    out.push(`         metrics    ${st.artifacts.metrics.uri}`);
  }
  out.push(`  final model: ${r.final_checkpoint}`);
  return out.join('\n');
}

/** Human-readable summary of the evaluate stage: resolved rate per run, mean and interval, baselines. */
export function formatEvaluateSummary(r: EvaluateStageResult): string {
  const s = r.summary;
  const ci = s.ci95 ? ` (95% CI ${pct(s.ci95.low)}–${pct(s.ci95.high)}, ${s.ci95.method})` : '';
  const out = [
    `  ${s.model} (${s.policy}) on ${fmt(s.tasks)} tasks, ${s.runs} run(s): resolved ${pct(s.mean)}${ci}`,
    ...r.runs.map(
      (x) =>
        `    run ${x.run} (seed ${x.seed}): ${fmt(x.resolved)}/${fmt(x.total)} resolved, ${fmt(x.empty_patch)} empty patch, ${fmt(x.error)} error  ${x.artifacts.run_report.uri}`
    ),
  ];
  for (const b of s.baselines) {
    const d = b.ci95_runs ?? b.ci95_instances;
    const sign = b.difference >= 0 ? '+' : '';
    out.push(
      `    vs ${b.name}: ${pct(b.mean)} → ${sign}${(b.difference * 100).toFixed(1)} points${d ? ` (95% CI ${(d.low * 100).toFixed(1)} to ${(d.high * 100).toFixed(1)}, ${d.method})` : ''}`
    );
  }
  if (r.serving) out.push(`  served ${r.serving.checkpoint} as job ${r.serving.job_id} (${r.serving.endpoint})`);
  out.push(`  report: ${r.artifacts.report.uri}`);
  return out.join('\n');
}

/**
 * Human-readable summary of an experiment result. With `link` (e.g. cli/client.ts `workflowUrl`),
 * each stage gets the Web UI link of the run that produced its result: this experiment's stage
 * run, or for a stage reused from the step cache, the earlier run that produced it.
 */
export function formatExperimentResult(
  r: ExperimentResult,
  opts: { link?: (workflowId: string, runId: string) => string } = {}
): string {
  const out = [`experiment ${r.experimentId}`];
  // in the graph's order (stages on the DAG finish in any order); nodes that did not run are absent
  const order = [...new Set([...Object.keys(r.dag?.needs ?? {}), ...Object.keys(r.stages)])];
  for (const stage of order) {
    const o = r.stages[stage];
    if (!o) continue;
    out.push(
      `stage ${stage}: ${o.status === 'cached' ? `reused from cache (produced by ${o.producer.workflowId} run ${o.producer.runId})` : `ran (${o.producer.workflowId})`}`
    );
    if (opts.link) out.push(`  Web UI: ${opts.link(o.producer.workflowId, o.producer.runId)}`);
    if (stage === 'mine') out.push(formatMineSummary(o.result as MineStageResult));
    if (stage === 'build') out.push(formatBuildSummary(o.result as BuildStageResult));
    if (stage === 'rollout') out.push(formatRolloutSummary(o.result as RolloutStageResult));
    if (stage === 'mix') out.push(formatMixSummary(o.result as MixStageResult));
    if (stage === 'train') out.push(formatTrainSummary(o.result as TrainStageResult));
    if (stage === 'evaluate' || stage.startsWith('evaluate.'))
      out.push(formatEvaluateSummary(o.result as EvaluateStageResult));
  }
  out.push(...formatEvaluationComparison(r));
  out.push(...formatRunWarnings(experimentWarnings(r)));
  return out.join('\n');
}

/**
 * Several named evaluations side by side: each one's mean resolved rate with its interval, and its
 * difference to the first (in points). Nothing when the experiment has fewer than two.
 */
export function formatEvaluationComparison(r: Pick<ExperimentResult, 'stages' | 'dag'>): string[] {
  const evals = evaluationNodes(r)
    .filter((n) => r.stages[n])
    .map((n) => ({ node: n, s: (r.stages[n]!.result as EvaluateStageResult).summary }));
  if (evals.length < 2) return [];
  const first = evals[0]!;
  const rows = evals.map(({ node, s }, i) => {
    const ci = s.ci95 ? `${pct(s.ci95.low)}–${pct(s.ci95.high)}` : '-';
    const d = (s.mean - first.s.mean) * 100;
    const diff = i === 0 ? '' : `${d >= 0 ? '+' : ''}${d.toFixed(1)} points vs ${first.node}`;
    return `  ${node.padEnd(24)} ${s.model.slice(0, 24).padEnd(24)} ${fmt(s.tasks).padStart(6)} tasks × ${s.runs}  ${pct(s.mean).padStart(6)}  ${ci.padEnd(13)} ${diff}`;
  });
  return ['evaluations compared (mean resolved rate, 95% CI):', ...rows];
}

/**
 * The experiment's empty-output warnings, one `warning:` line each under a header; nothing when
 * there are none. `bottega run --strict` exits with EXIT.warnings (4) when there are any.
 */
export function formatRunWarnings(warnings: readonly RunWarning[]): string[] {
  if (!warnings.length) return [];
  return [
    `warnings: ${warnings.length} (the run completed but produced nothing here; \`bottega run --strict\` exits 4):`,
    ...warnings.map((w) => `  warning: ${w.message}`),
  ];
}
