/**
 * Turns one commit's unified-diff patch for one file into Search/Replace edit blocks (Format A,
 * paper §3.4). Pure logic, no I/O.
 */
import { applyHunks, hunkOldIndex, joinLines, parseHunks, splitLines, type Line } from './patch';

/** One Search/Replace edit block. `search` and `replace` are raw text including line endings. */
export interface SearchReplaceBlock {
  /** Whole lines exactly as they exist in the file state the block applies to. */
  search: string;
  replace: string;
  /** Lines of extra context taken on each side (0: the change itself was unique). */
  widened: number;
  /** False when `search` still occurs more than once after widening by `maxWiden` lines. */
  unique: boolean;
}

export interface SearchReplaceResult {
  blocks: SearchReplaceBlock[];
  /** The file after the patch; equals `applyUnifiedPatch(before, patch)`. */
  after: string;
}

export interface SearchReplaceOptions {
  /** Most lines of context added above and below a non-unique search. Default 20 (the paper's). */
  maxWiden?: number;
}

/** A block whose search text is missing or ambiguous in the text it is applied to. */
export class SearchReplaceError extends Error {
  constructor(
    message: string,
    /** 0-based index of the failing block. */
    readonly block: number,
    /** How many times the search text occurs (0: missing, >1: ambiguous). */
    readonly occurrences: number
  ) {
    super(message);
    this.name = 'SearchReplaceError';
  }
}

/**
 * Counts occurrences of `needle` in `haystack`, overlapping ones included, stopping at `limit`.
 * Raw substring semantics (what a str_replace tool checks), so a match inside a longer line counts.
 * An empty needle occurs once in an empty text and "everywhere" otherwise.
 */
export function countOccurrences(haystack: string, needle: string, limit = 2): number {
  if (needle === '') return haystack === '' ? 1 : limit;
  let n = 0;
  for (let at = haystack.indexOf(needle); at >= 0 && n < limit; at = haystack.indexOf(needle, at + 1)) n++;
  return n;
}

/**
 * Builds Search/Replace blocks from one commit's patch for one file.
 *
 * Each change group (a maximal run of `-`/`+` lines inside a hunk) becomes one block: search =
 * removed lines, replace = added lines. A pure insertion anchors on the line above it (or the line
 * below when inserting at the top of the file; an empty file gets an empty search). When the
 * search text is not unique in the current file state (the file with all earlier blocks applied)
 * it is widened by one line above and one below at a time, up to `maxWiden`, the same lines being
 * added to replace. Applying the blocks in order with {@link applySearchReplace} to `before`
 * yields `after`, provided every block is `unique`.
 *
 * Throws `PatchError` when the patch does not apply to `before`.
 */
export function buildSearchReplace(
  before: string,
  patch: string,
  opts: SearchReplaceOptions = {}
): SearchReplaceResult {
  const maxWiden = opts.maxWiden ?? 20;
  const hunks = parseHunks(patch);
  const original = splitLines(before);
  const expected = joinLines(applyHunks(original, hunks)); // validates the whole patch first
  const cur = original.slice();
  const blocks: SearchReplaceBlock[] = [];
  let delta = 0; // index in `cur` minus index in the original file
  for (const h of hunks) {
    let oldIdx = hunkOldIndex(h);
    let i = 0;
    while (i < h.lines.length) {
      if (h.lines[i]!.op === ' ') {
        oldIdx++;
        i++;
        continue;
      }
      let removed = 0;
      const added: Line[] = [];
      for (; i < h.lines.length && h.lines[i]!.op !== ' '; i++) {
        const hl = h.lines[i]!;
        if (hl.op === '-') removed++;
        else added.push({ text: hl.text, eol: !hl.noNewline });
      }
      const at = oldIdx + delta;
      blocks.push(makeBlock(cur, at, removed, added, maxWiden));
      cur.splice(at, removed, ...added);
      delta += added.length - removed;
      oldIdx += removed;
    }
  }
  const after = joinLines(cur);
  if (after !== expected) throw new Error('buildSearchReplace: internal error, blocks diverge from the patch');
  return { blocks, after };
}

function makeBlock(
  cur: readonly Line[],
  at: number,
  removed: number,
  added: readonly Line[],
  maxWiden: number
): SearchReplaceBlock {
  let lo = at;
  let hi = at + removed;
  if (lo === hi) {
    if (at > 0) lo = at - 1;
    else if (at < cur.length) hi = at + 1;
  }
  const text = joinLines(cur);
  let unique = countOccurrences(text, joinLines(cur.slice(lo, hi))) === 1;
  let widened = 0;
  while (!unique && widened < maxWiden && (lo > 0 || hi < cur.length)) {
    lo = Math.max(0, lo - 1);
    hi = Math.min(cur.length, hi + 1);
    widened++;
    unique = countOccurrences(text, joinLines(cur.slice(lo, hi))) === 1;
  }
  return {
    search: joinLines(cur.slice(lo, hi)),
    replace: joinLines([...cur.slice(lo, at), ...added, ...cur.slice(at + removed, hi)]),
    widened,
    unique,
  };
}

/**
 * Applies blocks in order: each block's `search` must occur exactly once in the current text
 * (else {@link SearchReplaceError}) and is replaced by `replace`. An empty search applies only to
 * an empty text.
 */
export function applySearchReplace(
  text: string,
  blocks: readonly Pick<SearchReplaceBlock, 'search' | 'replace'>[]
): string {
  let out = text;
  blocks.forEach((b, k) => {
    const n = countOccurrences(out, b.search);
    if (n !== 1) {
      throw new SearchReplaceError(`block ${k}: search text ${n === 0 ? 'not found' : 'is ambiguous'}`, k, n);
    }
    if (b.search === '') {
      out = b.replace;
      return;
    }
    const at = out.indexOf(b.search);
    out = out.slice(0, at) + b.replace + out.slice(at + b.search.length);
  });
  return out;
}
