import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import pLimit from 'p-limit';
import { primaryEvalScore, type ArmStatus, type ExperimentResult } from '../contracts';
import { loggerFor } from './logger';

/** An arm that an earlier run of its sweep completed. */
export interface PriorArm {
  id: string;
  stages: ArmStatus['stages'];
  eval_score?: number;
}

/** Creates the sweep's activities (they read other workflows through the worker's Temporal client). */
export function createSweepActivities() {
  return {
    /**
     * The arm experiments among `arms` whose latest run COMPLETED with the same spec (the memo's
     * `specHash`), with how each stage was obtained: rerunning a sweep reuses them and reruns only
     * the arms that failed, never ran, or whose spec changed.
     */
    async priorArms(input: { arms: { id: string; specHash: string }[] }): Promise<PriorArm[]> {
      const ctx = Context.current();
      const client = ctx.client;
      const limit = pLimit(16);
      let checked = 0;
      const found = await Promise.all(
        input.arms.map(({ id, specHash }) =>
          limit(async (): Promise<PriorArm | null> => {
            const handle = client.workflow.getHandle(id);
            try {
              const d = await handle.describe();
              if (d.status.name !== 'COMPLETED' || d.type !== 'experimentWorkflow') return null;
              if (d.memo?.specHash !== specHash) return null;
              const result = (await handle.result()) as ExperimentResult;
              const stages: PriorArm['stages'] = {};
              for (const [s, o] of Object.entries(result.stages)) stages[s] = o.status;
              const mean = primaryEvalScore(result);
              return { id, stages, ...(mean !== undefined ? { eval_score: mean } : {}) };
            } catch (e) {
              if (e instanceof WorkflowNotFoundError) return null;
              throw e;
            } finally {
              ctx.heartbeat(++checked);
            }
          })
        )
      );
      const prior = found.filter((p): p is PriorArm => p !== null);
      loggerFor({ activity: 'priorArms' }).info({ arms: input.arms.length, reused: prior.length }, 'prior sweep arms');
      return prior;
    },
  };
}
