/**
 * Format A (paper §3.4): the Python PR sample, Markdown sections plus Search/Replace edits.
 * Pure logic, no I/O.
 */
import type { CommitFileDiff, PrRecord } from '../../contracts/pr';
import { PatchError, applyUnifiedPatch, parseHunks } from './patch';
import { headed, oneLine, prose, repositoryLines, sanitizeText, withFinalNewline } from './render-common';
import { buildSearchReplace, type SearchReplaceBlock } from './search-replace';

/** Why a PR could not be rendered; the caller counts the PR as dropped with `render_<reason>`. */
export type RenderErrorReason = 'patch_mismatch' | 'patch_malformed' | 'no_edits';

/** A PR that cannot be rendered as Format A. */
export class RenderError extends Error {
  constructor(
    readonly reason: RenderErrorReason,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'RenderError';
  }
}

/** Counters describing one rendered Format A sample. */
export interface PythonRenderStats {
  commits: number;
  /** Rendered edit entries: Search/Replace blocks plus Create, Delete and Rename lines. */
  edits: number;
  /** Search/Replace blocks that needed widening (`widened > 0`). */
  widened: number;
  /** Search/Replace blocks still ambiguous after widening by the maximum. */
  nonUnique: number;
  /** File diffs left out: binary, no patch, or content unknown (not a relevant file / skipped). */
  skipped: number;
}

export interface PythonSample {
  text: string;
  stats: PythonRenderStats;
}

const PY_EXT = new Set(['py', 'pyi', 'pyx', 'pyw']);
const MD_EXT = new Set(['md', 'markdown']);

/** Code-fence info string for a path: python, markdown, rst, or text. */
export function fenceLanguage(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
  if (PY_EXT.has(ext)) return 'python';
  if (MD_EXT.has(ext)) return 'markdown';
  if (ext === 'rst') return 'rst';
  return 'text';
}

