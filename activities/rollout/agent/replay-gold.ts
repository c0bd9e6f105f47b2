/**
 * A deterministic policy that solves a task from its gold patch through the same tools a model
 * uses: (1) `str_replace_editor view` of each file the patch touches, (2) `bash` running the test
 * command with the FAIL_TO_PASS ids, (3) the patch as `str_replace_editor` edits (each hunk's
 * context+removed lines -> context+added lines; `create` for new files; `bash rm` / `mv` for
 * deleted / renamed ones), (4) the tests again, (5) `submit`.
 *
 * It is stateless over the conversation: the next action is the plan entry at the number of
 * assistant turns so far, so a resumed rollout continues where it stopped.
 */
import type { ToolCall } from '../../llm/openai-client';
import type { AgentMessage, Policy } from './policy';

export interface GoldTask {
  patch: string;
  test_patch?: string;
  FAIL_TO_PASS: string[];
  test_cmd: string;
}

export interface ReplayGoldOptions {
  task: GoldTask;
  /** Repository root in the environment (default /testbed). */
  repoDir?: string;
}

/** One planned tool call. */
export interface PlannedCall {
  name: string;
  arguments: Record<string, unknown>;
}

export function replayGoldPolicy(o: ReplayGoldOptions): Policy {
  const repoDir = o.repoDir ?? '/testbed';
  return {
    name: 'replay-gold',
    model: 'gold-patch',
    next(messages) {
      const turn = messages.filter((m) => m.role === 'assistant').length;
      const plan = planGoldCalls(o.task, repoDir, viewedFiles(messages));
      const call = plan[Math.min(turn, plan.length - 1)]!;
      const tc: ToolCall = {
        id: `call_gold_${turn + 1}`,
        type: 'function',
        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
      };
      return Promise.resolve({
        message: { role: 'assistant', content: describe(call), tool_calls: [tc] },
        usage: { prompt_tokens: 0, completion_tokens: 0 },
        costUsd: 0,
      });
    },
  };
}

/**
 * File contents recovered from complete `str_replace_editor view` observations in the conversation
 * (`cat -n` listings numbered 1..n without gaps), keyed by path.
 */
export function viewedFiles(messages: readonly AgentMessage[]): Map<string, string> {
  const out = new Map<string, string>();
  const results = new Map<string, string>();
  for (const m of messages) if (m.role === 'tool' && m.tool_call_id) results.set(m.tool_call_id, m.content ?? '');
  for (const m of messages)
    for (const tc of m.role === 'assistant' ? (m.tool_calls ?? []) : []) {
      if (tc.function.name !== 'str_replace_editor') continue;
      let args: { command?: unknown; path?: unknown; view_range?: unknown };
      try {
        args = JSON.parse(tc.function.arguments) as typeof args;
      } catch {
        continue;
      }
      const obs = results.get(tc.id);
      if (args.command !== 'view' || typeof args.path !== 'string' || args.view_range || obs === undefined) continue;
      const text = parseCatN(obs);
      if (text !== null && !out.has(args.path)) out.set(args.path, text);
    }
  return out;
}

/** The file behind a `cat -n` listing (optionally after one header line), or null if it is not one. */
function parseCatN(obs: string): string | null {
  let lines = obs.split('\n');
  if (lines[0] !== undefined && !/^\s*1\t/.test(lines[0])) lines = lines.slice(1);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  for (const [i, l] of lines.entries()) {
    const m = /^\s*(\d+)\t/.exec(l);
    if (!m || Number(m[1]) !== i + 1) return null;
    out.push(l.slice(m[0].length));
  }
  return out.length > 0 ? out.join('\n') : null;
}

/**
 * The full tool-call plan for a task (ends with `submit`). With the base contents of modified
 * files (`baseFiles`, keyed by absolute path), each hunk's old_str is widened with surrounding
 * lines until it occurs exactly once in the file as it is at that point.
 */
