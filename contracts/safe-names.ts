/**
 * Names from input that become file names or artifact-store keys: the one place that decides
 * which are safe. Instance ids, model names, run ids and repository names from task records,
 * predictions, specs and flags become path parts (`logs/run_evaluation/<run_id>/<model>/<instance_id>/`,
 * `<prefix>/logs/<instance_id>.<reason>.log`); a name that is `..`, holds a `/` or a backslash,
 * a NUL or another control character could climb out of the directory meant for it. Such names
 * are refused, never rewritten, so a valid name keeps the exact path it always had
 * (`owner__repo-123`, `org/model-7b` → `org__model-7b` as SWE-bench's harness spells it).
 *
 * Pure (no I/O, no Node builtins): contracts and workflows may use it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';

/** ApplicationFailure type of a refused name or store key (never retried: the input must change). */
export const UNSAFE_NAME = 'UnsafeName';

/**
 * Longest name, in UTF-8 bytes: one file name is at most 255 bytes, and names get suffixes
 * (`<instance_id>.setup-agent.json`, `<model>.<run_id>.json`).
 */
export const NAME_MAX_BYTES = 200;

/** Longest store key segment (a file name) and whole key (S3's limit), in UTF-8 bytes. */
export const KEY_SEGMENT_MAX_BYTES = 255;
export const KEY_MAX_BYTES = 1024;

/** The local store writes `<key>.tmp-<random>` and renames it; listings skip such names. */
const TMP_MARK = '.tmp-';

function utf8Bytes(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** What is wrong with `s` as one path segment of at most `maxBytes`, or null when nothing is. */
function segmentProblem(s: string, maxBytes: number): string | null {
  if (s === '') return 'is empty';
  if (s === '.' || s === '..') return 'names a directory itself or its parent, not a file';
  if (s.includes('/')) return 'contains "/" (a path separator)';
  if (s.includes('\\')) return 'contains a backslash (a path separator on Windows)';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s)) return 'contains a control character (NUL, newline, tab, …)';
  if (s.includes(TMP_MARK)) return `contains "${TMP_MARK}" (reserved for the store's unfinished writes)`;
  if (utf8Bytes(s) > maxBytes) return `is longer than ${maxBytes} bytes`;
  return null;
}

/** A value for a message: quoted, and cut when long. */
function quote(s: string): string {
  const q = JSON.stringify(s);
  return q.length > 80 ? `${q.slice(0, 77)}…"` : q;
}

const HINT = 'use one file name: letters, digits, "_", "-", "." (e.g. owner__repo-123)';

/**
 * Why `name` cannot become one file or directory name, as a sentence that names it and says how
 * to fix it; null when it can. Refused: empty, `.`, `..`, a `/`, a backslash, a control
 * character, `.tmp-`, more than {@link NAME_MAX_BYTES} bytes.
 */
export function nameProblem(name: string): string | null {
  const p = segmentProblem(name, NAME_MAX_BYTES);
  return p ? `${quote(name)} ${p}; ${HINT}` : null;
}

/** A name that is refused, as a non-retryable `UnsafeName` failure naming `field`. */
export function unsafeName(field: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: UNSAFE_NAME, nonRetryable: true, message: `${field}: ${message}` });
}

/**
 * Returns `name` when it is safe as one path part ({@link nameProblem}); throws an `UnsafeName`
 * ApplicationFailure naming `field` (e.g. `instance_id`, `tasks.jsonl:3: instance_id`) otherwise.
 */
export function checkName(field: string, name: string): string {
  const p = nameProblem(name);
  if (p) throw unsafeName(field, p);
  return name;
}

/**
 * SWE-bench's directory name of a model: `model_name_or_path` with every `/` replaced by `__`,
 * `None` for none (swebench's harness). Not checked: see {@link modelNameProblem}.
 */
export function modelSlug(model: string | null): string {
  return (model ?? 'None').replace(/\//g, '__') || 'None';
}

/**
 * Why `model` cannot name a directory once slugged ({@link modelSlug}; `org/model-7b` and
 * `/ckpt/step-100` are fine), or null when it can. `..` and `.` are refused, as are backslashes,
 * control characters and names too long.
 */
export function modelNameProblem(model: string | null): string | null {
  const slug = modelSlug(model);
  const p = segmentProblem(slug, NAME_MAX_BYTES);
  if (!p) return null;
  const shown = slug === model ? quote(slug) : `${quote(model ?? 'None')} (directory ${quote(slug)})`;
  return `${shown} ${p}; use a model name like org/model-7b`;
}

/**
 * A repository's one-segment name in store keys and workflow ids: `owner/name` → `owner__name`
 * (the first `/` only; a valid {@link RepoName} has exactly one).
 */
export function repoSlug(repo: string): string {
  return repo.replace('/', '__');
}

/**
 * A name that becomes one path segment (an `instance_id`): non-empty and safe by {@link nameProblem}.
 * Refinements do not show in the JSON Schema.
 */
export const SafeName = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const p = nameProblem(value);
    if (p) ctx.addIssue({ code: 'custom', message: p, input: value });
  });
export type SafeName = z.infer<typeof SafeName>;

/** `model_name_or_path` of a prediction: null, or a name whose {@link modelSlug} is safe. */
export const ModelNameOrPath = z
  .string()
  .nullable()
  .superRefine((value, ctx) => {
    const p = modelNameProblem(value);
    if (p) ctx.addIssue({ code: 'custom', message: p, input: value });
  });
export type ModelNameOrPath = z.infer<typeof ModelNameOrPath>;

/**
 * Why `key` cannot be an artifact-store key (a path relative to the store's root), or null when it
 * can. Refused: empty, absolute (leading `/`), an empty, `.` or `..` segment, a backslash, a
 * control character, `.tmp-` (the local store's unfinished writes), a segment over 255 bytes or a
 * key over 1,024 bytes. With `listing`, `''` (everything) and a trailing `/` are allowed.
 */
export function storeKeyProblem(key: string, opts: { listing?: boolean } = {}): string | null {
  if (opts.listing && key === '') return null;
  if (key === '') return 'is empty';
  if (key.startsWith('/')) return 'is absolute (starts with "/"); keys are relative to the store root';
  if (utf8Bytes(key) > KEY_MAX_BYTES) return `is longer than ${KEY_MAX_BYTES} bytes`;
  const segments = key.split('/');
  if (opts.listing && segments.at(-1) === '') segments.pop();
  for (const s of segments) {
    const p = s === '' ? 'is empty (a "//" or a trailing "/")' : segmentProblem(s, KEY_SEGMENT_MAX_BYTES);
    if (p) return `has a segment ${quote(s)} that ${p}`;
  }
  return null;
}

/**
 * Returns `key` when {@link storeKeyProblem} finds nothing; throws a non-retryable `UnsafeName`
 * ApplicationFailure naming the key otherwise (the store's entry points call it on every key).
 */
export function checkStoreKey(key: string, opts: { listing?: boolean } = {}): string {
  const p = storeKeyProblem(key, opts);
  if (p) {
    throw unsafeName(
      'artifact store key',
      `${quote(key)} ${p}; a key must stay under the store's root (relative, "/"-separated, no "." or ".." segments)`
    );
  }
  return key;
}
