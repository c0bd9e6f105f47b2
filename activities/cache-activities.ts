import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  ArtifactRef,
  ExperimentSpec,
  Producer,
  StoreConfig,
  parseInput,
  INVALID_SPEC,
  evaluationsOf,
  type StageName,
} from '../contracts';
import { loggerFor } from './logger';
import { ENHANCE_PROMPT_VERSION } from './mine/enhance';
import { pullRefsDigest } from './mine/git-source';
import { getTokenizer } from './mine/tokenizer';
import { directoryDigest } from './build/docker';
import { withHeartbeats } from './heartbeat';
import { openStore } from './store/artifact-store';
import { sweepLeftovers } from './store/leftovers';
import { collectRefs, lookupStep, recordStep, stepCacheKey } from './store/step-cache';
import { checkStageInputs, type StageInputRef } from './store/upstream-check';
import { describeProblem, type ArtifactProblem } from './store/verify';

const run = promisify(execFile);

/**
 * Code version of each stage. Bump it whenever a stage's output changes meaning for the same
 * input: the step cache then misses instead of serving stale results.
 */
export const STAGE_VERSIONS: Record<StageName, string> = {
  mine: '2',
  build: '1',
  rollout: '1',
  mix: '1',
  train: '2',
  evaluate: '1',
};

/** sha256 of a local input file; URIs of other stores are keyed by their text (immutable by convention). */
async function inputFileSha(pathOrUri: string, where: string): Promise<string> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUri) && !pathOrUri.startsWith('file://')) return `uri:${pathOrUri}`;
  const path = pathOrUri.startsWith('file://') ? fileURLToPath(pathOrUri) : pathOrUri;
  return fileSha(path, where);
}

/** Input of {@link createCacheActivities}' planStage. */
export interface PlanStageInput {
  experimentId: string;
  stage: StageName;
  spec: ExperimentSpec;
  upstream: ArtifactRef[];
  /**
   * The upstream artifacts this stage reads, by producing stage: verified (size and sha256) before
   * the stage runs. Absent in histories of older workflow code: nothing is verified then.
   */
  inputs?: StageInputRef[];
  /**
   * Inputs of the stage that are neither its config nor an upstream artifact (the build stage's
   * local repositories from the mine stage's git sources): part of the key. Absent in chain runs.
   */
  keyExtra?: Record<string, unknown>;
  /** The graph node planned (`evaluate.<name>` for a named evaluation; else the stage): for `bottega retry`. */
  node?: string;
}

/** The plan for a stage: its cache key, where to write, and a cached result when one is usable. */
export interface StagePlan {
  key: string;
  /** Key prefix under which this stage's outputs go. */
  prefix: string;
  hit: { result: unknown; producer: Producer } | null;
  /** Why the cache was not used, when it was not. */
  missReason: string | null;
  /** Crash leftovers (temp files, incomplete uploads) swept from under `prefix` while planning. */
  swept?: { files: number; bytes: number };
}

/**
 * A temp file modified within this long before planning may belong to a writer still alive (a
 * zombie of an earlier run): it is left alone. Crashed writers' files are older.
 */
export const LEFTOVER_GRACE_MS = 60_000;

/** A non-retryable InvalidSpec failure naming the spec path at fault. */
const invalid = (message: string) => ApplicationFailure.create({ type: INVALID_SPEC, nonRetryable: true, message });

/** The commit `ref` of the repository at `path` points to now (the identity of a git input). */
async function gitHead(path: string, ref: string, where: string): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', path, 'rev-parse', `${ref}^{commit}`]);
    return stdout.trim();
  } catch (e) {
    throw invalid(
      `${where}: cannot read ref ${JSON.stringify(ref)} of git repository ${path}: ${(e as Error).message.split('\n')[0]}`
    );
  }
}

/** sha256 of a file's bytes (the identity of a file input). */
async function fileSha(path: string, where: string): Promise<string> {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  } catch {
    throw invalid(`${where}: cannot read ${path}`);
  }
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
      env[`source${i}.head`] = await gitHead(s.path, s.ref, `mine.sources[${i}].path`);
      if (s.issues_file) env[`source${i}.issues`] = await fileSha(s.issues_file, `mine.sources[${i}].issues_file`);
      if (s.prs_file) env[`source${i}.prs`] = await fileSha(s.prs_file, `mine.sources[${i}].prs_file`);
      env[`source${i}.pulls`] = await pullRefsDigest(s.path);
    }
  }
  if (stage === 'build' && spec.build) {
    const b = spec.build;
    for (const [i, f] of b.tasks.files.entries()) env[`tasks${i}`] = await fileSha(f, `build.tasks.files[${i}]`);
    for (const [repo, path] of Object.entries(b.repo_paths)) {
      env[`repo.${repo}`] = await gitHead(path, 'HEAD', `build.repo_paths.${repo}`);
    }
    if (b.wheelhouse) env.wheelhouse = await directoryDigest(b.wheelhouse);
  }
  if (stage === 'mix' && spec.mix) {
    const m = spec.mix;
    env.tokenizer = (await getTokenizer(m.tokenizer)).fingerprint;
    for (const [i, s] of m.sources.entries())
      if (s.path) env[`source.${s.name}`] = await inputFileSha(s.path, `mix.sources[${i}].path`);
    for (const [i, b] of m.decontaminate.benchmarks.entries())
      env[`benchmark.${b.name}`] = await inputFileSha(b.path, `mix.decontaminate.benchmarks[${i}].path`);
  }
  // (the experiment workflow plans each named evaluation with a spec holding only that one)
  for (const ev of stage === 'evaluate' ? evaluationsOf(spec.evaluate) : [])
    if ('path' in ev.config.tasks)
      env[ev.name === null ? 'tasks' : `tasks.${ev.name}`] = await inputFileSha(
        ev.config.tasks.path,
        `${ev.path}.tasks.path`
      );
  if (stage === 'train' && spec.train?.framework.type === 'reference' && !spec.train.framework.script) {
    // The bundled trainer's code is part of what a checkpoint depends on.
    // (Its top-level sources only: __pycache__ and tests do not change what it computes.)
    const dir = fileURLToPath(new URL('../infra/trainer/', import.meta.url));
    const files = (await readdir(dir)).filter((f) => /\.(py|txt|sh)$/.test(f)).sort();
    const h = createHash('sha256');
    for (const f of files) h.update(`${f}\0${await fileSha(join(dir, f), 'infra/trainer')}\n`);
    env.trainer = h.digest('hex');
  }
  return env;
}

