/**
 * The docker-py peer of `npm run bench -- eval`: runs bench/eval_ref.py (the official SWE-bench
 * harness's per-instance steps) on the same instance images and predictions, and grades the logs
 * it returns with bottega's grader, so a peer that did not really run the tests shows as unresolved.
 *
 * docker-py is installed on first use into a venv under `$BOTTEGA_HOME/venvs/bench-eval` (pip;
 * `--python` picks an interpreter that already has it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gradeContainerRun } from '../activities/evaluate/grade-one';
import { imageTag } from '../activities/evaluate/tasks';
import { gradeRun } from '../activities/grading';
import type { EvalTask, GradeTimings } from '../contracts/evaluate';
import { benchPython } from './venv';

const REF_PACKAGES = ['docker==7.1.0'];

/** A Python with docker-py: `explicit`, else the bench venv (created on first use). */
export function ensurePeerPython(explicit: string | undefined): { python: string; error?: string } {
  return benchPython(explicit, 'bench-eval', REF_PACKAGES, 'docker');
}

/** One prediction for the peer: its task (for the image, eval script and grading) and patch. */
export interface PeerItem {
  task: EvalTask;
  patch: string;
}

/** What the peer did. */
export interface PeerRun {
  wallS: number;
  resolved: number;
  /** Per instance, the harness steps' split (parse_ms 0: grading is not part of the peer). */
  timings: GradeTimings[];
  dockerPy: string;
  /** Instances the peer could not grade, with the reason. */
  failures: string[];
}

interface PeerOut {
  wall_s: number;
  docker_py: string;
  instances: {
    instance_id: string;
    output: string;
    applied: boolean;
    timed_out: boolean;
    error: string | null;
    timings_ms: Omit<GradeTimings, 'parse_ms'>;
  }[];
}

/**
 * Runs the peer over `items` at `concurrency` (a thread pool, as the harness's `run_instances`),
 * `docker stop --time=stopTimeoutS` in each teardown (the harness: 15). The eval script is
 * bottega's own for the task (the same tests, markers and test-file reset), preceded by
 * `source /etc/profile`, which puts the image's venv on PATH as the harness's scripts activate
 * their conda env; the patch goes through the harness's `git apply` fall-through.
 */
export function runPeer(
  python: string,
  items: PeerItem[],
  opts: { concurrency: number; timeoutMs: number; stopTimeoutS: number; dir: string }
): PeerRun {
  const run = { timeoutMs: opts.timeoutMs, limits: { cpus: 1, memoryMb: 1024, pids: 256 } };
  const instances = items.map(({ task, patch }) => {
    const evalScript = gradeContainerRun(task, patch, run).files?.find((f) => f.path === '/tmp/eval.sh')?.content;
    if (typeof evalScript !== 'string') throw new Error(`no eval script for ${task.instance_id}`);
    return {
      instance_id: task.instance_id,
      image: imageTag(task),
      patch,
      eval_script: evalScript.replace(/^#!\/bin\/bash\n/, '#!/bin/bash\nsource /etc/profile\n'),
    };
  });
  mkdirSync(opts.dir, { recursive: true });
  const input = join(opts.dir, `peer-${opts.stopTimeoutS}.json`);
  writeFileSync(
    input,
    JSON.stringify({
      concurrency: opts.concurrency,
      timeout_s: opts.timeoutMs / 1000,
      stop_timeout: opts.stopTimeoutS,
      instances,
    })
  );
  const script = fileURLToPath(new URL('./eval_ref.py', import.meta.url));
  const r = spawnSync(python, [script, input], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0)
    throw new Error(`${script} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout) as PeerOut;
  const failures: string[] = [];
  let resolved = 0;
  for (const o of out.instances) {
    const item = items.find((i) => i.task.instance_id === o.instance_id)!;
    if (o.error) failures.push(`${o.instance_id}: ${o.error}`);
    const g = gradeRun({
      task: item.task,
      patch: item.patch,
      applied: o.applied,
      log: { exitCode: 0, timedOut: o.timed_out, output: o.output },
      parser: item.task.install_config.log_parser,
    });
    if (g.report.resolved) resolved++;
    else if (!o.error) failures.push(`${o.instance_id}: not resolved (${g.official.reason ?? 'tests failed'})`);
  }
  return {
    wallS: out.wall_s,
    resolved,
    timings: out.instances.map((o) => ({ ...o.timings_ms, parse_ms: 0 })),
    dockerPy: out.docker_py,
    failures,
  };
}
