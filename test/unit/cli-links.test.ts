import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExperimentResult } from '../../contracts';
import { workflowUrl } from '../../cli/client';
import { formatExperimentResult } from '../../cli/summary';
import { mdTable, mdText, mdWorkflowLink } from '../../workflows/markdown';

const env = { TEMPORAL_UI_URL: 'http://ui.example:8233/', TEMPORAL_NAMESPACE: 'research' };

describe('Web UI links', () => {
  it("links a run's history by workflow id and run id (the id's slash encoded)", () => {
    assert.equal(
      workflowUrl('exp-demo/mix', '01a2-run', env),
      'http://ui.example:8233/namespaces/research/workflows/exp-demo%2Fmix/01a2-run/history'
    );
  });

  it("without a run id, the workflow's page (the UI opens its latest run)", () => {
    assert.equal(
      workflowUrl('exp-demo', undefined, env),
      'http://ui.example:8233/namespaces/research/workflows/exp-demo'
    );
    assert.equal(
      workflowUrl('exp-demo', undefined, {}),
      'http://localhost:8233/namespaces/default/workflows/exp-demo',
      'defaults: the local dev server'
    );
  });

  it('the summary links each stage to the run that produced it: its own, or the earlier one it was reused from', () => {
    const train = { stages: [], final_checkpoint: '/ckpt/step-2' };
    const result: ExperimentResult = {
      experimentId: 'exp-b',
      stages: {
        train: {
          status: 'cached',
          cacheKey: 'k1',
          producer: { workflowId: 'exp-a/train', runId: 'run-a' },
          result: train,
        },
      },
    };
    const text = formatExperimentResult(result, { link: (id, run) => workflowUrl(id, run, env) });
    assert.match(
      text,
      /^stage train: reused from cache \(produced by exp-a\/train run run-a\)\n {2}Web UI: http:\/\/ui\.example:8233\/namespaces\/research\/workflows\/exp-a%2Ftrain\/run-a\/history\n/m
    );
    result.stages.train = {
      ...result.stages.train!,
      status: 'ran',
      producer: { workflowId: 'exp-b/train', runId: 'run-b' },
    };
    assert.match(
      formatExperimentResult(result, { link: (id, run) => workflowUrl(id, run, env) }),
      /stage train: ran \(exp-b\/train\)\n {2}Web UI: .*\/workflows\/exp-b%2Ftrain\/run-b\/history/
    );
    assert.doesNotMatch(formatExperimentResult(result), /Web UI/, 'no links unless asked for');
  });
});

describe('Markdown of the current details', () => {
  it('a GFM table: header, separator, rows, blank lines around it', () => {
    assert.equal(
      mdTable(
        ['stage', 'status'],
        [
          ['mine', 'completed'],
          ['mix', ''],
        ]
      ),
      '\n| stage | status |\n|---|---|\n| mine | completed |\n| mix |   |\n'
    );
  });

  it('escapes what would break a cell or turn into emphasis', () => {
    assert.equal(mdText('lr_1e-4|seq *2*\nnext'), 'lr\\_1e-4\\|seq \\*2\\* next');
  });

  it("links a run's page relative to the UI, with the run id when known", () => {
    assert.equal(
      mdWorkflowLink('exp/mine', 'default', 'exp/mine', 'r1'),
      '[exp/mine](/namespaces/default/workflows/exp%2Fmine/r1/history)'
    );
    assert.equal(mdWorkflowLink('sw-01', 'default', 'sw-01'), '[sw-01](/namespaces/default/workflows/sw-01)');
  });
});
