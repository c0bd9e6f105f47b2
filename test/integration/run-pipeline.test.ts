import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { fixtureEvalTasks } from '../../bench/eval';
import { RunPipeline, runInContainer, type RunOptions } from '../../activities/build/docker';
import { evaluatePredictions } from '../../activities/evaluate';
import { imageTag } from '../../activities/evaluate/tasks';
import type { EvalTask } from '../../contracts/evaluate';
import { dockerOrSkip } from '../helpers/docker';

/**
 * Grading with the start-up hidden (issue 16.2), on the real engine: the next runs' containers are
 * created and started while another runs, each script starts only when its turn comes, every run
 * gets a fresh container, removal runs in the background but is over when `close()` returns, and an
 * abort kills and removes the running and the prepared containers with no container started after.
 */
const probe = await dockerOrSkip();
const BOTTEGA_HOME = resolve(process.env.BOTTEGA_HOME ?? '.bottega');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-run-pipeline-'));
const LIMITS = { cpus: 1, memoryMb: 512, pids: 128 };

let docker: Docker;
let calc: EvalTask & { patch: string };

/** A unique label per test, so containers of other runs on the engine never count. */
const labelled = (): { labels: Record<string, string>; filter: string } => {
  const v = randomBytes(4).toString('hex');
  return { labels: { 'bottega.test-pipeline': v }, filter: `bottega.test-pipeline=${v}` };
};
const containersOf = (filter: string): Promise<Docker.ContainerInfo[]> =>
  docker.listContainers({ all: true, filters: { label: [filter] } });