export function planGoldCalls(
  task: GoldTask,
  repoDir: string,
  baseFiles: ReadonlyMap<string, string> = new Map()
): PlannedCall[] {
  const files = parseUnifiedDiff(task.patch);
  // Like an agent writing a reproduction first, the tests of `test_patch` go in before the fix,
  // so the test run before the fix fails for real and the one after passes.
  const testFiles = task.test_patch ? parseUnifiedDiff(task.test_patch) : [];
  const abs = (p: string): string => `${repoDir.replace(/\/+$/, '')}/${p}`;
  const plan: PlannedCall[] = [];
  for (const f of [...files, ...testFiles])
    if (!f.isNew) plan.push({ name: 'str_replace_editor', arguments: { command: 'view', path: abs(f.oldPath) } });
  const testCmd = `cd ${shellQuote(repoDir)} && ${task.test_cmd}${task.FAIL_TO_PASS.map((t) => ` ${shellQuote(testSelector(t))}`).join('')}`;
  plan.push(...editCalls(testFiles, abs, baseFiles));
  plan.push({ name: 'bash', arguments: { command: testCmd } });
  plan.push(...editCalls(files, abs, baseFiles));
  plan.push({ name: 'bash', arguments: { command: testCmd } });
  plan.push({ name: 'submit', arguments: {} });
  return plan;
}

/** The tool calls that turn the files of a diff from their base state into the patched one. */
function editCalls(
  files: DiffFile[],
  abs: (p: string) => string,
  baseFiles: ReadonlyMap<string, string>
): PlannedCall[] {
  const plan: PlannedCall[] = [];
  for (const f of files) {
    if (f.isDeleted) {
      plan.push({ name: 'bash', arguments: { command: `rm ${shellQuote(abs(f.oldPath))}` } });
      continue;
    }
    if (f.isNew) {
      plan.push({
        name: 'str_replace_editor',
        arguments: { command: 'create', path: abs(f.newPath), file_text: newFileText(f) },
      });
      continue;
    }
    if (f.oldPath !== f.newPath)
      plan.push({
        name: 'bash',
        arguments: { command: `mv ${shellQuote(abs(f.oldPath))} ${shellQuote(abs(f.newPath))}` },
      });
    let current = baseFiles.get(abs(f.oldPath));
    for (const h of f.hunks) {
      const widened = current === undefined ? null : widenUntilUnique(current, h);
      if (widened) current = widened.next;
      else current = undefined;
      const { oldStr, newStr } = widened ?? hunkReplacement(h);
      if (oldStr === '') {
        // An empty file gaining content: no anchor to replace, so insert at the top.
        plan.push({
          name: 'str_replace_editor',
          arguments: { command: 'insert', path: abs(f.newPath), insert_line: 0, new_str: newStr },
        });
      } else {
        plan.push({
          name: 'str_replace_editor',
          arguments: { command: 'str_replace', path: abs(f.newPath), old_str: oldStr, new_str: newStr },
        });
      }
    }
  }
  return plan;
}

/**
 * The hunk's replacement widened with lines of `content` (the file before this hunk, earlier hunks
 * applied, so the hunk starts at its new-file line) until old_str is unique; null when the hunk does
 * not sit where its header says or no widening makes it unique.
 */
function widenUntilUnique(content: string, h: DiffHunk): { oldStr: string; newStr: string; next: string } | null {
  const { oldStr, newStr } = hunkReplacement(h);
  if (oldStr === '') return null;
  const lines = content.split('\n');
  const start = h.newStart - 1;
  if (start < 0 || start > lines.length) return null;
  const offset = lines.slice(0, start).reduce((n, l) => n + l.length + 1, 0);
  if (!content.startsWith(oldStr, offset)) return null;
  const end = start + h.lines.filter((l) => l.kind !== '+').length;
  const canGrowDown = !oldStr.endsWith('\n');
  for (let pre = 0, post = 0; ;) {
    const preText = lines
      .slice(start - pre, start)
      .map((l) => `${l}\n`)
      .join('');
    const postText = lines
      .slice(end, end + post)
      .map((l) => `\n${l}`)
      .join('');
    const old = preText + oldStr + postText;
    const first = content.indexOf(old);
    if (first !== -1 && content.indexOf(old, first + 1) === -1) {
      const at = offset - preText.length;
      return {
        oldStr: old,
        newStr: preText + newStr + postText,
        next: content.slice(0, at) + preText + newStr + postText + content.slice(at + old.length),
      };
    }
    const up = pre < start;
    const down = canGrowDown && end + post < lines.length;
    if (!up && !down) return null;
    if (up && (pre <= post || !down)) pre++;
    else post++;
  }
}

function describe(c: PlannedCall): string {
  const a = c.arguments;
  if (c.name === 'submit') return 'The fix is in place; submitting.';
  if (c.name === 'bash') return `Running: ${String(a.command)}`;
  return `${String(a.command)} ${String(a.path)}`;
}

