import type { FormatSummary, MineSummary, ReasonCounts } from '../../contracts';

/** Mutable counters for one page (or a whole stage, once pages are merged). */
export class PageTally {
  repos = 0;
  prsSeen = 0;
  prsKept = 0;
  prsDropped: ReasonCounts = {};
  prsFound: ReasonCounts = {};
  duplicatesMerged = 0;
  notPrs: ReasonCounts = {};
  pullRefsNotMerged = 0;
  formats: Record<string, FormatSummary> = {};
  filesSkipped: ReasonCounts = {};
  candidateSkipped: ReasonCounts = {};
  enhance = { calls: 0, failures: 0, failure_reasons: {} as ReasonCounts };
  taskCandidates = 0;

  add(counts: ReasonCounts, reason: string, n = 1): void {
    counts[reason] = (counts[reason] ?? 0) + n;
  }

  format(name: string): FormatSummary {
    return (this.formats[name] ??= { eligible: 0, filtered: {}, samples: 0, tokens: 0, dropped: {}, retention: {} });
  }

  /** The stage summary shape. */
  toSummary(): MineSummary {
    const fmts = Object.values(this.formats);
    return {
      repos: this.repos,
      prs_seen: this.prsSeen,
      discovery: {
        prs_found: sortCounts(this.prsFound),
        duplicates_merged: this.duplicatesMerged,
        not_prs: sortCounts(this.notPrs),
        pull_refs_not_merged: this.pullRefsNotMerged,
      },
      prs_kept: this.prsKept,
      prs_dropped: sortCounts(this.prsDropped),
      formats: Object.fromEntries(
        Object.keys(this.formats)
          .sort()
          .map((k) => {
            const f = this.formats[k]!;
            return [k, { ...f, filtered: sortCounts(f.filtered), dropped: sortCounts(f.dropped) }];
          })
      ),
      files_skipped: sortCounts(this.filesSkipped),
      enhance: { ...this.enhance, failure_reasons: sortCounts(this.enhance.failure_reasons) },
      task_candidates: this.taskCandidates,
      task_candidates_skipped: sortCounts(this.candidateSkipped),
      samples: fmts.reduce((a, f) => a + f.samples, 0),
      tokens: fmts.reduce((a, f) => a + f.tokens, 0),
    };
  }

  /** Adds a summary (e.g. of one page) into this tally. */
  merge(s: MineSummary): void {
    this.repos += s.repos;
    this.prsSeen += s.prs_seen;
    addAll(this.prsFound, s.discovery.prs_found);
    this.duplicatesMerged += s.discovery.duplicates_merged;
    addAll(this.notPrs, s.discovery.not_prs);
    this.pullRefsNotMerged += s.discovery.pull_refs_not_merged;
    this.prsKept += s.prs_kept;
    addAll(this.prsDropped, s.prs_dropped);
    addAll(this.filesSkipped, s.files_skipped);
    for (const [name, f] of Object.entries(s.formats)) {
      const mine = this.format(name);
      mine.eligible += f.eligible;
      mine.samples += f.samples;
      mine.tokens += f.tokens;
      addAll(mine.filtered, f.filtered);
      addAll(mine.dropped, f.dropped);
      addAll(mine.retention, f.retention);
    }
    this.enhance.calls += s.enhance.calls;
    this.enhance.failures += s.enhance.failures;
    addAll(this.enhance.failure_reasons, s.enhance.failure_reasons);
    this.taskCandidates += s.task_candidates;
    addAll(this.candidateSkipped, s.task_candidates_skipped);
  }
}

function addAll(into: ReasonCounts, from: ReasonCounts): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function sortCounts(c: ReasonCounts): ReasonCounts {
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
}
