/**
 * Unified-diff hunks as GitHub's API returns them in `files[].patch`: parsing, strict application
 * and (for tests and fixtures) generation. Pure logic, no I/O.
 *
 * Line model: a file is split on "\n" only. A line's `text` keeps any "\r" of a CRLF ending, so
 * CRLF files round-trip byte for byte as long as the patch carries the same "\r" (GitHub's and
 * git's patches do). `eol` is false only for a last line without a trailing newline.
 */

/** One line of a text file. */
export interface Line {
  /** The line without its "\n" terminator (a CRLF line keeps its "\r"). */
  text: string;
  /** False only for the last line of a file that does not end with "\n". */
  eol: boolean;
}

/** `' '` context, `'-'` removed, `'+'` added. */
export type HunkOp = ' ' | '-' | '+';

/** One body line of a hunk. */
export interface HunkLine {
  op: HunkOp;
  text: string;
  /** Followed by `\ No newline at end of file`: this line has no "\n" on its side(s) of the diff. */
  noNewline: boolean;
}

/** One `@@ -a,b +c,d @@` hunk. Starts are 1-based; an empty range names the line before it. */
export interface Hunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** Text after the closing `@@` (git's function-context hint), verbatim. */
  section: string;
  lines: HunkLine[];
}

/** A patch that cannot be parsed (`malformed`) or does not match the file (`mismatch`). */
export class PatchError extends Error {
  constructor(
    message: string,
    /** 0-based index of the offending hunk (-1: before the first hunk). */
    readonly hunk: number,
    readonly kind: 'malformed' | 'mismatch' = 'mismatch'
  ) {
    super(message);
    this.name = 'PatchError';
  }
}

/** Splits text into {@link Line}s; `''` has no lines. Inverse of {@link joinLines}. */
export function splitLines(content: string): Line[] {
  if (content === '') return [];
  const parts = content.split('\n');
  const last = parts.pop() ?? '';
  const lines: Line[] = parts.map((text) => ({ text, eol: true }));
  if (last !== '') lines.push({ text: last, eol: false });
  return lines;
}

/** Joins {@link Line}s back into text. */
export function joinLines(lines: readonly Line[]): string {
  let out = '';
  for (const l of lines) out += l.eol ? `${l.text}\n` : l.text;
  return out;
}

// `s` flag: a CRLF patch's header line ends in "\r", which `.` would not otherwise match.
const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/s;
// git headers tolerated before the first hunk (GitHub's `files[].patch` has none).
const GIT_HEADER =
  /^(diff --git |index |--- |\+\+\+ |new file mode |deleted file mode |old mode |new mode |similarity index |dissimilarity index |rename from |rename to |copy from |copy to )/;

/**
 * Parses GitHub-style unified-diff hunks. Hunk bodies are read by their header counts; an empty
 * body line counts as an empty context line (some tools strip the lone space). Throws
 * {@link PatchError} (`kind: 'malformed'`) on anything else.
 */
