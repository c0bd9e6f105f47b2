import { readFile } from 'node:fs/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import Docker from 'dockerode';
import {
  ArtifactRef,
  BuildConfig,
  BuildStageResult,
  BuildTaskOutcome,
  StoreConfig,
  TaskRecord,
  INVALID_SPEC,
  parseInput,
  type BuildSummary,
} from '../../contracts';
import { withHeartbeats } from '../heartbeat';
import { loggerFor } from '../logger';
import { openStore } from '../store/artifact-store';
import { parseTaskJsonl } from './task-io';
import { pruneImages } from './docker';
import { buildAndValidate, emptyOutcome } from './validate-task';

/** Dependencies of the build activities. */
export interface BuildDeps {
  env: NodeJS.ProcessEnv;
  /** State directory (base-image rootfs cache). */
  bottegaHome: string;
  /** Docker client; defaults to the local engine (DOCKER_HOST or /var/run/docker.sock). */
  docker?: Docker;
}

/** One line of `candidates.jsonl`: a task to build, or a record that could not be read. */
interface Candidate {
  index: number;
  task: TaskRecord | null;
  /** Set for unreadable records: `file:line: field: problem`. */
  invalid: string | null;
  instance_id: string;
  repo: string;
  repoPath: string | null;
}

/** Common input of the build activities. */
export interface BuildStepInput {
  experimentId: string;
  config: BuildConfig;
  store: StoreConfig;
  prefix: string;
}

/** How long a cancelled task gets to kill and remove its containers before the cancellation is reported. */
const CANCEL_SETTLE_MS = 15_000;

const outcomeKey = (prefix: string, index: number) => `${prefix}/outcomes/${String(index).padStart(6, '0')}.json`;

/** Reasons that mean the images never got built (funnel accounting). */
const PRE_BUILD = new Set([
  'invalid_record',
  'no_recipe',
  'repo_unavailable',
  'base_missing',
  'install_failed',
  'image_failed',
  'history_leak',
]);
const PRE_VALIDATED = new Set([
  'patch_apply_failed',
  'test_patch_apply_failed',
  'tests_timed_out',
  'no_tests_ran',
  'invalid_test_log',
]);

