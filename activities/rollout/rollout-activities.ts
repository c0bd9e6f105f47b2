import { Context } from '@temporalio/activity';
import Docker from 'dockerode';
import {
  ArtifactRef,
  RolloutConfig,
  RolloutStageResult,
  StoreConfig,
  parseInput,
  type RolloutSummary,
} from '../../contracts';
import { withHeartbeats } from '../heartbeat';
import { loggerFor } from '../logger';
import { getTokenizer } from '../mine/tokenizer';
import { openStore } from '../store/artifact-store';
import { runOneRollout, type RolloutRecord, type RolloutTask } from './run-rollout';
import { sweepRolloutContainers } from './tools';

/** Dependencies of the rollout activities. */
export interface RolloutActivityDeps {
  env: NodeJS.ProcessEnv;
  docker?: Docker;
}

/** Common input of the rollout activities. */
export interface RolloutStepInput {
  experimentId: string;
  config: RolloutConfig;
  store: StoreConfig;
  prefix: string;
}

/** How long a cancelled rollout gets to remove its containers before the cancellation is reported. */
const CANCEL_SETTLE_MS = 15_000;

const finalKey = (prefix: string, i: number) => `${prefix}/trajectories/${String(i).padStart(7, '0')}.json`;
const partialKey = (prefix: string, i: number) => `${prefix}/partial/${String(i).padStart(7, '0')}.json`;

/** One planned rollout: task line and rollout number. */
interface PlannedRollout {
  task: RolloutTask;
  k: number;
}

/** Creates the rollout stage's activities. `runRollout` needs Docker (docker task queue). */
export function createRolloutActivities(deps: RolloutActivityDeps) {
  const docker = () => (deps.docker ??= new Docker());
  const storeOf = (s: StoreConfig) => openStore(parseInput(StoreConfig, s, 'store config'), deps.env);
  return {
    /** Expands the validated tasks into `rollouts_per_task` planned rollouts each (`plan.jsonl`). */
    async prepareRollout(
      raw: RolloutStepInput & { tasks: ArtifactRef }
    ): Promise<{ count: number; tasks: number; plan: ArtifactRef }> {
      const config = parseInput(RolloutConfig, raw.config, 'rollout config');
      const store = storeOf(raw.store);
      const tasks = (await store.get(raw.tasks.uri))
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as RolloutTask);
      const plan: string[] = [];
      for (const task of tasks) {
        for (let k = 0; k < config.rollouts_per_task; k++)
          plan.push(JSON.stringify({ task, k } satisfies PlannedRollout));
      }
      const ref = await store.put(`${raw.prefix}/plan.jsonl`, plan.length ? `${plan.join('\n')}\n` : '');
      return { count: plan.length, tasks: tasks.length, plan: ref };
    },

    /**
     * Runs planned rollout `index`. A finished rollout is never run twice (its trajectory is read
     * back); an unfinished one restarts cleanly in a fresh container. Steps are saved as they
     * happen, and heartbeats carry the step.
     */
    async runRollout(
      raw: RolloutStepInput & { plan: ArtifactRef; index: number }
    ): Promise<{ label: 'pass' | 'fail'; exit: string; tokens: number }> {
      const config = parseInput(RolloutConfig, raw.config, 'rollout config');
      const store = storeOf(raw.store);
      const done = store.uriFor(finalKey(raw.prefix, raw.index));
      if (await store.exists(done)) {
        const r = JSON.parse((await store.get(done)).toString('utf8')) as RolloutRecord;
        return { label: r.label ?? 'fail', exit: r.exit_reason, tokens: r.tokens?.total ?? 0 };
      }
      // Containers older than the longest possible rollout are orphans of a crashed worker.
      await sweepRolloutContainers(docker(), (config.limits.wall_clock_s + 600) * 1000);
      const line = (await store.get(raw.plan.uri)).toString('utf8').split('\n')[raw.index];
      if (!line) throw new Error(`rollout ${raw.index} missing from ${raw.plan.uri}`);
      const { task, k } = JSON.parse(line) as PlannedRollout;
      const log = loggerFor({
        experimentId: raw.experimentId,
        stage: 'rollout',
        activity: 'runRollout',
        task: task.instance_id,
        k,
      });
      let step = 'start';
      const tokenizer = await getTokenizer('qwen2.5');
      const work = runOneRollout(
        { task, index: k, config },
        {
          docker: docker(),
          env: deps.env,
          tokenizer,
          // Cancellation (workflow cancel, worker shutdown) removes the rollout's containers at once.
          signal: Context.current().cancellationSignal,
          labels: { 'bottega.experiment': raw.experimentId },
          progress: (s) => {
            step = s;
          },
          saveProgress: async (partial) => {
            await store.put(partialKey(raw.prefix, raw.index), JSON.stringify(partial), { records: null });
          },
        }
      );
      const record = await withHeartbeats(
        () => ({ rollout: raw.index, task: task.instance_id, step }),
        work,
        5000,
        CANCEL_SETTLE_MS
      );
      await store.put(finalKey(raw.prefix, raw.index), JSON.stringify(record) + '\n', { records: null });
      log.info({ label: record.label, exit: record.exit_reason, steps: record.steps.length }, 'rollout finished');
      Context.current().heartbeat({ rollout: raw.index, step: 'done' });
      return { label: record.label ?? 'fail', exit: record.exit_reason, tokens: record.tokens?.total ?? 0 };
    },

    /** Writes D^env_pass / D^env_fail (length-gated) and the stage summary. */
    async finalizeRollout(raw: RolloutStepInput & { count: number; tasks: number }): Promise<RolloutStageResult> {
      const config = parseInput(RolloutConfig, raw.config, 'rollout config');
      const store = storeOf(raw.store);
      const summary: RolloutSummary = {
        tasks: raw.tasks,
        rollouts: raw.count,
        passed: 0,
        failed: 0,
        pass_rate: 0,
        exits: {},
        dropped: {},
        tokens: 0,
      };
      const pass: string[] = [];
      const fail: string[] = [];
      for (let i = 0; i < raw.count; i++) {
        const text = (await store.get(store.uriFor(finalKey(raw.prefix, i)))).toString('utf8').trim();
        const r = JSON.parse(text) as RolloutRecord;
        summary.exits[r.exit_reason] = (summary.exits[r.exit_reason] ?? 0) + 1;
        const tokens = r.tokens?.total ?? 0;
        if (tokens > config.max_trajectory_tokens) {
          // The paper drops trajectories over 128k tokens and applies no other filter.
          summary.dropped.too_long = (summary.dropped.too_long ?? 0) + 1;
          continue;
        }
        summary.tokens += tokens;
        if (r.label === 'pass') {
          summary.passed++;
          pass.push(text);
        } else {
          summary.failed++;
          fail.push(text);
        }
      }
      const graded = summary.passed + summary.failed;
      summary.pass_rate = graded ? summary.passed / graded : 0;
      const lines = (xs: string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
      return RolloutStageResult.parse({
        summary,
        artifacts: {
          pass: await store.put(`${raw.prefix}/trajectories.pass.jsonl`, lines(pass)),
          fail: await store.put(`${raw.prefix}/trajectories.fail.jsonl`, lines(fail)),
          summary: await store.put(`${raw.prefix}/summary.json`, JSON.stringify(summary, null, 2) + '\n', {
            records: null,
          }),
        },
      });
    },
  };
}