export function parseHunks(patch: string): Hunk[] {
  const raw = patch.split('\n');
  if (raw[raw.length - 1] === '') raw.pop();
  let i = 0;
  while (i < raw.length && !raw[i]!.startsWith('@@')) {
    if (!GIT_HEADER.test(raw[i]!))
      throw new PatchError(`unexpected line before first hunk: ${show(raw[i]!)}`, -1, 'malformed');
    i++;
  }
  const hunks: Hunk[] = [];
  while (i < raw.length) {
    const idx = hunks.length;
    const header = raw[i]!;
    // Trailing blank lines after the last hunk are an artifact of how the patch was stored.
    if (header === '' && raw.slice(i).every((l) => l === '')) break;
    const m = HUNK_HEADER.exec(header);
    if (!m) throw new PatchError(`expected a hunk header, got ${show(header)}`, idx, 'malformed');
    const hunk: Hunk = {
      oldStart: Number(m[1]),
      oldLines: m[2] === undefined ? 1 : Number(m[2]),
      newStart: Number(m[3]),
      newLines: m[4] === undefined ? 1 : Number(m[4]),
      section: m[5] ?? '',
      lines: [],
    };
    i++;
    let oldLeft = hunk.oldLines;
    let newLeft = hunk.newLines;
    const markNoNewline = (): void => {
      const prev = hunk.lines[hunk.lines.length - 1];
      if (!prev) throw new PatchError('"\\ No newline" marker without a preceding line', idx, 'malformed');
      prev.noNewline = true;
    };
    while (oldLeft > 0 || newLeft > 0) {
      const l = raw[i];
      if (l === undefined) throw new PatchError('hunk body shorter than its header says', idx, 'malformed');
      i++;
      if (l.startsWith('\\')) {
        markNoNewline();
        continue;
      }
      const op = l === '' ? ' ' : l[0];
      const text = l.slice(1);
      if (op === ' ' && oldLeft > 0 && newLeft > 0) {
        oldLeft--;
        newLeft--;
      } else if (op === '-' && oldLeft > 0) oldLeft--;
      else if (op === '+' && newLeft > 0) newLeft--;
      else throw new PatchError(`unexpected hunk line ${show(l)}`, idx, 'malformed');
      hunk.lines.push({ op, text, noNewline: false });
    }
    while (i < raw.length && raw[i]!.startsWith('\\')) {
      markNoNewline();
      i++;
    }
    hunks.push(hunk);
  }
  return hunks;
}

/** Index in the old file's line array where a hunk's old range begins. */
export function hunkOldIndex(h: Hunk): number {
  return h.oldLines === 0 ? h.oldStart : h.oldStart - 1;
}

/**
 * Applies parsed hunks to lines, strictly: each hunk must sit at its stated old position (no
 * offset or fuzz), hunks must be in order and not overlap, and every context/removed line must
 * match the file exactly, including whether it ends with a newline.
 */
export function applyHunks(src: readonly Line[], hunks: readonly Hunk[]): Line[] {
  const out: Line[] = [];
  let pos = 0;
  hunks.forEach((h, k) => {
    const start = hunkOldIndex(h);
    if (start < pos) throw new PatchError(`hunk ${k} overlaps the previous one`, k, 'malformed');
    if (start > src.length)
      throw new PatchError(`hunk ${k} starts at line ${h.oldStart}, past the end (${src.length} lines)`, k);
    while (pos < start) out.push(src[pos++]!);
    h.lines.forEach((hl, j) => {
      if (hl.op !== '+') {
        const cur = src[pos];
        if (cur === undefined) throw new PatchError(`hunk ${k} line ${j}: file ends before ${show(hl.text)}`, k);
        if (cur.text !== hl.text) {
          throw new PatchError(
            `hunk ${k} line ${j}: expected ${show(hl.text)} at line ${pos + 1}, found ${show(cur.text)}`,
            k
          );
        }
        if (cur.eol === hl.noNewline) {
          throw new PatchError(`hunk ${k} line ${j}: end-of-file newline differs at line ${pos + 1}`, k);
        }
        pos++;
      }
      if (hl.op !== '-') out.push({ text: hl.text, eol: !hl.noNewline });
    });
  });
  while (pos < src.length) out.push(src[pos++]!);
  const bad = out.findIndex((l, j) => !l.eol && j !== out.length - 1);
  if (bad >= 0)
    throw new PatchError(
      `line ${bad + 1} would lack a newline but is not the last line`,
      hunks.length - 1,
      'malformed'
    );
  return out;
}

/**
 * Applies a GitHub-style patch (`files[].patch`: hunks from the first `@@`, optional
 * `\ No newline at end of file` markers) to `content` and returns the new content.
 *
 * Strict: throws {@link PatchError} (with the hunk index) when a hunk's context or removed lines
 * do not match. Creation is `@@ -0,0 +1,n @@` applied to `''`; deleting every line yields `''`.
 * An empty patch returns `content` unchanged.
 */