/** Creates the build stage's activities. `buildTask` needs a Docker engine (docker task queue). */
export function createBuildActivities(deps: BuildDeps) {
  const docker = () => (deps.docker ??= new Docker());
  /** Removes least-recently-used images over the disk budget, keeping this run's validated tasks' images. */
  async function pruneToBudget(
    raw: BuildStepInput & { count: number }
  ): Promise<{ pruned: number; freedBytes: number }> {
    const config = parseInput(BuildConfig, raw.config, 'build config');
    const store = openStore(parseInput(StoreConfig, raw.store, 'store config'), deps.env);
    const keep: string[] = [];
    for (let i = 0; i < raw.count; i++) {
      const o = BuildTaskOutcome.parse(
        JSON.parse((await store.get(store.uriFor(outcomeKey(raw.prefix, i)))).toString('utf8'))
      );
      if (o.image) keep.push(o.image.tag, o.image.id);
    }
    const r = await pruneImages(docker(), { budgetBytes: config.disk_budget_gb * 1e9, inUse: keep });
    if (r.removed.length) {
      loggerFor({ experimentId: raw.experimentId, stage: 'build', activity: 'enforceDiskBudget' }).info(
        { removed: r.removed.map((i) => i.tag), freedBytes: r.beforeBytes - r.afterBytes },
        'images pruned to the disk budget'
      );
    }
    return { pruned: r.removed.length, freedBytes: r.beforeBytes - r.afterBytes };
  }

  return {
    /**
     * Gathers the task candidates (from the mine stage's `tasks.jsonl` and the spec's JSONL files),
     * validates each record and writes `candidates.jsonl`. Unreadable records become failed
     * candidates with their problem, so nothing is dropped silently.
     */
    async prepareBuild(
      raw: BuildStepInput & { mineTasks: ArtifactRef | null; repoPaths: Record<string, string> }
    ): Promise<{ count: number; candidates: ArtifactRef }> {
      const config = parseInput(BuildConfig, raw.config, 'build config');
      const store = openStore(parseInput(StoreConfig, raw.store, 'store config'), deps.env);
      const sources: { name: string; text: string }[] = [];
      if (config.tasks.from_mine) {
        if (!raw.mineTasks) {
          throw ApplicationFailure.create({
            type: INVALID_SPEC,
            nonRetryable: true,
            message:
              'build.tasks.from_mine: the experiment has no mine stage producing task candidates (add `mine` with task_candidates: true, or list task files)',
          });
        }
        sources.push({ name: 'mine:tasks.jsonl', text: (await store.get(raw.mineTasks.uri)).toString('utf8') });
      }
      for (const file of config.tasks.files) sources.push({ name: file, text: await readFile(file, 'utf8') });
      const candidates: Candidate[] = [];
      for (const src of sources) {
        const parsed = parseTaskJsonl(src.text, src.name);
        for (const p of parsed.problems) {
          candidates.push({
            index: candidates.length,
            task: null,
            invalid: `${p.file}:${p.line}: ${p.path ? `${p.path}: ` : ''}${p.message}`,
            instance_id: `${src.name}:${p.line}`,
            repo: '',
            repoPath: null,
          });
        }
        for (const task of parsed.records) {
          candidates.push({
            index: candidates.length,
            task,
            invalid: null,
            instance_id: task.instance_id,
            repo: task.repo,
            repoPath: raw.repoPaths[task.repo] ?? config.repo_paths[task.repo] ?? null,
          });
        }
      }
      const body = candidates.map((c) => JSON.stringify(c)).join('\n');
      const ref = await store.put(`${raw.prefix}/candidates.jsonl`, body ? `${body}\n` : '');
      loggerFor({ experimentId: raw.experimentId, stage: 'build', activity: 'prepareBuild' }).info(
        { candidates: candidates.length },
        'build candidates gathered'
      );
      return { count: candidates.length, candidates: ref };
    },

    /**
     * Builds and validates candidate `index`, heartbeating each step. Images are content-addressed,
     * so a retry after a crash reuses every image already built. Writes the task's outcome.
     */
    async buildTask(
      raw: BuildStepInput & { candidates: ArtifactRef; index: number }
    ): Promise<{ status: BuildTaskOutcome['status']; reason: string | null }> {
      const config = parseInput(BuildConfig, raw.config, 'build config');
      const store = openStore(parseInput(StoreConfig, raw.store, 'store config'), deps.env);
      const lines = (await store.get(raw.candidates.uri)).toString('utf8').split('\n');
      const c = JSON.parse(lines[raw.index] ?? 'null') as Candidate | null;
      if (!c) throw new Error(`candidate ${raw.index} missing from ${raw.candidates.uri}`);
      const log = loggerFor({
        experimentId: raw.experimentId,
        stage: 'build',
        activity: 'buildTask',
        task: c.instance_id,
      });
      let step = 'start';
      let outcome: BuildTaskOutcome;
      if (!c.task) {
        outcome = { ...emptyOutcome(c), reason: 'invalid_record', detail: c.invalid };
      } else {
        const work = buildAndValidate(
          { task: c.task, repoPath: c.repoPath, config },
          {
            docker: docker(),
            bottegaHome: deps.bottegaHome,
            // Cancellation (workflow cancel, worker shutdown) kills and removes the task's containers.
            signal: Context.current().cancellationSignal,
            labels: { 'bottega.experiment': raw.experimentId, 'bottega.instance': c.instance_id },
            progress: (s) => {
              step = s;
              log.debug({ step: s }, 'build step');
            },
            saveLog: async (name, text) => (await store.put(`${raw.prefix}/logs/${name}`, text, { records: null })).uri,
          }
        );
        outcome = await withHeartbeats(() => ({ task: c.instance_id, step }), work, 5000, CANCEL_SETTLE_MS);
      }
      await store.put(outcomeKey(raw.prefix, raw.index), JSON.stringify(outcome) + '\n', { records: null });
      log.info({ status: outcome.status, reason: outcome.reason, built: outcome.built }, 'task built');
      Context.current().heartbeat({ task: c.instance_id, step: 'done' });
      return { status: outcome.status, reason: outcome.reason };
    },

    /**
     * Keeps the images bottega holds within `disk_budget_gb`: removes least-recently-used
     * environment and instance images, never one of this run's validated tasks or one in use.
     */
    async enforceDiskBudget(raw: BuildStepInput & { count: number }): Promise<{ pruned: number; freedBytes: number }> {
      // Heartbeats like buildTask: it shares that proxy's 30 s heartbeat timeout, and a prune of many images
      // can take longer than that.
      return withHeartbeats(() => ({ step: 'enforceDiskBudget' }), pruneToBudget(raw));
    },

    /** Collects the outcomes into the validated task set, the outcome list and the funnel summary. */
    async finalizeBuild(
      raw: BuildStepInput & { candidates: ArtifactRef; count: number; pruned: number }
    ): Promise<BuildStageResult> {
      const store = openStore(parseInput(StoreConfig, raw.store, 'store config'), deps.env);
      const candidates = (await store.get(raw.candidates.uri))
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Candidate);
      const summary: BuildSummary = {
        candidates: raw.count,
        built: 0,
        validated: 0,
        kept: 0,
        failed: {},
        flaky_tests: 0,
        lists: { official: 0, derived: 0, mismatched: 0 },
        images_built: { env: 0, instance: 0 },
        images_pruned: raw.pruned,
      };
      const outcomes: string[] = [];
      const validated: string[] = [];
      for (let i = 0; i < raw.count; i++) {
        const o = BuildTaskOutcome.parse(
          JSON.parse((await store.get(store.uriFor(outcomeKey(raw.prefix, i)))).toString('utf8'))
        );
        outcomes.push(JSON.stringify(o));
        if (o.built.env) summary.images_built.env++;
        if (o.built.instance) summary.images_built.instance++;
        summary.flaky_tests += o.flaky.length;
        if (o.list_mismatches.length > 0) summary.lists.mismatched++;
        if (o.reason) summary.failed[o.reason] = (summary.failed[o.reason] ?? 0) + 1;
        if (!o.reason || !PRE_BUILD.has(o.reason)) summary.built++;
        if (!o.reason || !(PRE_BUILD.has(o.reason) || PRE_VALIDATED.has(o.reason))) summary.validated++;
        if (o.status === 'validated') {
          summary.kept++;
          if (o.lists) summary.lists[o.lists]++;
          const task = candidates[i]?.task;
          validated.push(
            JSON.stringify({
              ...task,
              // A record's own lists come back verbatim (validation never rewrites them).
              FAIL_TO_PASS: o.FAIL_TO_PASS,
              PASS_TO_PASS: o.PASS_TO_PASS,
              image: o.image,
              install_config: o.install_config,
              // Rollout grading and evaluation run the tests the lists were validated with.
              test_scope: o.test_scope ?? 'suite',
              bottega: {
                flaky: o.flaky,
                recipe_source: o.recipe_source,
                lists: o.lists,
                ...(o.list_mismatches.length > 0 ? { official_lists_mismatch: o.list_mismatches } : {}),
              },
            })
          );
        }
      }
      const lines = (xs: string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
      const result = {
        summary,
        artifacts: {
          tasks: await store.put(`${raw.prefix}/tasks.validated.jsonl`, lines(validated)),
          outcomes: await store.put(`${raw.prefix}/outcomes.jsonl`, lines(outcomes)),
          summary: await store.put(`${raw.prefix}/summary.json`, JSON.stringify(summary, null, 2) + '\n', {
            records: null,
          }),
        },
      };
      return BuildStageResult.parse(result);
    },
  };
}
