import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  MineStageResult,
  MixManifest,
  MixStageResult,
  TASK_QUEUES,
  type ExperimentResult,
  type ExperimentSpecInput,
  type MixConfigInput,
} from '../../contracts';
import type { FixtureRepo } from '../../infra/fixtures/make-repos';
import { fixtureSpec, startFixtureStack } from '../helpers/stack';

/**
 * mine → mix inside one experiment on the real Temporal dev server: the mix stage takes the mine
 * stage's samples by name, its token accounting matches the mine stage's counts, a rerun reuses
 * both stages from the step cache, and naming an upstream the experiment lacks is a spec error.
 */
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;
let repos: FixtureRepo[];
const home = mkdtempSync(join(tmpdir(), 'bottega-it-mix-'));

const MIX: MixConfigInput = {
  seed: 7,
  sources: [
    { name: 'general_prs', from: 'mine.general' },
    { name: 'python_prs', from: 'mine.python' },
  ],
  stages: [
    { name: 'mt1', seq_len: 1024, sources: [{ source: 'general_prs' }] },
    { name: 'mt2', seq_len: 1024, sources: [{ source: 'python_prs', repeat: 2 }] },
  ],
};

function spec(id: string, over: Partial<ExperimentSpecInput> = {}): ExperimentSpecInput {
  return fixtureSpec(id, repos, { store: { uri: `file://${join(home, 'artifacts')}` }, ...over });
}

async function run(s: ExperimentSpecInput): Promise<ExperimentResult> {
  return (await env.client.workflow.execute('experimentWorkflow', {
    workflowId: s.id,
    taskQueue: TASK_QUEUES.cpu,
    args: [s],
  })) as ExperimentResult;
}

describe('mine → mix in one experiment (real Temporal dev server)', () => {
  before(async () => {
    ({ env, repos, stop } = await startFixtureStack(home));
  });
  after(async () => stop?.());

  it('mixes the mined samples with exact token accounting, and a rerun is served from the cache', async () => {
    const r = await run(spec('exp-it-mix', { mix: MIX }));
    const mine = MineStageResult.parse(r.stages.mine!.result);
    const mix = MixStageResult.parse(r.stages.mix!.result);
    assert.equal(r.stages.mix!.status, 'ran');

    // Every mined sample arrives; what cleaning removed is counted, the rest is kept.
    for (const [name, format] of [
      ['general_prs', 'general'],
      ['python_prs', 'python'],
    ] as const) {
      const src = mix.summary.sources[name]!;
      assert.equal(src.documents_in, mine.summary.formats[format]!.samples);
      assert.equal(src.tokens_in, mine.summary.formats[format]!.tokens, 'the same tokenizer counts the same tokens');
      const removed = Object.values(src.removed).reduce((a, c) => a + c.documents, 0);
      assert.equal(src.documents_kept + removed, src.documents_in);
    }
    const manifests = Object.fromEntries(
      Object.entries(mix.artifacts.manifests).map(([k, ref]) => [
        k,
        MixManifest.parse(JSON.parse(readFileSync(fileURLToPath(ref.uri), 'utf8'))),
      ])
    );
    const mt1 = manifests.mt1!;
    const mt2 = manifests.mt2!;
    assert.equal(mt1.sources.general_prs!.tokens_out, mix.summary.sources.general_prs!.tokens_kept);
    assert.equal(
      mt2.sources.python_prs!.tokens_out,
      2 * mix.summary.sources.python_prs!.tokens_kept,
      '×2 to the token'
    );
    for (const m of [mt1, mt2]) {
      assert.equal(m.tokens, m.sequences * m.seq_len, 'packed to whole sequences');
      assert.equal(m.content_tokens + m.eos_tokens + m.pad_tokens, m.tokens);
      const bin = m.shards.reduce((a, s) => a + readFileSync(fileURLToPath(s.files.bin.uri)).length, 0);
      assert.equal(bin, 4 * m.tokens, 'int32 tokens on disk: the recount equals the manifest');
    }

    // Same spec again under another id: both stages come from the step cache.
    const again = await run(spec('exp-it-mix-again', { mix: MIX }));
    assert.equal(again.stages.mine!.status, 'cached');
    assert.equal(again.stages.mix!.status, 'cached');
    assert.deepEqual(again.stages.mix!.result, r.stages.mix!.result);
  });

  it('a source naming an upstream the experiment lacks fails with a clear spec error', async () => {
    const bad: MixConfigInput = {
      ...MIX,
      sources: [...MIX.sources, { name: 'traj_pass', from: 'rollout.pass' }],
      stages: [...MIX.stages, { name: 'sft', seq_len: 1024, loss_mask: 'sft', sources: [{ source: 'traj_pass' }] }],
    };
    await assert.rejects(run(spec('exp-it-mix-bad', { mix: bad })), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const msg = String((e.cause as Error | undefined)?.message);
      assert.match(
        msg,
        /mix\.sources\[2\]\.from: "rollout\.pass" is not available: the experiment has no rollout stage/
      );
      return true;
    });
  });
});