/**
 * planStage's work: sweeps crash leftovers from the stage's output prefix, computes the cache key,
 * and returns a cached result when every artifact it references still has its recorded sha256 (a
 * mismatch is a miss: the stage reruns and rewrites it). Before a stage runs, the upstream
 * artifacts it reads are verified the same way; a missing or altered one fails here.
 */
async function planStageWork(
  input: PlanStageInput,
  env: NodeJS.ProcessEnv,
  progress: (details: Record<string, unknown>) => void
): Promise<StagePlan> {
  const started = Date.now();
  const spec = parseInput(ExperimentSpec, input.spec, 'experiment spec');
  const store = openStore(spec.store, env);
  const config = spec[input.stage];
  const key = stepCacheKey({
    stage: input.stage,
    version: STAGE_VERSIONS[input.stage],
    input: input.keyExtra ? { config, ...input.keyExtra } : config,
    upstream: input.upstream,
    environment: await environmentOf(input.stage, spec),
  });
  const prefix = `experiments/${input.experimentId}/${input.stage}/${key.slice(0, 16)}`;
  const log = loggerFor({ experimentId: input.experimentId, stage: input.stage, activity: 'planStage' });

  // What killed writers of earlier runs left under this prefix (never a live writer's fresh file).
  progress({ step: 'sweep', prefix });
  const swept = { files: 0, bytes: 0 };
  try {
    const sweep = await sweepLeftovers(store, `${prefix}/`, new Date(started - LEFTOVER_GRACE_MS));
    Object.assign(swept, { files: sweep.removed, bytes: sweep.bytes });
    if (sweep.found.length > 0)
      log.info(
        { prefix, ...swept, keys: sweep.found.map((l) => l.key), failed: sweep.failed },
        `swept ${swept.files} crash leftover(s) (${swept.bytes} bytes) under ${prefix}`
      );
    for (const f of sweep.failed) log.warn({ prefix, ...f }, `could not remove leftover ${f.key}: ${f.error}`);
  } catch (e) {
    // Housekeeping never fails planning (e.g. S3 credentials without ListBucketMultipartUploads).
    log.warn(
      { prefix, error: (e as Error).message },
      `could not sweep crash leftovers under ${prefix}: ${(e as Error).message}`
    );
  }

  const onProgress = (step: string) => (hashedBytes: number) => progress({ step, hashedBytes });
  const runPlan = async (missReason: string): Promise<StagePlan> => {
    const inputs = input.inputs ?? [];
    const v = await checkStageInputs(store, input.stage, inputs, { onProgress: onProgress('verify inputs') });
    log.info({ inputs: inputs.length, checked: v.checked, hashedBytes: v.hashedBytes }, 'upstream artifacts verified');
    return { key, prefix, hit: null, missReason, swept };
  };
  if (spec.force.includes(input.stage)) {
    log.info({ key }, 'stage forced: cache bypassed');
    return runPlan('forced');
  }
  const r = await lookupStep(store, input.stage, key, { onProgress: onProgress('verify cache') });
  if (!r.hit) {
    if (r.reason === 'artifact_corrupt' && r.problem) {
      const p = r.problem;
      log.warn(
        { key, reason: r.reason, artifact: p.key, uri: p.uri, ...problemFields(p) },
        `step cache: cached ${describeProblem(p)}: treating it as a cache miss; the ${input.stage} stage reruns and rewrites it`
      );
    } else log.info({ key, reason: r.reason, missing: r.missing }, 'step cache miss');
    return runPlan(r.reason);
  }
  log.info({ key, producer: r.entry.producer }, 'step cache hit');
  return { key, prefix, hit: { result: r.entry.result, producer: r.entry.producer }, missReason: null, swept };
}

/** Expected and actual values of a problem, as log fields. */
function problemFields(p: ArtifactProblem): Record<string, unknown> {
  if (p.kind === 'sha256') return { expected: p.expected, actual: p.actual };
  if (p.kind === 'size') return { expectedBytes: p.expectedBytes, actualBytes: p.actualBytes };
  return {};
}

/** Creates the step-cache activities (the cross-run cache Temporal does not have). */
export function createCacheActivities(deps: { env: NodeJS.ProcessEnv }) {
  return {
    /** Computes a stage's cache key and returns a usable cached result unless the stage is forced. */
    async planStage(input: PlanStageInput): Promise<StagePlan> {
      let details: Record<string, unknown> = { step: 'key' };
      // Verifying large artifacts takes a while (about 1 s per GB on local disk): keep heartbeating.
      return withHeartbeats(
        () => details,
        planStageWork(input, deps.env, (d) => (details = d)),
        5000
      );
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
