import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EvalCacheEntry, type EvalTask, type GradedInstance } from '../../contracts/evaluate';
import { recordedTestScope, scopedTestCommand } from '../grading/test-directives';

/** Bump when grade-one.ts or reports.ts change what a cached result means. */
export const EVAL_CACHE_VERSION = 1;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let codeVersion: string | undefined;

/**
 * The grading code's version: {@link EVAL_CACHE_VERSION} plus a digest of the grading core's
 * sources (activities/grading, parsers included, and this directory), so any change to parsers,
 * verdict or eval scripts invalidates cached results.
 */
export function gradingVersion(): string {
  if (codeVersion) return codeVersion;
  const h = createHash('sha256').update(`v${EVAL_CACHE_VERSION}\n`);
  for (const rel of ['../grading', '../evaluate']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort();
    for (const f of files) h.update(`${rel}/${f}\n`).update(readFileSync(join(dir, f)));
  }
  codeVersion = `${EVAL_CACHE_VERSION}-${h.digest('hex').slice(0, 16)}`;
  return codeVersion;
}

/** What the task contributes to grading: test patch, test lists, the test command a run executes (scope applied) and parser. */
export function taskDigest(task: EvalTask): string {
  const c = task.install_config;
  return sha256(
    JSON.stringify([
      task.base_commit,
      task.test_patch,
      task.FAIL_TO_PASS,
      task.PASS_TO_PASS,
      task.FAIL_TO_FAIL ?? [],
      task.PASS_TO_FAIL ?? [],
      scopedTestCommand(task, c, recordedTestScope(task)),
      c.log_parser,
      c.env_vars,
    ])
  );
}

/** The inputs a cached result is keyed on. */
export type CacheInputs = EvalCacheEntry['inputs'];

/**
 * The cache key of one grading: sha256 over instance id, the patch's bytes, the image id (content
 * digest of the image actually used), the task's grading inputs and the grading code version.
 * Never a run id: the same patch on the same image reuses its result under any run name.
 */
export function cacheKey(task: EvalTask, patch: string, imageId: string): { key: string; inputs: CacheInputs } {
  const inputs: CacheInputs = {
    instance_id: task.instance_id,
    patch_sha256: sha256(Buffer.from(patch, 'utf8')),
    image_id: imageId,
    task_sha256: taskDigest(task),
    grading_version: gradingVersion(),
  };
  const key = sha256(
    [inputs.instance_id, inputs.patch_sha256, inputs.image_id, inputs.task_sha256, inputs.grading_version].join('\0')
  );
  return { key, inputs };
}

/** Graded results on disk, one JSON file per key under `dir` (`$BOTTEGA_HOME/eval-cache`). */
export class GradeCache {
  constructor(readonly dir: string) {}

  /** The cached result for `key`, or null when absent or unreadable (then it is regraded). */
  get(key: string): GradedInstance | null {
    try {
      const entry = EvalCacheEntry.parse(JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8')));
      return entry.key === key ? entry.result : null;
    } catch {
      return null;
    }
  }

  /** Stores a result atomically (write to a temporary file, then rename). */
  put(key: string, inputs: CacheInputs, result: GradedInstance): void {
    mkdirSync(this.dir, { recursive: true });
    const entry: EvalCacheEntry = { key, inputs, graded_at: new Date().toISOString(), result };
    const tmp = join(this.dir, `.${key}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, join(this.dir, `${key}.json`));
  }
}

/** Whether a result may be reused later: infra failures and timeouts are transient, so they are not. */
export function cacheable(result: GradedInstance): boolean {
  return result.outcome !== 'infra_failure' && result.outcome !== 'empty_patch' && result.reason !== 'tests_timed_out';
}
