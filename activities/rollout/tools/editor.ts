/**
 * SWE-agent's `str_replace_editor` (view / create / str_replace / insert / undo_edit) over an
 * abstract file system, so the same semantics hold whatever sandbox stores the files. Messages
 * follow SWE-agent's wording. Unlike SWE-agent, tabs are not expanded: files round-trip byte for byte.
 */

/** What the editor needs from the sandbox. */
export interface EditorFs {
  /** 'file', 'dir' or 'missing'. */
  kind(path: string): Promise<'file' | 'dir' | 'missing'>;
  read(path: string): Promise<string>;
  /** Writes (creating parent directories). */
  write(path: string, content: string): Promise<void>;
  /** Non-hidden entries up to 2 levels deep, one path a line. */
  listDir(path: string): Promise<string>;
}

export interface EditorResult {
  output: string;
  ok: boolean;
}

/** Lines shown around an edit. */
const SNIPPET_LINES = 4;

class EditorError extends Error {}

/** Per-file edit history for `undo_edit` (in memory, for the runtime's lifetime). */
export class StrReplaceEditor {
  private readonly history = new Map<string, string[]>();

  constructor(private readonly fs: EditorFs) {}

  async run(args: Record<string, unknown>): Promise<EditorResult> {
    try {
      return { output: await this.dispatch(args), ok: true };
    } catch (err) {
      if (err instanceof EditorError) return { output: err.message, ok: false };
      throw err;
    }
  }

  private async dispatch(args: Record<string, unknown>): Promise<string> {
    const command = args.command;
    const path = args.path;
    if (typeof command !== 'string') throw new EditorError('Parameter `command` is required.');
    if (typeof path !== 'string' || path === '') throw new EditorError('Parameter `path` is required.');
    const allowed = ['view', 'create', 'str_replace', 'insert', 'undo_edit'];
    if (!allowed.includes(command)) {
      throw new EditorError(
        `Unrecognized command ${command}. The allowed commands for the str_replace_editor tool are: ${allowed.join(', ')}`
      );
    }
    const kind = await this.validatePath(command, path);
    switch (command) {
      case 'view':
        return this.view(path, kind, args.view_range);
      case 'create': {
        if (typeof args.file_text !== 'string')
          throw new EditorError('Parameter `file_text` is required for command: create');
        await this.fs.write(path, args.file_text);
        this.push(path, null);
        return `File created successfully at: ${path}`;
      }
      case 'str_replace': {
        if (typeof args.old_str !== 'string')
          throw new EditorError('Parameter `old_str` is required for command: str_replace');
        const newStr = args.new_str === undefined || args.new_str === null ? '' : String(args.new_str);
        return this.strReplace(path, args.old_str, newStr);
      }
      case 'insert': {
        const line = toInt(args.insert_line);
        if (line === null) throw new EditorError('Parameter `insert_line` is required for command: insert');
        if (typeof args.new_str !== 'string')
          throw new EditorError('Parameter `new_str` is required for command: insert');
        return this.insert(path, line, args.new_str);
      }
      default:
        return this.undo(path);
    }
  }

  private async validatePath(command: string, path: string): Promise<'file' | 'dir' | 'missing'> {
    if (!path.startsWith('/')) {
      throw new EditorError(
        `The path ${path} is not an absolute path, it should start with \`/\`. Maybe you meant /testbed/${path.replace(/^\.\//, '')}?`
      );
    }
    const kind = await this.fs.kind(path);
    if (kind === 'missing' && command !== 'create') {
      throw new EditorError(`The path ${path} does not exist. Please provide a valid path.`);
    }
    if (kind !== 'missing' && command === 'create') {
      throw new EditorError(`File already exists at: ${path}. Cannot overwrite files using command \`create\`.`);
    }
    if (kind === 'dir' && command !== 'view') {
      throw new EditorError(`The path ${path} is a directory and only the \`view\` command can be used on directories`);
    }
    return kind;
  }

