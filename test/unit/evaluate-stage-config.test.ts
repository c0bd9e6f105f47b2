import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { gradedFromTrajectory, renderServeScript, summaryMarkdown } from '../../activities/evaluate/evaluate-stage';
import { jobPaths } from '../../activities/train/paths';
import { EvaluateConfig, EvaluateServeConfig, Trajectory, type InstanceReport } from '../../contracts';

const report = (over: Partial<InstanceReport> = {}): InstanceReport => ({
  patch_is_None: false,
  patch_exists: true,
  patch_successfully_applied: true,
  resolved: true,
  infra_failure: null,
  tests_status: {
    FAIL_TO_PASS: { success: ['t1'], failure: [] },
    PASS_TO_PASS: { success: [], failure: [] },
    FAIL_TO_FAIL: { success: [], failure: [] },
    PASS_TO_FAIL: { success: [], failure: [] },
  },
  ...over,
});

const trajectory = (patch: string, r: InstanceReport | null) =>
  Trajectory.parse({
    schema_version: 1,
    id: 'x#0',
    instance_id: 'x',
    rollout_index: 0,
    policy: 'openai',
    model: 'm',
    sampling: null,
    messages: [],
    steps: [],
    exit_reason: 'submitted',
    final_patch: patch,
    report: r,
    label: r?.resolved ? 'pass' : 'fail',
    tokens: null,
    started_at: null,
    finished_at: null,
  });

describe('evaluate stage config', () => {
  it('defaults follow the paper protocol', () => {
    const c = EvaluateConfig.parse({ model: { endpoint: 'http://h:8000/v1', model: 'm' } });
    assert.equal(c.runs, 4);
    assert.equal(c.sampling.temperature, 0);
    assert.equal(c.limits.max_steps, 100);
    assert.equal(c.limits.max_total_tokens, 131_072);
    assert.deepEqual(c.tasks, { from: 'build' });
    assert.equal(c.policy, 'openai');
  });

  it('the openai policy needs a model; replay-gold does not', () => {
    assert.equal(EvaluateConfig.safeParse({}).success, false);
    assert.equal(EvaluateConfig.safeParse({ policy: 'replay-gold', runs: 2 }).success, true);
    const c = EvaluateConfig.parse({ model: { checkpoint: 'train' }, tasks: { path: '/t.jsonl' } });
    assert.ok(c.model && 'checkpoint' in c.model);
    assert.equal(c.model.serve.framework, 'vllm');
    assert.equal(c.model.serve.health_timeout_s, 3600);
  });

  it('renders a serving script: free port, endpoint file, exec of the vLLM template', () => {
    const serve = EvaluateServeConfig.parse({ resources: { gpus_per_node: 4, time_limit: '2:00:00' } });
    const paths = jobPaths('/work', 'exp', 'serve');
    const s = renderServeScript({ name: 'bottega.w.serve', workflowId: 'w', serve, checkpoint: '/ck pt', paths });
    assert.match(s.script, /^#SBATCH --job-name=bottega\.w\.serve$/m);
    assert.match(s.script, /^#SBATCH --gpus-per-node=4$/m);
    assert.match(s.script, /^#SBATCH --comment=bottega:serve:w$/m);
    assert.match(s.script, /endpoint\.\$SLURM_JOB_ID/);
    assert.equal(
      s.command,
      `python3 -m vllm.entrypoints.openai.api_server --model '/ck pt' --port "$BOTTEGA_SERVE_PORT" --tensor-parallel-size 4 --enable-auto-tool-choice --tool-call-parser hermes`
    );
    assert.match(s.script, /^exec python3 -m vllm/m);
    const sg = renderServeScript({
      name: 'n',
      workflowId: 'w',
      serve: EvaluateServeConfig.parse({ framework: 'sglang' }),
      checkpoint: '/c',
      paths,
    });
    assert.match(sg.command, /sglang\.launch_server --model-path \/c --host 0\.0\.0\.0 --port "\$BOTTEGA_SERVE_PORT"/);
    assert.throws(
      () =>
        renderServeScript({
          name: 'n',
          workflowId: 'w',
          serve: EvaluateServeConfig.parse({ command: 'serve {nope}' }),
          checkpoint: '/c',
          paths,
        }),
      (e: unknown) => e instanceof ApplicationFailure && e.type === 'InvalidSpec'
    );
  });

  it('grades from the rollout: empty, resolved, unresolved, error', () => {
    assert.equal(gradedFromTrajectory(trajectory('', null)).outcome, 'empty_patch');
    assert.equal(gradedFromTrajectory(trajectory('diff', report())).outcome, 'resolved');
    const un = gradedFromTrajectory(trajectory('diff', report({ resolved: false })));
    assert.deepEqual([un.outcome, un.reason], ['unresolved', 'tests_failed']);
    const na = gradedFromTrajectory(trajectory('diff', report({ resolved: false, patch_successfully_applied: false })));
    assert.deepEqual([na.outcome, na.reason], ['unresolved', 'patch_apply_failed']);
    const er = gradedFromTrajectory(trajectory('diff', report({ resolved: false, infra_failure: 'tests_timed_out' })));
    assert.deepEqual([er.outcome, er.reason], ['error', 'tests_timed_out']);
    assert.equal(gradedFromTrajectory(trajectory('diff', null)).outcome, 'infra_failure');
  });

  it('writes a Markdown summary with the interval methods', () => {
    const md = summaryMarkdown(
      {
        model: 'm',
        policy: 'openai',
        tasks: 2,
        runs: 2,
        seeds: [1, 2],
        resolved_rates: [0.5, 1],
        mean: 0.75,
        ci95: { low: 0, high: 1, level: 0.95, method: 'Student t-interval over 2 runs (df = 1), clamped to [0, 1]' },
        ci95_instances: null,
        per_instance: { a: 2, b: 1 },
        baselines: [{ name: 'base', rates: [0.5], mean: 0.5, difference: 0.25, ci95_runs: null, ci95_instances: null }],
      },
      []
    );
    assert.match(md, /Pass@1 \(mean over runs\): 75\.0%/);
    assert.match(md, /t-interval over 2 runs/);
    assert.match(md, /\| base \| 1 \| 50\.0% \| \+25\.0 pp \|/);
  });
});