/** Container `start` events of `filter` from now on. */
async function watchStarts(filter: string): Promise<{ count(): number; stop(): void }> {
  let n = 0;
  const stream = (await docker.getEvents({
    filters: { type: ['container'], event: ['start'], label: [filter] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  stream.on('data', (chunk: Buffer) => (n += chunk.toString('utf8').split('\n').filter(Boolean).length));
  return { count: () => n, stop: () => stream.destroy() };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for: ${what}`);
    await sleep(100);
  }
}

describe('container pipeline (real Docker)', { skip: 'skip' in probe ? probe.skip : false }, () => {
  before(async () => {
    docker = probe.docker!;
    calc = (await fixtureEvalTasks(docker, join(tmp, 'fixtures'), BOTTEGA_HOME, ['acme__calc-1']))[0]!;
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const run = (script: string, labels: Record<string, string>, over: Partial<RunOptions> = {}): RunOptions => ({
    image: imageTag(calc),
    script,
    timeoutMs: 60_000,
    limits: LIMITS,
    labels,
    ...over,
  });

  it('prepares the next container while one runs; its script starts only at its turn, in a fresh container', async () => {
    const { labels, filter } = labelled();
    const pipe = new RunPipeline(docker, { ahead: 2 });
    const first = run('touch /tmp/seen; sleep 3; echo first done', labels);
    const second = run('echo "t=$(date +%s%N)"; test -e /tmp/seen && echo reused || echo fresh', labels, {
      files: [{ path: '/tmp/note.txt', content: 'copied in ahead\n' }],
    });
    const third = run('cat /tmp/note.txt 2>/dev/null || echo "no note"', labels);
    pipe.announce('first', first);
    pipe.announce('second', second);
    pipe.announce('third', third);
    try {
      const a = pipe.run('first', first);
      // While the first runs, the second's (and third's) container is already up.
      await until(
        'three running containers',
        async () => (await containersOf(filter)).filter((c) => c.State === 'running').length >= 3
      );
      const ra = await a;
      assert.equal(ra.exitCode, 0);
      assert.equal(ra.output, 'first done\n');
      const released = Date.now();
      const rb = await pipe.run('second', second);
      const t = Number(/t=(\d+)/.exec(rb.output)?.[1]) / 1e6;
      assert.ok(t >= released - 50, `the script started ${released - t} ms before its turn`);
      assert.match(rb.output, /^fresh$/m, 'nothing of the first run is in the second container');
      assert.notEqual(rb.containerId, ra.containerId);
      const rc = await pipe.run('third', third);
      assert.equal(rc.output, 'no note\n', 'files go to the run they belong to');
    } finally {
      await pipe.close();
    }
    assert.deepEqual(await containersOf(filter), [], 'close() waits for every background removal');
  });

  it('gives the same output and exit code as runInContainer, timeouts included', async () => {
    const { labels, filter } = labelled();
    const script = "printf 'out '; echo err >&2; printf 'no newline at the end'; exit 3";
    const plain = await runInContainer(docker, run(script, labels));
    const pipe = new RunPipeline(docker, { ahead: 1 });
    try {
      const piped = await pipe.run('x', run(script, labels));
      assert.equal(piped.exitCode, 3);
      assert.equal(piped.output, plain.output);
      assert.equal(piped.output, 'out err\nno newline at the end');
      assert.equal(piped.timedOut, false);
      const slow = await pipe.run('slow', run('echo before; sleep 30', labels, { timeoutMs: 1500 }));
      assert.equal(slow.timedOut, true);
      assert.equal(slow.exitCode, null);
      assert.match(slow.output, /^before\n[\s\S]*killed after 1500 ms/);
    } finally {
      await pipe.close();
    }
    assert.deepEqual(await containersOf(filter), []);
  });

  it('an abort kills and removes the running and the prepared containers, and nothing starts after it', async () => {
    const { labels, filter } = labelled();
    const ctl = new AbortController();
    const pipe = new RunPipeline(docker, { ahead: 2, signal: ctl.signal });
    const sleeper = run('sleep 3600', labels, { signal: ctl.signal });
    for (const k of ['a', 'b', 'c', 'd']) pipe.announce(k, sleeper);
    const a = pipe.run('a', sleeper);
    a.catch(() => {});
    await until(
      'the running and two prepared containers',
      async () => (await containersOf(filter)).filter((c) => c.State === 'running').length >= 3
    );
    const starts = await watchStarts(filter);
    try {
      const t0 = Date.now();
      ctl.abort(new Error('stop now'));
      await assert.rejects(a, /stop now/);
      await assert.rejects(pipe.run('b', sleeper), /stop now/);
      await pipe.close();
      assert.deepEqual(await containersOf(filter), [], 'no container is left');
      assert.ok(Date.now() - t0 < 15_000, `cleanup took ${Date.now() - t0} ms`);
      await sleep(500);
      assert.equal(starts.count(), 0, 'no container started after the abort');
    } finally {
      starts.stop();
      for (const c of await containersOf(filter)) await docker.getContainer(c.Id).remove({ force: true });
    }
  });

  it('evaluatePredictions starts the next instance’s container while the current one is graded', async () => {
    const runId = `pipe-${randomBytes(3).toString('hex')}`;
    const filter = `bottega.eval-run=${runId}`;
    // The gold fix made slow: the tests still pass, after three seconds.
    const slow = calc.patch.replace(/^\+(\s+)return (.*)$/m, '+$1import time; time.sleep(3); return $2');
    assert.notEqual(slow, calc.patch);
    const tasks = new Map<string, EvalTask>([
      ['acme__calc-1.slow', { ...calc, instance_id: 'acme__calc-1.slow' }],
      ['acme__calc-1', calc],
    ]);
    const seen: number[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        seen.push((await containersOf(filter)).filter((c) => c.State === 'running').length);
        await sleep(100);
      }
    })();
    try {
      const r = await evaluatePredictions({
        docker,
        tasks,
        predictions: [
          { instance_id: 'acme__calc-1.slow', model_name_or_path: 'm', model_patch: slow },
          { instance_id: 'acme__calc-1', model_name_or_path: 'm', model_patch: calc.patch },
        ],
        outDir: join(tmp, 'eval-out'),
        runId,
        cacheDir: null,
        concurrency: 1,
        run: { timeoutMs: 120_000, limits: LIMITS, labels: { 'bottega.eval-run': runId } },
      });
      assert.equal(r.report.resolved_instances, 2, JSON.stringify(r.report.failure_reasons));
      assert.ok(r.pipeline && r.pipeline.prepared === 2, `prepared: ${JSON.stringify(r.pipeline)}`);
    } finally {
      watching = false;
      await watch;
    }
    // Concurrency 1: without the pipeline one container at most would ever run.
    assert.ok(Math.max(...seen) >= 2, `running containers seen: ${[...new Set(seen)].join(', ')}`);
    assert.deepEqual(await containersOf(filter), [], 'every container is removed before it returns');
  });
});
