import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../workers/worker';

/**
 * Replays every recorded history (test/history_files, made by `npm run record-histories`) against
 * the current workflow code. A change that alters the command sequence of an existing workflow
 * type fails here before it can break running experiments. Needs no server.
 */
const DIR = new URL('../history_files/', import.meta.url);
const files = readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'manifest.json');
const workflowIds = JSON.parse(readFileSync(new URL('manifest.json', DIR), 'utf8')) as Record<string, string>;
const load = (f: string) => JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as { events: Record<string, unknown>[] };

describe('replay of recorded workflow histories', () => {
  it('has histories for every workflow type', () => {
    const types = new Set(
      files.map((f) => {
        const first = load(f).events[0] as {
          workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
        };
        return first.workflowExecutionStartedEventAttributes?.workflowType?.name;
      })
    );
    assert.deepEqual([...types].sort(), [
      'buildStageWorkflow',
      'evaluateStageWorkflow',
      'experimentWorkflow',
      'mineRepoWorkflow',
      'mineStageWorkflow',
      'mixStageWorkflow',
      'rolloutBatchWorkflow',
      'rolloutStageWorkflow',
      'sweepWorkflow',
      'trainStageWorkflow',
    ]);
  });

  for (const f of files) {
    it(`replays ${f} deterministically`, async () => {
      assert.ok(workflowIds[f], `${f} is listed in manifest.json (rerun npm run record-histories)`);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, load(f), workflowIds[f]);
    });
  }

  it('detects a history whose commands differ from the code', async () => {
    const history = load('experiment-ran.json');
    const scheduled = history.events.find((e) => 'activityTaskScheduledEventAttributes' in e) as {
      activityTaskScheduledEventAttributes: { activityType: { name: string } };
    };
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
    await assert.rejects(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history), (e: Error) => {
      assert.match(e.name, /DeterminismViolationError/);
      return true;
    });
  });
});
