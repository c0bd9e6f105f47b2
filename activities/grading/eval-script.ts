/** Printed before the test command's output. */
export const START_TEST_OUTPUT = '>>>>> Start Test Output';
/** Printed after the test command's output. */
export const END_TEST_OUTPUT = '>>>>> End Test Output';
/** Prefix of the line carrying the test command's exit code, printed after {@link END_TEST_OUTPUT}. */
export const TEST_EXIT_CODE = '>>>>> Test Exit Code:';
/** Printed by the apply script when one of its strategies applied the patch. */
export const APPLY_PATCH_PASS = '>>>>> Applied Patch';
/** Printed by the apply script when every strategy failed. */
export const APPLY_PATCH_FAIL = '>>>>> Patch Apply Failed';
/** Printed by the eval script when the task's test patch did not apply (task or environment fault). */
export const TEST_PATCH_APPLY_FAIL = '>>>>> Test Patch Apply Failed';

/** Single-quotes a word for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function unquoteGitPath(p: string): string {
  if (!p.startsWith('"')) return p;
  const body = p.slice(1, p.endsWith('"') ? -1 : undefined);
  const bytes: number[] = [];
  const esc: Record<string, number> = { n: 10, t: 9, r: 13, '"': 34, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const oct = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (oct) {
      bytes.push(parseInt(oct[0], 8));
      i += 3;
    } else {
      const n = body[i + 1] ?? '';
      bytes.push(esc[n] ?? n.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function stripPrefix(p: string, prefix: 'a/' | 'b/'): string | null {
  const path = unquoteGitPath(p.replace(/\t.*$/, ''));
  if (path === '/dev/null') return null;
  return path.startsWith(prefix) ? path.slice(2) : path;
}

/** Paths named by a `diff --git a/x b/y` header (used when a section has no `---`/`+++` lines). */
function headerPaths(rest: string): string[] {
  const tokens = /^("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$/.exec(rest);
  if (rest.includes('"') && tokens)
    return [stripPrefix(tokens[1]!, 'a/'), stripPrefix(tokens[2]!, 'b/')].filter(isPath);
  // Unquoted, possibly with spaces: same path on both sides (binary or mode change), so split in the middle.
  const half = (rest.length - 1) / 2;
  if (Number.isInteger(half) && rest.startsWith('a/') && rest.slice(half + 1).startsWith('b/')) {
    if (rest.slice(2, half) === rest.slice(half + 3)) return [rest.slice(2, half)];
  }
  const at = rest.lastIndexOf(' b/');
  return at > 0 ? [stripPrefix(rest.slice(0, at), 'a/'), rest.slice(at + 3)].filter(isPath) : [];
}

function isPath(p: string | null): p is string {
  return !!p;
}

/**
 * The paths a unified diff touches, in order of appearance, each once: old and new sides of
 * `--- a/…`/`+++ b/…`, renames and copies, and — for sections without them (binary or mode-only
 * changes) — the `diff --git a/x b/x` header. New and deleted files are included.
 */
export function testFilesOf(patch: string): string[] {
  const out = new Set<string>();
  const sections = patch.split(/^(?=diff --git )/m);
  for (const section of sections) {
    const lines = section.split('\n');
    const head = lines[0] ?? '';
    if (!head.startsWith('diff --git ')) continue;
    const found: string[] = [];
    for (const line of lines.slice(1)) {
      if (line.startsWith('@@')) break;
      let m: RegExpExecArray | null;
      if ((m = /^--- (.+)$/.exec(line))) found.push(stripPrefix(m[1]!, 'a/') ?? '');
      else if ((m = /^\+\+\+ (.+)$/.exec(line))) found.push(stripPrefix(m[1]!, 'b/') ?? '');
      else if ((m = /^(?:rename|copy) (?:from|to) (.+)$/.exec(line))) found.push(unquoteGitPath(m[1]!));
    }
    const named = found.filter(Boolean);
    if (named.length) {
      named.forEach((p) => out.add(p));
      continue;
    }
    for (const p of headerPaths(head.slice('diff --git '.length))) out.add(p);
  }
  out.delete('');
  return [...out];
}

function heredoc(content: string): { open: string; body: string } {
  let tag = 'EOF_114329324912';
  while (content.split('\n').includes(tag)) tag += '_X';
  return { open: tag, body: `${content}${content.endsWith('\n') || content === '' ? '' : '\n'}${tag}` };
}

/** Inputs of {@link buildEvalScript}. */
export interface EvalScriptInput {
  /** Repository root inside the container; default `/testbed` (SWE-bench's). */
  repoDir?: string;
  /** Commit the task starts from; test files are restored from it. */
  baseCommit: string;
  /** The task's test patch (applied on top of the agent's work). */
  testPatch: string;
  /** Files to restore before and after the run; files the test patch touches are always added. Default none. */
  testFiles?: string[];
  /**
   * The full test command, run from `repoDir` in a subshell: its last status (or its own `exit`) is
   * the reported exit code, so `pytest --junitxml=r.xml; rc=$?; cat r.xml; exit $rc` keeps pytest's.
   */
  testCmd: string;
  /** Environment variables exported before anything runs. Default none. */
  envVars?: Record<string, string>;
}

/**
 * Builds SWE-bench's `eval.sh`: restore the test files at `baseCommit` (discarding agent edits to
 * them; files the test patch creates are deleted, which closes SWE-bench's "agent pre-created the
 * new test file" hole), apply the test patch with `git apply -v`, run the test command between
 * {@link START_TEST_OUTPUT} and {@link END_TEST_OUTPUT}, print {@link TEST_EXIT_CODE} and the
 * command's exit code, then restore the test files again. Exits 0 once the tests ran; if the test
 * patch does not apply it prints {@link TEST_PATCH_APPLY_FAIL} and exits 1.
 */
export function buildEvalScript(input: EvalScriptInput): string {
  const repoDir = input.repoDir ?? '/testbed';
  const files = [...new Set([...(input.testFiles ?? []), ...testFilesOf(input.testPatch)])];
  const env = Object.entries(input.envVars ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name: ${k}`);
    return `export ${k}=${shellQuote(v)}`;
  });
  const base = shellQuote(input.baseCommit);
  const doc = heredoc(input.testPatch);
  return [
    '#!/bin/bash',
    'set -uo pipefail',
    ...env,
    `cd ${shellQuote(repoDir)} || exit 1`,
    `git config --global --add safe.directory ${shellQuote(repoDir)} 2>/dev/null || true`,
    'restore_test_files() {',
    '  local f',
    '  for f in "$@"; do',
    `    if git cat-file -e ${base}:"$f" 2>/dev/null; then git checkout -q ${base} -- "$f"; else rm -rf -- "$f"; fi`,
    '  done',
    '}',
    `TEST_FILES=(${files.map(shellQuote).join(' ')})`,
    'restore_test_files ${TEST_FILES[@]+"${TEST_FILES[@]}"}',
    ...(input.testPatch.trim() === ''
      ? []
      : [
          `if ! git apply -v - <<'${doc.open}'`,
          doc.body,
          'then',
          `  echo ${shellQuote(TEST_PATCH_APPLY_FAIL)}`,
          '  restore_test_files ${TEST_FILES[@]+"${TEST_FILES[@]}"}',
          '  exit 1',
          'fi',
        ]),
    `echo ${shellQuote(START_TEST_OUTPUT)}`,
    `( ${input.testCmd}`,
    ')',
    'rc=$?',
    `echo ${shellQuote(END_TEST_OUTPUT)}`,
    `echo "${TEST_EXIT_CODE} $rc"`,
    'restore_test_files ${TEST_FILES[@]+"${TEST_FILES[@]}"}',
    'exit 0',
    '',
  ].join('\n');
}

/**
 * Builds the script that applies a patch file with SWE-bench's fall-through: `git apply --verbose`,
 * then `git apply --verbose --reject`, then `patch --batch --forward --fuzz=5 -p1 -i` (5.0 adds
 * `--forward`, so `--batch` never silently reverses an already-applied hunk). Prints
 * {@link APPLY_PATCH_PASS} and exits 0, or {@link APPLY_PATCH_FAIL} and exits 1.
 */
export function buildApplyPatchScript(patchPath: string, repoDir = '/testbed'): string {
  const p = shellQuote(patchPath);
  return [
    '#!/bin/bash',
    'set -uo pipefail',
    `cd ${shellQuote(repoDir)} || exit 1`,
    `git config --global --add safe.directory ${shellQuote(repoDir)} 2>/dev/null || true`,
    `if git apply --verbose ${p} || git apply --verbose --reject ${p} || patch --batch --forward --fuzz=5 -p1 -i ${p}; then`,
    `  echo ${shellQuote(APPLY_PATCH_PASS)}`,
    '  exit 0',
    'fi',
    `echo ${shellQuote(APPLY_PATCH_FAIL)}`,
    'exit 1',
    '',
  ].join('\n');
}
