import type Docker from 'dockerode';
import type { InstallConfig, RunLog, TestScope } from '../../contracts';
import { runInContainer, type ContainerFile, type RunOptions, type RunResult } from '../build/docker';
import { buildApplyPatchScript, buildEvalScript } from './eval-script';
import { scopedTestCommand } from './test-directives';

/** Wall-clock split of one {@link runTaskTests} run, in milliseconds (from in-container clock marks). */
export interface TestRunTimings {
  /** Host call until the container's script started. */
  containerStartMs: number;
  /** Writing and applying the candidate patch (0 without one). */
  patchApplyMs: number;
  /** The eval script: reset test files, apply test_patch, run the tests. */
  testRunMs: number;
  /**
   * The script's end until the log was back on the host (container exit and removal; with a
   * `RunPipeline` runner, until its end marker arrived: the removal runs in the background).
   */
  teardownMs: number;
  totalMs: number;
}

/** Prefix of the clock lines added when timings are requested; removed from the returned log. */
const CLOCK = '>>>>> bottega-clock';
const clockLine = (name: string) => `echo "${CLOCK} ${name} $(date +%s%N)"`;

/** Reads the clock marks (epoch ms) out of `output` and returns the output without them. */
function takeClock(output: string): { marks: Record<string, number>; output: string } {
  const marks: Record<string, number> = {};
  const re = /^>>>>> bottega-clock (\w+) (\d+)\r?\n?/gm;
  const rest = output.replace(re, (_l, name: string, ns: string) => {
    marks[name] = Number(BigInt(ns) / 1000n) / 1000;
    return '';
  });
  return { marks, output: rest };
}

function splitTimings(t0: number, t1: number, m: Record<string, number>): TestRunTimings {
  const clamp = (x: number) => Math.max(0, x);
  const start = m.start ?? t0;
  const applied = m.applied ?? m.tested ?? t1;
  const tested = m.tested ?? t1;
  return {
    containerStartMs: clamp(start - t0),
    patchApplyMs: clamp(applied - start),
    testRunMs: clamp(tested - applied),
    teardownMs: clamp(t1 - tested),
    totalMs: clamp(t1 - t0),
  };
}

/** What {@link runTaskTests} needs to know about the task. */
export interface TestRunTask {
  /** `owner/name`: decides Django module labels among the test directives. */
  repo?: string;
  base_commit: string;
  test_patch: string;
}

/** Options of {@link runTaskTests}. */
export interface TestRunOptions {
  /** The task's instance image. */
  image: string;
  task: TestRunTask;
  config: Pick<InstallConfig, 'test_cmd' | 'env_vars'> & Partial<Pick<InstallConfig, 'log_parser'>>;
  /**
   * `files`: only the test files `test_patch` touches (SWE-bench's test directives appended to the
   * test command); `suite` (when omitted): the test command as given. Validation, rollout grading
   * and evaluation always pass the task's scope.
   */
  scope?: TestScope;
  /** A patch to apply first (the gold patch, or an agent's), or null to test the base as is. */
  patch: string | null;
  timeoutMs: number;
  limits: { cpus: number; memoryMb: number; pids: number };
  /** Extra environment of the run (e.g. the validation run's number). */
  env?: Record<string, string>;
  /** Cancellation: no container starts once aborted; a running one is killed and removed at once. */
  signal?: AbortSignal;
  /** Labels of the container (e.g. `bottega.experiment`), besides `bottega.kind=run`. */
  labels?: Record<string, string>;
  /**
   * Runs the container (default: {@link runInContainer}); grading passes a `RunPipeline`'s, whose
   * container was prepared ahead from {@link taskRunOptions} of the same options.
   */
  runner?: (run: RunOptions) => Promise<RunResult>;
}

/**
 * The container run of {@link runTaskTests}: script, files (eval script, candidate patch) and
 * limits; with `timed`, the script prints the clock marks of the timings split.
 */
export function taskRunOptions(opts: TestRunOptions, timed: boolean): RunOptions {
  const evalScript = buildEvalScript({
    baseCommit: opts.task.base_commit,
    testPatch: opts.task.test_patch,
    testCmd: scopedTestCommand(opts.task, opts.config, opts.scope ?? 'suite'),
    envVars: opts.config.env_vars,
  });
  // The eval script (which carries test_patch) and the candidate patch go in as files through the
  // archive API: in the command line they would hit the 128 KiB argument limit.
  const files: ContainerFile[] = [{ path: '/tmp/eval.sh', content: evalScript }];
  if (opts.patch !== null)
    files.push(
      { path: '/tmp/candidate.patch', content: opts.patch },
      { path: '/tmp/apply.sh', content: buildApplyPatchScript('/tmp/candidate.patch') }
    );
  const script = [
    ...(timed ? [clockLine('start')] : []),
    ...(opts.patch !== null ? ['bash /tmp/apply.sh || exit 1'] : []),
    ...(timed
      ? [clockLine('applied'), 'bash /tmp/eval.sh', 'rc=$?', clockLine('tested'), 'exit $rc']
      : ['bash /tmp/eval.sh']),
  ].join('\n');
  return {
    image: opts.image,
    script,
    files,
    timeoutMs: opts.timeoutMs,
    limits: opts.limits,
    network: false,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.labels ? { labels: opts.labels } : {}),
  };
}

/**
 * Runs a task's tests once in a fresh container without network, the way the SWE-bench harness
 * does: apply `patch` (git apply → --reject → patch --fuzz, with markers), reset the test files,
 * apply `test_patch`, run the test command (with the test directives under scope `files`:
 * {@link scopedTestCommand}) between markers and print its exit code. The log goes
 * to `judgeLog` / `gradeInstance`. Shared by validation (build), grading of rollouts and evaluation.
 * With `onTimings`, the script also prints clock marks (stripped from the returned log, exit code
 * kept) and the callback gets the split: container start, patch application, test run, teardown.
 */
export async function runTaskTests(
  docker: Docker,
  opts: TestRunOptions,
  onTimings?: (t: TestRunTimings) => void
): Promise<RunLog> {
  const timed = onTimings !== undefined;
  const run = taskRunOptions(opts, timed);
  const t0 = Date.now();
  const r = await (opts.runner ? opts.runner(run) : runInContainer(docker, run));
  if (!timed) return { exitCode: r.exitCode, timedOut: r.timedOut, output: r.output };
  const { marks, output } = takeClock(r.output);
  onTimings(splitTimings(t0, Date.now(), marks));
  return { exitCode: r.exitCode, timedOut: r.timedOut, output };
}
