import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { StoreConfig, TASK_QUEUES, TrainStageResult, type TrainConfigInput } from '../../contracts';
import { openStore, S3ArtifactStore } from '../../activities/store/artifact-store';
import { runWorkers } from '../helpers/stack';
import { prerequisites } from '../helpers/prereq';
import { startTemporal } from '../helpers/temporal';

/**
 * The train stage with its shards in S3 only (the real SeaweedFS server), on the real Slurm
 * cluster: the job stages the shards from presigned URLs onto node-local disk (no credentials reach
 * the cluster), the trainer reads them there, and the staged copy is gone when the job ends.
 */
const skip = await prerequisites('temporal', 'slurm', 's3');
const tmp = mkdtempSync(join(tmpdir(), 'bottega-train-s3-'));
const staging = join(tmp, 'node-local');
const checker = join(tmp, 'check-data.sh');
// A "trainer" that reads its --data directory: every file the manifest lists, with its sha256.
writeFileSync(
  checker,
  `#!/bin/bash
set -eu
data=$1 manifest=$2 ckpt=$3
echo "data=$data manifest=$manifest"
python3 - "$data" "$manifest" <<'PY'
import hashlib, json, sys, pathlib
data, manifest = pathlib.Path(sys.argv[1]), json.loads(pathlib.Path(sys.argv[2]).read_text())
n = 0
for s in manifest["shards"]:
    for kind, f in s["files"].items():
        p = data / f"{s['name']}.{kind}"
        assert hashlib.sha256(p.read_bytes()).hexdigest() == f["sha256"], p
        n += 1
print(f"read {n} shard files from {data}")
PY
mkdir -p "$ckpt/step-1" && echo '{}' > "$ckpt/step-1/COMPLETE"
`
);
const bucket = process.env.BOTTEGA_S3_BUCKET ?? 'bottega';
const RUN = Date.now().toString(36);

describe('train stage with shards in S3 only', { skip }, () => {
  let env: TestWorkflowEnvironment;
  let workers: { stop(): Promise<void> } | undefined;
  const storeCfg = StoreConfig.parse({ uri: `s3://${bucket}/it-train-${RUN}` });
  const store = openStore(storeCfg) as S3ArtifactStore;

  before(async () => {
    await store.ensureBucket();
    env = await startTemporal();
    workers = await runWorkers(env, join(tmp, 'home'), ['cpu', 'slurm']);
  });
  after(async () => {
    await workers?.stop();
    await env?.teardown();
  });

  it('stages the shards from presigned URLs on the node, trains from them, and cleans up', async () => {
    const files: Record<string, { uri: string; sha256: string; bytes: number }> = {};
    for (const kind of ['bin', 'idx', 'mask.bin', 'mask.idx']) {
      const body = randomBytes(3000 + kind.length);
      const ref = await store.put(`mix/mt1/shard-00000.${kind}`, body);
      files[kind] = { uri: ref.uri, sha256: createHash('sha256').update(body).digest('hex'), bytes: ref.bytes };
    }
    const manifest = await store.put(
      'mix/mt1/manifest.json',
      JSON.stringify({ schema_version: 1, stage: 'mt1', shards: [{ name: 'shard-00000', files }] }) + '\n',
      { records: null }
    );
    const id = `train-s3-${RUN}`;
    const config: TrainConfigInput = {
      resources: { gpus_per_node: 0, cpus_per_task: 1, mem: '200M', time_limit: '10:00' },
      framework: { type: 'command', command: `bash ${checker} {data_dir} {manifest} {ckpt_dir}` },
      workdir: join(tmp, 'work'),
      data_staging_dir: staging,
      poll: { initial_s: 0.5, max_s: 2, heartbeat_timeout_s: 10, report_every_s: 2 },
      stages: [{ name: 'mt1', data: 'mt1', init: '/models/base' }],
    };
    const h = await env.client.workflow.start('trainStageWorkflow', {
      workflowId: id,
      taskQueue: TASK_QUEUES.cpu,
      args: [{ experimentId: id, config, store: storeCfg, prefix: `${id}/train`, manifests: { mt1: manifest } }],
    });
    const r = TrainStageResult.parse(await h.result());
    assert.equal(r.stages[0]!.state, 'COMPLETED');
    const log = (await store.get(r.stages[0]!.artifacts.log.uri)).toString('utf8');
    assert.match(log, /\[bottega\] staged 5 files .* \(5 downloaded, 0 already there\)/);
    assert.match(log, new RegExp(`data=${staging}/\\S+ manifest=${staging}/\\S+/manifest.json`));
    assert.match(log, /read 4 shard files from /);
    const urls = readFileSync(join(tmp, 'work', id, 'mt1', 'data-urls.json'), 'utf8');
    const secret = process.env[storeCfg.s3.secret_key_env]!;
    assert.ok(!urls.includes(secret), 'no credentials reach the cluster');
    assert.match(urls, /X-Amz-Signature=/);
    // The job ran the stager from its own directory (on the cluster's filesystem), not the worker's checkout.
    const jobDir = join(tmp, 'work', id, 'mt1');
    assert.equal(
      readFileSync(join(jobDir, 'stage_data.py'), 'utf8'),
      readFileSync(new URL('../../infra/trainer/stage_data.py', import.meta.url), 'utf8')
    );
    assert.ok(
      (await store.get(r.stages[0]!.artifacts.script.uri)).toString('utf8').includes(`${jobDir}/stage_data.py`)
    );
    assert.deepEqual(
      existsSync(staging) ? readdirSync(staging) : [],
      [],
      'the staged copy is removed when the job ends'
    );
  });
});
