import type { EvaluateRun, EvaluateSummary } from '../../contracts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const signedPct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} pp`;

/**
 * The evaluation's short Markdown report: runs (with how many verdicts bottega's strict check would
 * change, beside the official score), mean, intervals (with their methods), baselines.
 */
export function summaryMarkdown(s: EvaluateSummary, runs: readonly EvaluateRun[]): string {
  const lines = [
    `# Evaluation: ${s.model}`,
    '',
    `Policy \`${s.policy}\`, ${s.tasks} task(s), ${s.runs} run(s) (seeds ${s.seeds.join(', ')}).`,
    '',
    '| run | seed | resolved | empty patch | error | resolved rate | strict disagreements |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(
      (r) =>
        `| ${r.run} | ${r.seed} | ${r.resolved}/${r.total} | ${r.empty_patch} | ${r.error} | ${pct(r.resolved_rate)} | ${r.strict_disagreement_ids.length} |`
    ),
    '',
    "Scores are swebench 5.0.2's verdicts; strict disagreements count instances where bottega's strict check",
    '(forged exit-code lines, progress-line statuses, unittest outcomes, …) reached the other verdict (see each',
    "run report's `strict_disagreements`).",
    '',
    `**Pass@1 (mean over runs): ${pct(s.mean)}**`,
    '',
    s.ci95
      ? `- 95% CI over runs: [${pct(s.ci95.low)}, ${pct(s.ci95.high)}] (${s.ci95.method})`
      : '- 95% CI over runs: n/a (one run)',
    s.ci95_instances
      ? `- 95% CI over instances: [${pct(s.ci95_instances.low)}, ${pct(s.ci95_instances.high)}] (${s.ci95_instances.method})`
      : '- 95% CI over instances: n/a',
  ];
  if (s.baselines.length) {
    lines.push('', '## Baselines', '', '| baseline | runs | mean | difference | 95% CI (runs) | 95% CI (instances) |');
    lines.push('| --- | ---: | ---: | ---: | --- | --- |');
    for (const b of s.baselines) {
      const ci = (c: typeof b.ci95_runs) => (c ? `[${signedPct(c.low)}, ${signedPct(c.high)}]` : 'n/a');
      lines.push(
        `| ${b.name} | ${b.rates.length} | ${pct(b.mean)} | ${signedPct(b.difference)} | ${ci(b.ci95_runs)} | ${ci(b.ci95_instances)} |`
      );
    }
    lines.push('', 'Difference = this evaluation minus the baseline, both scored on this task set.');
  }
  return lines.join('\n') + '\n';
}
