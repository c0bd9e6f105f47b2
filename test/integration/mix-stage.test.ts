import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { MixConfig, MixManifest, MixStageResult, TASK_QUEUES, type ArtifactRef } from '../../contracts';
import { runMixPipeline } from '../../activities/mix/pipeline';
import { makeMixFixtures, paperRecipe, type MixFixtures } from '../helpers/mix-fixtures';
import { readStage } from '../helpers/mix-readback';
import { runWorkers } from '../helpers/stack';
import { startTemporal } from '../helpers/temporal';
import { completedActivities, spawnWorkerProcess } from '../helpers/worker-process';

/**
 * The mix stage workflow on the real Temporal dev server with a local store: end to end through
 * the activities, and with a worker process killed mid-stage (finished shards are not rewritten,
 * and the shards equal those of an uninterrupted in-process run).
 */
const tmp = mkdtempSync(join(tmpdir(), 'bottega-mix-it-'));
const home = join(tmp, 'home');
let env: TestWorkflowEnvironment;
let fx: MixFixtures;
const spawned: ChildProcess[] = [];

function fileRef(path: string): ArtifactRef {
  const b = readFileSync(path);
  return {
    uri: pathToFileURL(path).href,
    sha256: createHash('sha256').update(b).digest('hex'),
    bytes: b.length,
    records: null,
    schemaVersion: 1,
  };
}

const inputsOf = (f: MixFixtures) => Object.fromEntries(Object.entries(f.inputs).map(([k, p]) => [k, fileRef(p)]));
const manifestOf = (ref: ArtifactRef) => MixManifest.parse(JSON.parse(readFileSync(fileURLToPath(ref.uri), 'utf8')));

describe('mix stage workflow (real Temporal, local store)', () => {
  before(async () => {
    env = await startTemporal();
    fx = makeMixFixtures(join(tmp, 'fx'));
  });
  after(async () => {
    for (const p of spawned) p.kill('SIGKILL');
    await env?.teardown();
  });

  it('runs end to end and writes what the in-process pipeline writes', async () => {
    const workers = await runWorkers(env, home, ['cpu']);
    try {
      const config = MixConfig.parse(paperRecipe(fx));
      const result = MixStageResult.parse(
        await env.client.workflow.execute('mixStageWorkflow', {
          workflowId: 'exp-mix-it/mix',
          taskQueue: TASK_QUEUES.cpu,
          args: [
            {
              experimentId: 'exp-mix-it',
              config,
              store: { uri: pathToFileURL(join(tmp, 'artifacts')).href },
              prefix: 'experiments/exp-mix-it/mix/k',
              inputs: inputsOf(fx),
            },
          ],
        })
      );
      assert.deepEqual(Object.keys(result.artifacts.manifests).sort(), ['mt1', 'mt2', 'sft']);
      assert.equal(result.artifacts.report.records, 5);
      const local = await runMixPipeline({ config, inputs: fx.inputs, outDir: join(tmp, 'local') });
      for (const [stage, ref] of Object.entries(result.artifacts.manifests)) {
        const m = manifestOf(ref);
        const { sequences } = readStage(m);
        assert.equal(
          sequences.reduce((a, s) => a + s.ids.length, 0),
          m.tokens
        );
        assert.deepEqual(
          m.shards.map((s) => s.files.bin.sha256),
          local.manifests[stage]!.shards.map((s) => s.files.bin.sha256),
          `${stage}: the workflow and runMixPipeline write the same shards`
        );
        assert.deepEqual(m.sources, local.manifests[stage]!.sources);
      }
      assert.equal(result.summary.stages.mt2!.sources.traj_pass!.repetition, 3);
    } finally {
      await workers.stop();
    }
  });

  it('a worker killed mid-stage resumes without rewriting finished shards', async () => {
    // one 64-token sequence per shard: well over a hundred shards, written one at a time
    const config = MixConfig.parse({
      ...paperRecipe(fx),
      shard_tokens: 64,
      concurrency: 1,
      stages: [{ name: 'mt1', seq_len: 64, sources: [{ source: 'general_prs' }] }],
    });
    const store = join(tmp, 'crash-artifacts');
    const prefix = 'experiments/exp-mix-crash/mix/k';
    const id = 'exp-mix-crash/mix';
    const w1 = spawnWorkerProcess(env, { home, spawned });
    const handle = await env.client.workflow.start('mixStageWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [
        {
          experimentId: 'exp-mix-crash',
          config,
          store: { uri: pathToFileURL(store).href },
          prefix,
          inputs: inputsOf(fx),
        },
      ],
    });
    const deadline = Date.now() + 60_000;
    while ((await completedActivities(env, id)) < 12) {
      assert.ok(Date.now() < deadline, 'shards never got written');
      await sleep(100);
    }
    w1.kill('SIGKILL');
    await new Promise((r) => w1.once('exit', r));
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the kill must land mid-stage');
    const dir = join(store, prefix, 'mt1');
    const before = new Map(
      readdirSync(dir)
        .filter((f) => f.endsWith('.done.json'))
        .map((f) => [f, statSync(join(dir, f)).mtimeMs] as const)
    );
    assert.ok(before.size >= 10, `finished shards at the kill: ${before.size}`);
    for (const f of [...before.keys()]) {
      const bin = join(dir, f.replace('.done.json', '.bin'));
      before.set(`${f}:bin`, statSync(bin).mtimeMs);
    }

    spawnWorkerProcess(env, { home, spawned });
    const result = MixStageResult.parse(await handle.result());
    for (const [f, mtime] of before) {
      const path = f.endsWith(':bin') ? join(dir, f.slice(0, -4).replace('.done.json', '.bin')) : join(dir, f);
      assert.equal(statSync(path).mtimeMs, mtime, `${f} was rewritten`);
    }
    const m = manifestOf(result.artifacts.manifests.mt1!);
    assert.ok(m.shards.length > before.size / 2 + 20, `shards: ${m.shards.length}`);
    const local = await runMixPipeline({ config, inputs: fx.inputs, outDir: join(tmp, 'crash-local') });
    assert.deepEqual(
      m.shards.map((s) => Object.values(s.files).map((f) => f.sha256)),
      local.manifests.mt1!.shards.map((s) => Object.values(s.files).map((f) => f.sha256)),
      'the resumed stage wrote exactly the shards of an uninterrupted run'
    );
  });
});
