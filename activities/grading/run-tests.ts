import type Docker from 'dockerode';
import type { InstallConfig, RunLog } from '../../contracts';
import { runInContainer } from '../build/docker';
import { buildApplyPatchScript, buildEvalScript } from './eval-script';

/** A shell line that writes `content` to `path` without quoting hazards (base64). */
const writeFileLine = (path: string, content: string) =>
  `echo '${Buffer.from(content, 'utf8').toString('base64')}' | base64 -d > ${path}`;

/** What {@link runTaskTests} needs to know about the task. */
export interface TestRunTask {
  base_commit: string;
  test_patch: string;
}

/** Options of {@link runTaskTests}. */
export interface TestRunOptions {
  /** The task's instance image. */
  image: string;
  task: TestRunTask;
  config: Pick<InstallConfig, 'test_cmd' | 'env_vars'>;
  /** A patch to apply first (the gold patch, or an agent's), or null to test the base as is. */
  patch: string | null;
  timeoutMs: number;
  limits: { cpus: number; memoryMb: number; pids: number };
  /** Extra environment of the run (e.g. the validation run's number). */
  env?: Record<string, string>;
}

/**
 * Runs a task's tests once in a fresh container without network, the way the SWE-bench harness
 * does: apply `patch` (git apply → --reject → patch --fuzz, with markers), reset the test files,
 * apply `test_patch`, run the test command between markers and print its exit code. The log goes
 * to `judgeLog` / `gradeInstance`. Shared by validation (build), grading of rollouts and evaluation.
 */
export async function runTaskTests(docker: Docker, opts: TestRunOptions): Promise<RunLog> {
  const evalScript = buildEvalScript({
    baseCommit: opts.task.base_commit,
    testPatch: opts.task.test_patch,
    testCmd: opts.config.test_cmd,
    envVars: opts.config.env_vars,
  });
  const script = [
    writeFileLine('/tmp/eval.sh', evalScript),
    ...(opts.patch !== null
      ? [
          writeFileLine('/tmp/candidate.patch', opts.patch),
          writeFileLine('/tmp/apply.sh', buildApplyPatchScript('/tmp/candidate.patch')),
          'bash /tmp/apply.sh || exit 1',
        ]
      : []),
    'bash /tmp/eval.sh',
  ].join('\n');
  const r = await runInContainer(docker, {
    image: opts.image,
    script,
    timeoutMs: opts.timeoutMs,
    limits: opts.limits,
    network: false,
    ...(opts.env ? { env: opts.env } : {}),
  });
  return { exitCode: r.exitCode, timedOut: r.timedOut, output: r.output };
}
