/**
 * Replays a rendered Python-format sample (Format A) from its text alone, as a model trained on it
 * would have to: the files of `# Relevant Files Found`, then every `# Edits` entry in order
 * (Search/Replace, Create, Delete, Rename). Used to check that samples reproduce the PR head's files.
 *
 * The text is ambiguous in one place: a quoted block ends at a line `'''`, which file content may
 * also hold (Python docstrings). A block ends at the first such line followed by the next entry, a
 * commit message of the PR (`messages`), or the end of the text.
 */
import { applySearchReplace, SearchReplaceError } from '../../activities/mine/search-replace';

/** The file states a sample describes: before (relevant files) and after (edits replayed). */
export interface Replayed {
  before: Map<string, string>;
  after: Map<string, string>;
  /** Paths the edits deleted or renamed away. */
  gone: Set<string>;
}

const ENTRY = /^(Edit|Create|Delete|Rename): /;

/** Replays `text`; throws with the offset and reason when the text cannot be read or an edit does not apply. */
export function replayPythonSample(text: string, messages: readonly string[]): Replayed {
  const rel = text.indexOf('\n\n# Relevant Files Found');
  if (rel < 0) throw new Error('no "# Relevant Files Found" section');
  let pos = rel + '\n\n# Relevant Files Found'.length;
  const before = new Map<string, string>();
  while (text.startsWith('\n## ', pos) || text.startsWith('\n\n## ', pos)) {
    pos += text.startsWith('\n\n', pos) ? 5 : 4;
    const eol = text.indexOf('\n', pos);
    const path = text.slice(pos, eol);
    pos = eol + 1;
    const fence = /^`{3,}/.exec(text.slice(pos, pos + 200))![0];
    pos = text.indexOf('\n', pos) + 1;
    let end: number;
    if (text.startsWith(fence, pos)) end = pos;
    else {
      end = text.indexOf(`\n${fence}`, pos);
      if (end < 0) throw new Error(`${path}: unterminated fence`);
      end += 1;
    }
    before.set(path, text.slice(pos, end));
    pos = end + fence.length;
  }
  if (!text.startsWith('\n\n# Edits\n', pos)) throw new Error(`expected "# Edits" at ${pos}`);
  pos += '\n\n# Edits\n'.length;

  const files = new Map(before);
  const gone = new Set<string>();
  const line = (): string => {
    const eol = text.indexOf('\n', pos);
    const s = text.slice(pos, eol < 0 ? text.length : eol);
    pos = eol < 0 ? text.length : eol + 1;
    return s;
  };
  const expect = (s: string): void => {
    if (!text.startsWith(s, pos)) throw new Error(`expected ${JSON.stringify(s)} at ${pos}`);
    pos += s.length;
  };
  /** A `'''` block; `next(at)` says whether what follows a candidate end may follow the block. */
  const quoted = (next: (at: number) => boolean): string => {
    expect("'''\n");
    const start = pos;
    const following = (from: number): number => {
      const i = text.indexOf("\n'''", from);
      return i < 0 ? -1 : i + 1;
    };
    for (let c = text.startsWith("'''", start) ? start : following(start); c >= 0; c = following(c)) {
      const after = c + 3;
      if (after !== text.length && text[after] !== '\n') continue;
      const resume = Math.min(text.length, after + 1);
      if (next(resume)) {
        pos = resume;
        return text.slice(start, c);
      }
    }
    throw new Error(`unterminated ''' block at ${start}`);
  };
  const entryOrEnd = (at: number): boolean =>
    at >= text.length || ENTRY.test(text.slice(at, at + 10)) || messages.some((m) => m && text.startsWith(m, at));
  /** Applies search → replace; the quotes add a final newline the block may not have had. */
  const apply = (path: string, search: string, replace: string): void => {
    const cur = files.get(path);
    if (cur === undefined) throw new Error(`Edit of unknown file ${path}`);
    const variants: [string, string][] = [[search, replace]];
    if (search.endsWith('\n'))
      variants.push([search.slice(0, -1), replace.endsWith('\n') ? replace.slice(0, -1) : replace]);
    for (const [s, r] of variants) {
      try {
        files.set(path, applySearchReplace(cur, [{ search: s, replace: r }]));
        return;
      } catch (e) {
        if (!(e instanceof SearchReplaceError)) throw e;
      }
    }
    throw new Error(`${path}: search text not found once`);
  };

  while (pos < text.length) {
    // The longest message that fits: one commit's message may begin with another's.
    const m = messages
      .filter((x) => x && text.startsWith(x + '\n', pos))
      .reduce<string | undefined>((a, x) => (a === undefined || x.length > a.length ? x : a), undefined);
    if (m !== undefined && !ENTRY.test(text.slice(pos, pos + 10))) {
      pos += m.length + 1;
      continue;
    }
    const head = line();
    if (head.startsWith('Edit: ')) {
      const path = head.slice(6);
      expect('Search:\n');
      const search = quoted((at) => text.startsWith("Replace:\n'''\n", at));
      expect('Replace:\n');
      const replace = quoted(entryOrEnd);
      apply(path, search, replace);
    } else if (head.startsWith('Create: ')) {
      const path = head.slice(8);
      files.set(path, quoted(entryOrEnd));
      gone.delete(path);
    } else if (head.startsWith('Delete: ')) {
      files.delete(head.slice(8));
      gone.add(head.slice(8));
    } else if (head.startsWith('Rename: ')) {
      const [from, to] = head.slice(8).split(' -> ') as [string, string];
      const content = files.get(from);
      files.delete(from);
      gone.add(from);
      gone.delete(to);
      if (content !== undefined) files.set(to, content);
    } else {
      throw new Error(`unexpected line ${JSON.stringify(head.slice(0, 80))} at ${pos}`);
    }
  }
  return { before, after: files, gone };
}