/** Fences `content`, using one backtick more than the longest backtick run inside it (min 3). */
export function fenced(content: string, lang: string): string {
  let longest = 0;
  for (const m of content.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${withFinalNewline(content)}${fence}`;
}

/**
 * Wraps text in the paper's `'''` quotes: `'''`, newline, the text, a newline if the text does
 * not already end with one, `'''`. Empty text renders as two adjacent quote lines.
 */
export function quoted(text: string): string {
  return `'''\n${withFinalNewline(text)}'''`;
}

function editBlock(path: string, b: SearchReplaceBlock): string {
  return `Edit: ${path}\nSearch:\n${quoted(b.search)}\nReplace:\n${quoted(b.replace)}`;
}

/**
 * Renders a PR as a Format A sample (paper §3.4):
 *
 * ```
 * # Repository Context / # Issue (one per linked issue, omitted when none) / # Pull Request /
 * # Relevant Files Found / # Edits
 * ```
 *
 * Sections are separated by one blank line; the `# Edits` section has no blank lines: the PR
 * summary (if any), then per commit its `refined_message ?? message` followed by its edits.
 * Commits are replayed in order over an in-memory copy of `pr.relevant_files`, so each Search
 * matches the file as earlier commits left it. Edit entries:
 *
 * - `Edit: path` + `Search:`/`Replace:` blocks in `'''` quotes (modified files, and content
 *   changes of renamed files; pure insertions are anchored str_replace blocks);
 * - `Create: path` + the full new content in `'''` quotes (an added file without a patch and not
 *   binary is an empty file, as GitHub omits patches of empty files);
 * - `Delete: path`;
 * - `Rename: old -> new`, then any `Edit: new` blocks.
 *
 * Binary diffs, modified files without a patch, and diffs on files whose content is unknown are
 * skipped and counted in `stats.skipped`; a file whose change was skipped stays unknown after.
 *
 * @throws {RenderError} `patch_mismatch` / `patch_malformed` when a patch does not apply,
 *   `no_edits` when no edit at all could be rendered.
 */
export function renderPythonSample(pr: PrRecord): PythonSample {
  const stats: PythonRenderStats = { commits: pr.commits.length, edits: 0, widened: 0, nonUnique: 0, skipped: 0 };
  const sections: string[] = [];

  sections.push(`# Repository Context\n${repositoryLines(pr)}`);
  for (const issue of pr.linked_issues) {
    sections.push(`# Issue\n${headed(`## ${oneLine(issue.title)}`, prose(issue.body))}`);
  }
  sections.push(`# Pull Request\n${headed(`## ${oneLine(pr.title)}`, prose(pr.body))}`);

  const files = new Map<string, string>();
  const shown: string[] = [];
  for (const f of pr.relevant_files) {
    const path = sanitizeText(f.path);
    const content = sanitizeText(f.content);
    files.set(path, content);
    shown.push(`## ${path}\n${fenced(content, fenceLanguage(path))}`);
  }
  // Files are separated by a blank line, like sections.
  sections.push(['# Relevant Files Found', shown.join('\n\n')].filter(Boolean).join('\n'));

  const edits: string[] = [];
  const summary = pr.pr_summary === null ? '' : prose(pr.pr_summary);
  if (summary) edits.push(summary);
  for (const commit of pr.commits) {
    // An empty rewrite counts as a failed one: fall back to the original message.
    const message = prose(commit.refined_message ?? '') || prose(commit.message);
    if (message) edits.push(message);
    for (const d of commit.diffs) {
      const out = renderDiff(d, files, stats, commit.sha);
      stats.edits += out.length;
      edits.push(...out);
    }
  }
  if (stats.edits === 0) throw new RenderError('no_edits', `${pr.repo}#${pr.number}: no renderable edit`);
  sections.push(`# Edits\n${edits.join('\n')}`);
  return { text: `${sections.join('\n\n')}\n`, stats };
}

/** Renders one file diff against the evolving file state, updating it. Returns the edit entries. */
function renderDiff(d: CommitFileDiff, files: Map<string, string>, stats: PythonRenderStats, sha: string): string[] {
  const path = sanitizeText(d.path);
  const patch = d.patch === null ? null : sanitizeText(d.patch);
  const where = `${path} in ${sha.slice(0, 12)}`;
  switch (d.status) {
    case 'removed':
      files.delete(path);
      return [`Delete: ${path}`];
    case 'added': {
      if (d.binary) {
        files.delete(path);
        stats.skipped++;
        return [];
      }
      const content = patch === null ? '' : apply('', patch, where);
      files.set(path, content);
      return [`Create: ${path}\n${quoted(content)}`];
    }
    case 'renamed': {
      const from = sanitizeText(d.previous_path ?? d.path);
      const out = from === path ? [] : [`Rename: ${from} -> ${path}`];
      const before = files.get(from);
      files.delete(from);
      const hasHunks = patch !== null && parseOrThrow(patch, where).length > 0;
      if (d.binary || before === undefined) {
        files.delete(path);
        if (d.binary || hasHunks) stats.skipped++;
        return out;
      }
      if (!hasHunks) {
        files.set(path, before);
        return out;
      }
      return [...out, ...edit(path, before, patch ?? '', files, stats, where)];
    }
    case 'modified': {
      const before = files.get(path);
      if (d.binary || patch === null || before === undefined) {
        files.delete(path);
        stats.skipped++;
        return [];
      }
      return edit(path, before, patch, files, stats, where);
    }
  }
}

function edit(
  path: string,
  before: string,
  patch: string,
  files: Map<string, string>,
  stats: PythonRenderStats,
  where: string
): string[] {
  let result;
  try {
    result = buildSearchReplace(before, patch);
  } catch (e) {
    throw asRenderError(e, where);
  }
  files.set(path, result.after);
  for (const b of result.blocks) {
    if (b.widened > 0) stats.widened++;
    if (!b.unique) stats.nonUnique++;
  }
  return result.blocks.map((b) => editBlock(path, b));
}

function apply(content: string, patch: string, where: string): string {
  try {
    return applyUnifiedPatch(content, patch);
  } catch (e) {
    throw asRenderError(e, where);
  }
}

function parseOrThrow(patch: string, where: string): ReturnType<typeof parseHunks> {
  try {
    return parseHunks(patch);
  } catch (e) {
    throw asRenderError(e, where);
  }
}

function asRenderError(e: unknown, where: string): unknown {
  if (!(e instanceof PatchError)) return e;
  const reason = e.kind === 'malformed' ? 'patch_malformed' : 'patch_mismatch';
  return new RenderError(reason, `${where}: ${e.message}`, { cause: e });
}
