import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  ArtifactRef,
  ExperimentSpec,
  Producer,
  StoreConfig,
  parseInput,
  INVALID_SPEC,
  type StageName,
} from '../contracts';
import { loggerFor } from './logger';
import { ENHANCE_PROMPT_VERSION } from './mine/enhance';
import { getTokenizer } from './mine/tokenizer';
import { openStore } from './store/artifact-store';
import { collectRefs, lookupStep, recordStep, stepCacheKey } from './store/step-cache';

const run = promisify(execFile);

/**
 * Code version of each stage. Bump it whenever a stage's output changes meaning for the same
 * input: the step cache then misses instead of serving stale results.
 */
export const STAGE_VERSIONS: Record<StageName, string> = {
  mine: '1',
};

/** Input of {@link createCacheActivities}' planStage. */
export interface PlanStageInput {
  experimentId: string;
  stage: StageName;
  spec: ExperimentSpec;
  upstream: ArtifactRef[];
}

/** The plan for a stage: its cache key, where to write, and a cached result when one is usable. */
export interface StagePlan {
  key: string;
  /** Key prefix under which this stage's outputs go. */
  prefix: string;
  hit: { result: unknown; producer: Producer } | null;
  /** Why the cache was not used, when it was not. */
  missReason: string | null;
}

/** Environment digest: everything outside the spec that changes a stage's output. */
async function environmentOf(stage: StageName, spec: ExperimentSpec): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  if (stage === 'mine' && spec.mine) {
    const tok = await getTokenizer(spec.mine.tokenizer);
    env.tokenizer = tok.fingerprint;
    if (spec.mine.enhance.enabled) env.enhancePrompts = ENHANCE_PROMPT_VERSION;
    for (const [i, s] of spec.mine.sources.entries()) {
      if (s.type !== 'git') continue;
      // A git source's identity is the commit its ref points to now, plus its issues side file.
      try {
        const { stdout } = await run('git', ['-C', s.path, 'rev-parse', `${s.ref}^{commit}`]);
        env[`source${i}.head`] = stdout.trim();
      } catch (e) {
        throw ApplicationFailure.create({
          type: INVALID_SPEC,
          nonRetryable: true,
          message: `mine.sources[${i}].path: cannot read ref ${JSON.stringify(s.ref)} of git repository ${s.path}: ${(e as Error).message.split('\n')[0]}`,
        });
      }
      if (s.issues_file) {
        try {
          env[`source${i}.issues`] = createHash('sha256')
            .update(await readFile(s.issues_file))
            .digest('hex');
        } catch {
          throw ApplicationFailure.create({
            type: INVALID_SPEC,
            nonRetryable: true,
            message: `mine.sources[${i}].issues_file: cannot read ${s.issues_file}`,
          });
        }
      }
    }
  }
  return env;
}

/** Creates the step-cache activities (the cross-run cache Temporal does not have). */
export function createCacheActivities(deps: { env: NodeJS.ProcessEnv }) {
  return {
    /** Computes a stage's cache key and returns a usable cached result unless the stage is forced. */
    async planStage(input: PlanStageInput): Promise<StagePlan> {
      const spec = parseInput(ExperimentSpec, input.spec, 'experiment spec');
      const store = openStore(spec.store, deps.env);
      const config = spec[input.stage];
      const key = stepCacheKey({
        stage: input.stage,
        version: STAGE_VERSIONS[input.stage],
        input: config,
        upstream: input.upstream,
        environment: await environmentOf(input.stage, spec),
      });
      const prefix = `experiments/${input.experimentId}/${input.stage}/${key.slice(0, 16)}`;
      const log = loggerFor({ experimentId: input.experimentId, stage: input.stage, activity: 'planStage' });
      if (spec.force.includes(input.stage)) {
        log.info({ key }, 'stage forced: cache bypassed');
        return { key, prefix, hit: null, missReason: 'forced' };
      }
      const r = await lookupStep(store, input.stage, key);
      if (!r.hit) {
        log.info({ key, reason: r.reason, missing: r.missing }, 'step cache miss');
        return { key, prefix, hit: null, missReason: r.reason };
      }
      log.info({ key, producer: r.entry.producer }, 'step cache hit');
      return { key, prefix, hit: { result: r.entry.result, producer: r.entry.producer }, missReason: null };
    },

    /** Records a completed stage so later runs with the same inputs reuse it. */
    async recordStage(input: {
      stage: StageName;
      key: string;
      store: StoreConfig;
      result: unknown;
      producer: Producer;
    }): Promise<ArtifactRef> {
      const store = openStore(parseInput(StoreConfig, input.store, 'store config'), deps.env);
      return recordStep(store, {
        key: input.key,
        stage: input.stage,
        version: STAGE_VERSIONS[input.stage],
        producer: input.producer,
        createdAt: new Date(Context.current().info.currentAttemptScheduledTimestampMs).toISOString(),
        artifacts: collectRefs(input.result),
        result: input.result,
      });
    },
  };
}
