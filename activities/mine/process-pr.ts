import type { MineConfig, MineSample, PrRecord, SampleFormat, TaskCandidate } from '../../contracts';
import { RETENTION_THRESHOLDS } from '../../contracts';
import { pythonFilter, sharedFilter } from './filters';
import { renderGeneralSample } from './render-general';
import { renderPythonSample, RenderError } from './render-python';
import { buildTaskCandidate } from './task-candidates';
import type { Tokenizer } from './tokenizer';
import { PageTally } from './tally';

/** A PR's fate, one line of the decisions artifact. */
export interface PrDecision {
  repo: string;
  /** The PR's number; for a commit that is not a PR, the number it names (or null). */
  number: number | null;
  /** How a git source found the PR (merge, squash, rebase, pull_ref), and every way it was seen. */
  shape?: string;
  found_as?: string[];
  /** Other commits holding the same number, folded into this PR. */
  duplicate_commits?: string[];
  /** For a merge or `(#N)` commit that is not a PR: the commit and its subject (the reason is in `reasons`). */
  not_pr?: { commit: string; subject: string };
  kept: boolean;
  /** Why the PR produced no sample, or why a format skipped it. */
  reasons: string[];
  samples: { format: SampleFormat; tokens: number | null; kept: boolean; reason: string | null }[];
  task_candidate: boolean;
}

/** Everything one PR contributes to a page's output. */
export interface ProcessedPr {
  samples: MineSample[];
  task: TaskCandidate | null;
  decision: PrDecision;
}

function render(format: SampleFormat, pr: PrRecord): string {
  return format === 'python' ? renderPythonSample(pr).text : renderGeneralSample(pr);
}

/**
 * Applies filters, renders each enabled format, tokenizes with the target tokenizer, applies the
 * length gate and builds the task candidate. Every exclusion is recorded in `tally`.
 */
export function processPr(pr: PrRecord, config: MineConfig, tokenizer: Tokenizer, tally: PageTally): ProcessedPr {
  tally.prsSeen++;
  for (const f of pr.skipped_files) tally.add(tally.filesSkipped, f.reason);
  const decision: PrDecision = {
    repo: pr.repo,
    number: pr.number,
    kept: false,
    reasons: [],
    samples: [],
    task_candidate: false,
  };
  const shared = sharedFilter(pr, config.filters);
  if (shared) {
    decision.reasons.push(shared);
    tally.add(tally.prsDropped, shared);
    return { samples: [], task: null, decision };
  }
  const samples: MineSample[] = [];
  for (const format of config.formats) {
    const fmt = tally.format(format);
    if (format === 'python') {
      const reason = pythonFilter(pr, config.filters);
      if (reason) {
        tally.add(fmt.filtered, reason);
        decision.reasons.push(`python:${reason}`);
        continue;
      }
    }
    fmt.eligible++;
    let text: string;
    try {
      text = render(format, pr);
    } catch (e) {
      const reason = e instanceof RenderError ? `render_${e.reason}` : 'render_error';
      tally.add(fmt.dropped, reason);
      decision.samples.push({ format, tokens: null, kept: false, reason });
      decision.reasons.push(`${format}:${reason}`);
      continue;
    }
    const tokens = tokenizer.count(text);
    for (const t of RETENTION_THRESHOLDS)
      if (tokens <= t) fmt.retention[String(t)] = (fmt.retention[String(t)] ?? 0) + 1;
    if (tokens > config.max_tokens) {
      tally.add(fmt.dropped, 'over_max_tokens');
      decision.samples.push({ format, tokens, kept: false, reason: 'over_max_tokens' });
      decision.reasons.push(`${format}:over_max_tokens`);
      continue;
    }
    fmt.samples++;
    fmt.tokens += tokens;
    decision.samples.push({ format, tokens, kept: true, reason: null });
    samples.push({
      id: `${pr.repo}#${pr.number}:${format}`,
      format,
      repo: pr.repo,
      pr_number: pr.number,
      text,
      tokens,
    });
  }
  let task: TaskCandidate | null = null;
  if (config.task_candidates) {
    const r = buildTaskCandidate(pr);
    if (r.candidate) {
      task = r.candidate;
      tally.taskCandidates++;
      decision.task_candidate = true;
    } else tally.add(tally.candidateSkipped, r.reason);
  }
  if (samples.length > 0) {
    decision.kept = true;
    tally.prsKept++;
  } else {
    const why = decision.reasons.length ? 'no_sample_kept' : 'no_format_enabled';
    tally.add(tally.prsDropped, why);
    decision.reasons.unshift(why);
  }
  return { samples, task, decision };
}