export function applyUnifiedPatch(content: string, patch: string): string {
  return joinLines(applyHunks(splitLines(content), parseHunks(patch)));
}

/**
 * Makes a GitHub-style patch (no header, git's `@@ -a,b +c,d @@` with `,1` omitted, `\ No newline`
 * markers, no trailing newline) that turns `before` into `after`; `''` when they are equal.
 * Myers diff over lines, O((N+M)·D) time and memory; meant for tests, fixtures and small files.
 */
export function diffToPatch(before: string, after: string, context = 3): string {
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = myers(a, b);
  const out: string[] = [];
  let i = 0;
  while (i < ops.length) {
    // Find the next change, then extend the hunk while the next change is within 2·context lines.
    while (i < ops.length && ops[i]!.op === ' ') i++;
    if (i >= ops.length) break;
    const start = Math.max(0, i - context);
    let end = i;
    for (;;) {
      while (end < ops.length && ops[end]!.op !== ' ') end++;
      let next = end;
      while (next < ops.length && ops[next]!.op === ' ') next++;
      if (next < ops.length && next - end <= 2 * context) end = next;
      else {
        end = Math.min(ops.length, end + context);
        break;
      }
    }
    const body = ops.slice(start, end);
    const first = ops[start]!;
    const oldLines = body.filter((o) => o.op !== '+').length;
    const newLines = body.filter((o) => o.op !== '-').length;
    // An empty range names the line before it, as git does.
    const oldStart = oldLines === 0 ? first.oldIdx : first.oldIdx + 1;
    const newStart = newLines === 0 ? first.newIdx : first.newIdx + 1;
    const range = (s: number, n: number): string => (n === 1 ? `${s}` : `${s},${n}`);
    out.push(`@@ -${range(oldStart, oldLines)} +${range(newStart, newLines)} @@`);
    for (const o of body) {
      out.push(o.op + o.line.text);
      if (!o.line.eol) out.push('\\ No newline at end of file');
    }
    i = end;
  }
  return out.join('\n');
}

interface DiffOp {
  op: HunkOp;
  line: Line;
  /** Index of this position in the old / new line arrays. */
  oldIdx: number;
  newIdx: number;
}

/** Myers' O(ND) shortest edit script; removals come before additions inside a change run. */
function myers(a: readonly Line[], b: readonly Line[]): DiffOp[] {
  const key = (l: Line): string => (l.eol ? `${l.text}\n` : l.text);
  const ak = a.map(key);
  const bk = b.map(key);
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && ak[x] === bk[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  const rev: DiffOp[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const tv = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && tv[off + k - 1]! < tv[off + k + 1]!) ? k + 1 : k - 1;
    const prevX = tv[off + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      rev.push({ op: ' ', line: a[x]!, oldIdx: x, newIdx: y });
    }
    if (d > 0) {
      if (x === prevX) rev.push({ op: '+', line: b[prevY]!, oldIdx: prevX, newIdx: prevY });
      else rev.push({ op: '-', line: a[prevX]!, oldIdx: prevX, newIdx: prevY });
    }
    x = prevX;
    y = prevY;
  }
  const ops = rev.reverse();
  // Myers may interleave -/+ inside a run; git prints all removals first. Reorder each run.
  const out: DiffOp[] = [];
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.op === ' ') {
      out.push(ops[i++]!);
      continue;
    }
    const run: DiffOp[] = [];
    while (i < ops.length && ops[i]!.op !== ' ') run.push(ops[i++]!);
    const oldIdx = run[0]!.oldIdx;
    const newIdx = run[0]!.newIdx;
    for (const o of run) if (o.op === '-') out.push(o);
    for (const o of run) if (o.op === '+') out.push(o);
    // Positions of the run's first op are what hunk headers need; keep them on the first element.
    const firstOfRun = out[out.length - run.length]!;
    out[out.length - run.length] = { ...firstOfRun, oldIdx, newIdx };
  }
  return out;
}

function show(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