/** A pytest node id is used as-is; a unittest label `name (module.Class.name)` becomes its dotted path. */
function testSelector(id: string): string {
  return /^\S+ \(([\w.]+)\)$/.exec(id)?.[1] ?? id;
}

function shellQuote(s: string): string {
  return /^[\w./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface DiffLine {
  kind: ' ' | '-' | '+';
  text: string;
  /** Followed by `\ No newline at end of file`. */
  noNewline: boolean;
}

export interface DiffHunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: DiffLine[];
}

export interface DiffFile {
  oldPath: string;
  newPath: string;
  isNew: boolean;
  isDeleted: boolean;
  isBinary: boolean;
  hunks: DiffHunk[];
}

/** Parses a git unified diff (as SWE-bench stores patches). */
export function parseUnifiedDiff(patch: string): DiffFile[] {
  const files: DiffFile[] = [];
  const lines = patch.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let file: DiffFile | undefined;
  let hunk: DiffHunk | undefined;
  let oldLeft = 0;
  let newLeft = 0;
  const stripPrefix = (p: string): string => p.replace(/^"|"$/g, '').replace(/^[ab]\//, '');
  for (const line of lines) {
    if (hunk && (oldLeft > 0 || newLeft > 0)) {
      const kind = line[0];
      if (kind === ' ' || kind === '-' || kind === '+' || line === '') {
        const k = line === '' ? ' ' : (kind as ' ' | '-' | '+');
        hunk.lines.push({ kind: k, text: line.slice(1), noNewline: false });
        if (k !== '+') oldLeft--;
        if (k !== '-') newLeft--;
        continue;
      }
    }
    if (line.startsWith('\\')) {
      const lastLine = hunk?.lines[hunk.lines.length - 1];
      if (lastLine) lastLine.noNewline = true;
      continue;
    }
    const git = /^diff --git (\S+) (\S+)$/.exec(line);
    if (git) {
      file = {
        oldPath: stripPrefix(git[1]!),
        newPath: stripPrefix(git[2]!),
        isNew: false,
        isDeleted: false,
        isBinary: false,
        hunks: [],
      };
      files.push(file);
      hunk = undefined;
      continue;
    }
    if (!file) continue;
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (h) {
      hunk = {
        oldStart: Number(h[1]),
        oldLines: h[2] === undefined ? 1 : Number(h[2]),
        newStart: Number(h[3]),
        newLines: h[4] === undefined ? 1 : Number(h[4]),
        lines: [],
      };
      oldLeft = hunk.oldLines;
      newLeft = hunk.newLines;
      file.hunks.push(hunk);
      continue;
    }
    if (line.startsWith('new file mode')) file.isNew = true;
    else if (line.startsWith('deleted file mode')) file.isDeleted = true;
    else if (line.startsWith('rename from ')) file.oldPath = line.slice('rename from '.length);
    else if (line.startsWith('rename to ')) file.newPath = line.slice('rename to '.length);
    else if (line.startsWith('Binary files') || line.startsWith('GIT binary patch')) file.isBinary = true;
    else if (line === '--- /dev/null') file.isNew = true;
    else if (line === '+++ /dev/null') file.isDeleted = true;
  }
  return files;
}

/** old_str / new_str of a hunk: context+removed lines and context+added lines. */
export function hunkReplacement(h: DiffHunk): { oldStr: string; newStr: string } {
  const side = (keep: '-' | '+'): string => {
    const ls = h.lines.filter((l) => l.kind === ' ' || l.kind === keep);
    return ls.map((l) => l.text).join('\n');
  };
  let oldStr = side('-');
  let newStr = side('+');
  const lastOld = [...h.lines].reverse().find((l) => l.kind !== '+');
  const lastNew = [...h.lines].reverse().find((l) => l.kind !== '-');
  // At the end of a file, a newline that exists on one side only must be part of the replacement.
  if (lastOld && lastNew) {
    if (lastOld.noNewline && !lastNew.noNewline) newStr += '\n';
    if (lastNew.noNewline && !lastOld.noNewline) oldStr += '\n';
  } else if (!lastOld && lastNew && !lastNew.noNewline) newStr += '\n';
  return { oldStr, newStr };
}

function newFileText(f: DiffFile): string {
  const ls = f.hunks.flatMap((h) => h.lines.filter((l) => l.kind !== '-'));
  if (ls.length === 0) return '';
  return ls.map((l) => l.text).join('\n') + (ls[ls.length - 1]!.noNewline ? '' : '\n');
}