  private async view(path: string, kind: 'file' | 'dir' | 'missing', viewRange: unknown): Promise<string> {
    if (kind === 'dir') {
      if (viewRange !== undefined && viewRange !== null) {
        throw new EditorError('The `view_range` parameter is not allowed when `path` points to a directory.');
      }
      const listing = await this.fs.listDir(path);
      return `Here's the files and directories up to 2 levels deep in ${path}, excluding hidden items:\n${listing}`;
    }
    const content = await this.fs.read(path);
    if (viewRange === undefined || viewRange === null) return catN(content, path, 1);
    const range = Array.isArray(viewRange) ? viewRange.map(toInt) : [];
    const [start, end] = range;
    if (range.length !== 2 || start == null || end == null) {
      throw new EditorError('Invalid `view_range`. It should be a list of two integers.');
    }
    const lines = content.split('\n');
    const n = lines.length;
    if (start < 1 || start > n) {
      throw new EditorError(
        `Invalid \`view_range\`: [${start}, ${end}]. Its first element \`${start}\` should be within the range of lines of the file: [1, ${n}]`
      );
    }
    if (end !== -1 && end > n) {
      throw new EditorError(
        `Invalid \`view_range\`: [${start}, ${end}]. Its second element \`${end}\` should be smaller than the number of lines in the file: \`${n}\``
      );
    }
    if (end !== -1 && end < start) {
      throw new EditorError(
        `Invalid \`view_range\`: [${start}, ${end}]. Its second element \`${end}\` should be larger or equal than its first \`${start}\``
      );
    }
    const shown = (end === -1 ? lines.slice(start - 1) : lines.slice(start - 1, end)).join('\n');
    return catN(shown, path, start);
  }

  private async strReplace(path: string, oldStr: string, newStr: string): Promise<string> {
    const content = await this.fs.read(path);
    const count = content.split(oldStr).length - 1;
    if (oldStr === '' || count === 0) {
      throw new EditorError(`No replacement was performed, old_str \`${oldStr}\` did not appear verbatim in ${path}.`);
    }
    if (count > 1) {
      const lines = content
        .split('\n')
        .map((l, i) => (l.includes(oldStr) ? i + 1 : 0))
        .filter((i) => i > 0);
      // An old_str spanning lines: report where each occurrence starts.
      const starts: number[] = [];
      for (let at = content.indexOf(oldStr); at !== -1; at = content.indexOf(oldStr, at + 1)) {
        starts.push(content.slice(0, at).split('\n').length);
      }
      const where = oldStr.includes('\n') ? starts : lines;
      throw new EditorError(
        `No replacement was performed. Multiple occurrences of old_str \`${oldStr}\` in lines ${JSON.stringify(where)}. Please ensure it is unique`
      );
    }
    const at = content.indexOf(oldStr);
    const updated = content.slice(0, at) + newStr + content.slice(at + oldStr.length);
    await this.fs.write(path, updated);
    this.push(path, content);
    const replacementLine = content.slice(0, at).split('\n').length - 1;
    const startLine = Math.max(0, replacementLine - SNIPPET_LINES);
    const endLine = replacementLine + SNIPPET_LINES + newStr.split('\n').length - 1;
    const snippet = updated
      .split('\n')
      .slice(startLine, endLine + 1)
      .join('\n');
    return (
      `The file ${path} has been edited. ` +
      catN(snippet, `a snippet of ${path}`, startLine + 1) +
      'Review the changes and make sure they are as expected. Edit the file again if necessary.'
    );
  }

  private async insert(path: string, line: number, newStr: string): Promise<string> {
    const content = await this.fs.read(path);
    const lines = content.split('\n');
    const n = lines.length;
    if (line < 0 || line > n) {
      throw new EditorError(
        `Invalid \`insert_line\` parameter: ${line}. It should be within the range of lines of the file: [0, ${n}]`
      );
    }
    const inserted = newStr.split('\n');
    const updatedLines = [...lines.slice(0, line), ...inserted, ...lines.slice(line)];
    const snippetLines = [
      ...lines.slice(Math.max(0, line - SNIPPET_LINES), line),
      ...inserted,
      ...lines.slice(line, line + SNIPPET_LINES),
    ];
    await this.fs.write(path, updatedLines.join('\n'));
    this.push(path, content);
    return (
      `The file ${path} has been edited. ` +
      catN(snippetLines.join('\n'), 'a snippet of the edited file', Math.max(1, line - SNIPPET_LINES + 1)) +
      'Review the changes and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the file again if necessary.'
    );
  }

  private async undo(path: string): Promise<string> {
    const stack = this.history.get(path);
    if (!stack || stack.length === 0) throw new EditorError(`No edit history found for ${path}.`);
    const previous = stack.pop()!;
    await this.fs.write(path, previous);
    return `Last edit to ${path} undone successfully. ${catN(previous, path, 1)}`;
  }

  /** Records the content before an edit (`null` for a created file: undo empties it, as SWE-agent does). */
  private push(path: string, before: string | null): void {
    const stack = this.history.get(path) ?? [];
    stack.push(before ?? '');
    this.history.set(path, stack);
  }
}

/** `cat -n`-style listing, SWE-agent's framing. */
function catN(content: string, what: string, firstLine: number): string {
  const numbered = content
    .split('\n')
    .map((l, i) => `${String(i + firstLine).padStart(6)}\t${l}`)
    .join('\n');
  return `Here's the result of running \`cat -n\` on ${what}:\n${numbered}\n`;
}

function toInt(v: unknown): number | null {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
}
