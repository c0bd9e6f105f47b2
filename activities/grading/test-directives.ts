/**
 * Which tests a run executes: SWE-bench's test directives (the files a task's `test_patch` touches,
 * as swebench's `get_test_directives` computes them; 4.1.0 `harness/test_spec/python.py`, the last
 * release that ships it — swebench 5.x reads the same commands from the dataset's `eval_script`),
 * appended to the test command. One computation for build validation, rollout grading and
 * evaluation (through {@link scopedTestCommand}).
 */
import type { InstallConfig, TestScope } from '../../contracts/task';

/** The recipe fields that decide the directives (a missing parser: no runner-specific filter). */
export type DirectiveConfig = Pick<InstallConfig, 'test_cmd'> & Partial<Pick<InstallConfig, 'log_parser'>>;
import { shellQuote, testFilesOf } from './eval-script';

/** swebench's `NON_TEST_EXTS` (5.0.2 `harness/constants/__init__.py`; `csv` without its dot, as there). */
export const NON_TEST_EXTS: readonly string[] = [
  '.json',
  '.png',
  'csv',
  '.txt',
  '.md',
  '.jpg',
  '.jpeg',
  '.pkl',
  '.yml',
  '.yaml',
  '.toml',
];

/**
 * swebench's `get_test_directives`, exactly: every `diff --git a/… b/<path>` of the test patch (the
 * regex `diff --git a/.* b/(.*)`, greedy, anywhere in a line), without paths ending in a
 * {@link NON_TEST_EXTS} entry; for `django/django`, module labels: `.py` and a leading `tests/`
 * removed, `/` → `.` (`tests/auth_tests/test_validators.py` → `auth_tests.test_validators`).
 */
export function swebenchTestDirectives(repo: string, testPatch: string): string[] {
  const found = [...testPatch.matchAll(/diff --git a\/[^\n]* b\/([^\n]*)/g)].map((m) => m[1] ?? '');
  const directives = found.filter((d) => !NON_TEST_EXTS.some((ext) => d.endsWith(ext)));
  return repo === 'django/django' ? directives.map(djangoLabel) : directives;
}

/** Django's runtests.py label of a test file (swebench's transform). */
function djangoLabel(path: string): string {
  let s = path.endsWith('.py') ? path.slice(0, -3) : path;
  if (s.startsWith('tests/')) s = s.slice('tests/'.length);
  return s.replace(/\//g, '.');
}

/** A directive left out, and why. */
export interface DroppedDirective {
  directive: string;
  why: string;
}

/** What {@link testDirectives} returns. */
export interface TestDirectives {
  /** Appended to the test command, in order. Empty: the command runs as is (swebench's behaviour too). */
  directives: string[];
  /** swebench's directives bottega leaves out: each would make the runner refuse the whole run. */
  dropped: DroppedDirective[];
}

/** The parts of a task and its recipe that decide the directives. */
export interface DirectiveTask {
  /** `owner/name`; `django/django` gets Django module labels (as in swebench). */
  repo?: string;
  test_patch: string;
}

const RUNTESTS = /(^|[\s/])runtests\.py\b/;
const MANAGE_TEST = /(^|[\s/])manage\.py\s+test\b/;
const PYTEST_LIKE = new Set(['pytest', 'pytest_options', 'pytest_v2', 'matplotlib', 'seaborn']);

/**
 * The test directives of `task` under `cfg`: {@link swebenchTestDirectives} (for `django/django`,
 * exactly that), plus what swebench's repositories never needed but bottega's mined tasks do:
 * - Django's own runner (`runtests.py`) outside `django/django` gets the same module labels, and
 *   `manage.py test` gets dotted module names of its `.py` files;
 * - for every other runner, files the test patch deletes are left out (pytest exits with "file or
 *   directory not found" before running anything), pytest-family runners get only files pytest
 *   collects when named (`.py`, `.rst` doctests; others: "not found"), `python -m unittest` only
 *   `.py` files.
 * A directive dropped here would make swebench's own run fail as a whole, so on records whose
 * official lists hold nothing is ever dropped. Duplicates are kept, as swebench keeps them.
 */
export function testDirectives(task: DirectiveTask, cfg: DirectiveConfig): TestDirectives {
  const repo = task.repo ?? '';
  const cmd = lastLine(cfg.test_cmd);
  const raw = swebenchTestDirectives(repo, task.test_patch);
  const deleted = deletedFiles(task.test_patch);
  const dropped: DroppedDirective[] = [];
  const directives: string[] = [];
  // Django's runner reports an unimportable label as one failed test and runs the rest: kept as is.
  if (repo === 'django/django') return { directives: raw, dropped };
  if (RUNTESTS.test(cmd)) return { directives: raw.map(djangoLabel), dropped };
  for (const d of raw) {
    const path = d;
    if (deleted.has(path)) {
      dropped.push({ directive: d, why: 'the test patch deletes it' });
      continue;
    }
    if (MANAGE_TEST.test(cmd)) {
      if (path.endsWith('.py')) directives.push(path.slice(0, -3).replace(/\//g, '.'));
      else dropped.push({ directive: d, why: 'manage.py test takes Python modules' });
    } else if (PYTEST_LIKE.has(cfg.log_parser ?? '') && !/\.(py|rst)$/.test(path)) {
      dropped.push({ directive: d, why: 'pytest collects no such file when it is named' });
    } else if (cfg.log_parser === 'unittest' && !path.endsWith('.py')) {
      dropped.push({ directive: d, why: 'python -m unittest takes Python files' });
    } else directives.push(d);
  }
  return { directives, dropped };
}

/**
 * The test command a run executes: with scope `files`, `cfg.test_cmd` with the task's
 * {@link testDirectives} appended to its last line (shell-quoted where needed); with `suite`, or
 * when there are no directives, `cfg.test_cmd` as is.
 */
export function scopedTestCommand(task: DirectiveTask, cfg: DirectiveConfig, scope: TestScope): string {
  if (scope === 'suite') return cfg.test_cmd;
  const { directives } = testDirectives(task, cfg);
  if (directives.length === 0) return cfg.test_cmd;
  const words = directives.map((d) => (/^[\w./:@+,=-]+$/.test(d) ? d : shellQuote(d)));
  return `${cfg.test_cmd.trimEnd()} ${words.join(' ')}`;
}

/** The scope of a validated task record: its `test_scope`, or `suite` for one built before scopes (its command as recorded). */
export function recordedTestScope(task: { test_scope?: unknown }): TestScope {
  return task.test_scope === 'files' ? 'files' : 'suite';
}

function lastLine(cmd: string): string {
  return cmd.trimEnd().split('\n').pop() ?? '';
}

/** Files a patch deletes (`+++ /dev/null`). */
function deletedFiles(patch: string): Set<string> {
  const out = new Set<string>();
  for (const section of patch.split(/^(?=diff --git )/m)) {
    if (!/^\+\+\+ \/dev\/null$/m.test(section) && !/^deleted file mode /m.test(section)) continue;
    for (const f of testFilesOf(section)) out.add(f);
  }
  return out;
}
