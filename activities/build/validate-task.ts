import { execFileSync } from 'node:child_process';
import type Docker from 'dockerode';
import {
  InstallConfig,
  type BuildConfig,
  type BuildFailureReason,
  type BuildTaskOutcome,
  type RunLog,
  type TaskRecord,
  type TestStatusMap,
} from '../../contracts';
import { deriveTask, gradeRun, judgeLog, officialStatuses, officialTestStatuses, runTaskTests } from '../grading';
import { buildEnvImage, buildInstanceImage, ensureBaseImage, ImageBuildError } from './docker';
import { imageId } from './docker/build';
import type { RepoView } from './heuristics';
import { checkOfficialLists, describeMismatches, recordLists } from './official-lists';
import { CONDA_ACTIVATE, officialImageName } from './official-recipe';
import { resolveRecipe } from './recipe';
import { readSecret } from '../secrets';
import { proposeInstallConfig } from './setup-agent';

/** What {@link buildAndValidate} needs from its caller. */
export interface ValidateDeps {
  docker: Docker;
  bottegaHome: string;
  /** Called at each step (the activity heartbeats it). */
  progress: (step: string) => void;
  /** Stores a failure's log; returns its URI. */
  saveLog: (name: string, text: string) => Promise<string>;
  /** Where the setup agent's API key is read from (default: `process.env`). */
  env?: NodeJS.ProcessEnv;
  /**
   * The activity's cancellation: once aborted, the running test container is killed and removed,
   * no further one starts, and {@link buildAndValidate} rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /** Labels of every container the validation starts (e.g. `bottega.experiment`). */
  labels?: Record<string, string>;
}

/** One task to build and validate. */
export interface ValidateInput {
  task: TaskRecord;
  /** Local git repository holding the task's commits, or null when none is known. */
  repoPath: string | null;
  config: BuildConfig;
}

/** A read-only view of a repository at one commit, for the recipe heuristics. */
export function gitRepoView(repoPath: string, commit: string): RepoView {
  let files: string[] | null = null;
  return {
    listFiles() {
      files ??= execFileSync('git', ['-C', repoPath, 'ls-tree', '-r', '--name-only', commit], {
        encoding: 'utf8',
        maxBuffer: 256 << 20,
      })
        .split('\n')
        .filter(Boolean);
      return files;
    },
    readFile(path) {
      try {
        return execFileSync('git', ['-C', repoPath, 'show', `${commit}:${path}`], {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
          stdio: ['ignore', 'pipe', 'ignore'],
        });
      } catch {
        return null;
      }
    },
  };
}

/** Maps a grading verdict's reason to the build stage's failure reasons. */
function verdictReason(reason: string | null): BuildFailureReason {
  switch (reason) {
    case 'patch_apply_failed':
    case 'test_patch_apply_failed':
    case 'tests_timed_out':
      return reason;
    case 'no_tests_collected':
    case 'no_tests_ran':
      return 'no_tests_ran';
    default:
      return 'invalid_test_log';
  }
}

/** What the images-and-validation step shares between the first try and the agent's proposal. */
interface AttemptContext {
  task: TaskRecord;
  /** Null only when a prebuilt image is used (nothing is built). */
  repoPath: string | null;
  envCommit: string;
  config: BuildConfig;
  deps: ValidateDeps;
}

/** A failed outcome with nothing built yet; callers fill in the reason. */
export function emptyOutcome(task: Pick<TaskRecord, 'instance_id' | 'repo'>): BuildTaskOutcome {
  return {
    instance_id: task.instance_id,
    repo: task.repo,
    status: 'failed',
    reason: null,
    detail: null,
    FAIL_TO_PASS: [],
    PASS_TO_PASS: [],
    flaky: [],
    lists: null,
    list_mismatches: [],
    test_scope: null,
    image: null,
    recipe_source: null,
    install_config: null,
    built: { env: false, instance: false },
    log_uri: null,
  };
}

/**
 * Builds the task's images (base → environment → instance, each reused when its content-hash
 * tag exists) and validates it: the tests (scope `test_scope`: the files `test_patch` touches, or
 * the suite) run `validation_runs` times before and after the gold patch, each run in a fresh
 * container without network. A record's own FAIL_TO_PASS / PASS_TO_PASS are kept verbatim and
 * checked test by test (`official_lists_mismatch`: dropped, or kept flagged); a record without them
 * gets lists derived from runs that agree, keyed as swebench's parser keys them (flaky tests
 * excluded). Either way, swebench 5.0.2's grading must find every gold run resolved
 * (`gold_not_resolved` otherwise). Never throws for a task-level problem: the outcome carries the
 * reason (and a stored log).
 *
 * With `setup_agent.enabled`, a task without a recipe (`no_recipe`) or whose environment does not
 * install (`install_failed`) gets one more chance: the LLM setup agent proposes a recipe, which is
 * accepted only if the task then validates (`recipe_source: 'agent'`).
 */
export async function buildAndValidate(input: ValidateInput, deps: ValidateDeps): Promise<BuildTaskOutcome> {
  const { task, config } = input;
  const envCommit = task.environment_setup_commit ?? task.base_commit;
  const recipeArgs = {
    task,
    recipes: config.recipes,
    official: config.official_recipes,
    network: config.pip_index_url !== undefined,
  };

  if (config.official_images) {
    deps.progress('official image');
    const name = prebuiltImageName(task);
    const id = await imageId(deps.docker, name);
    if (id) {
      const recipe = resolveRecipe({
        ...recipeArgs,
        ...(input.repoPath ? { repo: gitRepoView(input.repoPath, envCommit) } : {}),
      });
      // A recipe refused for building (e.g. conda-only) still tells how to test in the prebuilt image.
      const cfg = recipe.config ?? recipe.official?.config;
      if (cfg) {
        const source = recipe.config ? recipe.source : 'official';
        const ctx: AttemptContext = { task, repoPath: input.repoPath, envCommit, config, deps };
        const inConda = { ...cfg, test_cmd: `${CONDA_ACTIVATE}\n${cfg.test_cmd}` };
        return validateWith(ctx, inConda, source, '', { tag: name, id });
      }
    }
  }

  if (!input.repoPath) {
    return {
      ...emptyOutcome(task),
      reason: 'repo_unavailable',
      detail: `no local repository for ${task.repo}: add it to build.repo_paths`,
    };
  }
  const repoPath = input.repoPath;
  const ctx: AttemptContext = { task, repoPath, envCommit, config, deps };

  deps.progress('recipe');
  const recipe = resolveRecipe({ ...recipeArgs, repo: gitRepoView(repoPath, envCommit) });
  if (!recipe.config) {
    const outcome = emptyOutcome(task);
    outcome.reason = 'no_recipe';
    outcome.detail = recipe.reason;
    if (recipe.notes.length > 0) {
      outcome.log_uri = await deps.saveLog(`${task.instance_id}.no_recipe.log`, recipe.notes.join('\n'));
    }
    if (!config.setup_agent.enabled) return outcome;
    return retryWithSetupAgent(ctx, outcome, { python: null, notes: [recipe.reason, ...recipe.notes] });
  }
  const outcome = await validateWith(ctx, recipe.config, recipe.source, '');
  if (!config.setup_agent.enabled || outcome.reason !== 'install_failed') return outcome;
  return retryWithSetupAgent(ctx, outcome, {
    python: recipe.config.python,
    notes: [
      `the ${recipe.source} recipe ${JSON.stringify(recipe.config)} failed to install: ${outcome.detail ?? ''}`,
      ...recipe.notes,
    ],
  });
}

/**
 * The agent's second chance: asks the setup agent for a recipe and validates it. Returns the
 * validated outcome (`recipe_source: 'agent'`) or `failed` — the original failure, its detail
 * extended with what the agent tried (its transcript is stored as a log).
 */
async function retryWithSetupAgent(
  ctx: AttemptContext,
  failed: BuildTaskOutcome,
  hint: { python: string | null; notes: string[] }
): Promise<BuildTaskOutcome> {
  const { task, config, deps } = ctx;
  const repoPath = ctx.repoPath;
  if (repoPath === null) return failed;
  const agent = config.setup_agent;
  const env = deps.env ?? process.env;
  let tried: string;
  let transcript: unknown[] = [];
  try {
    const python = hint.python ?? InstallConfig.shape.python.parse(undefined);
    deps.progress('setup agent: base image');
    const baseTag = await ensureBaseImage(deps.docker, python, { bottegaHome: deps.bottegaHome });
    const proposal = await proposeInstallConfig({
      docker: deps.docker,
      baseTag,
      python,
      repo: task.repo,
      repoPath,
      envCommit: ctx.envCommit,
      task: { instance_id: task.instance_id, repo: task.repo, problem_statement: task.problem_statement },
      agent,
      apiKey: readSecret(env, agent.api_key_env),
      wheelhouse: config.wheelhouse,
      notes: hint.notes,
      limits: { cpus: config.limits.cpus, memoryMb: config.limits.memory_mb, pids: config.limits.pids },
      commandTimeoutMs: Math.min(config.build_timeout_s, 600) * 1000,
      onStep: (_step, what) => deps.progress(what),
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(deps.labels ? { labels: deps.labels } : {}),
    });
    transcript = proposal.transcript;
    if (proposal.config) {
      const outcome = await validateWith(ctx, proposal.config, 'agent', 'agent.');
      if (outcome.status === 'validated') return outcome;
      tried = `its proposal (after ${proposal.steps} steps) did not validate: ${outcome.reason}: ${outcome.detail ?? ''}`;
    } else {
      tried = `no proposal after ${proposal.steps} steps (${proposal.reason}${proposal.detail ? `: ${proposal.detail}` : ''})`;
    }
  } catch (err) {
    if (!(err instanceof ImageBuildError)) throw err;
    tried = `could not start: ${err.message}`;
  }
  const uri = await deps.saveLog(`${task.instance_id}.setup-agent.json`, JSON.stringify(transcript, null, 2));
  return { ...failed, detail: `${failed.detail ?? ''}; setup agent: ${tried} (transcript: ${uri})` };
}

/**
 * The prebuilt SWE-bench image a record names (`image`, as swebench 5 datasets carry it), else
 * the name swebench derives from the instance id.
 */
export function prebuiltImageName(task: TaskRecord): string {
  const named = (task as { image?: unknown }).image;
  return typeof named === 'string' && named.trim() !== '' ? named.trim() : officialImageName(task.instance_id);
}

/**
 * Builds the images for `cfg` (or takes `prebuilt` as is) and runs the validation; logs of a
 * failure are stored as `<id>.<prefix><reason>.log`.
 */
async function validateWith(
  ctx: AttemptContext,
  cfg: InstallConfig,
  source: NonNullable<BuildTaskOutcome['recipe_source']>,
  logPrefix: string,
  prebuilt?: { tag: string; id: string }
): Promise<BuildTaskOutcome> {
  const { task, config, deps } = ctx;
  const outcome = emptyOutcome(task);
  outcome.recipe_source = source;
  outcome.install_config = cfg;
  const fail = async (reason: BuildFailureReason, detail: string, log?: string): Promise<BuildTaskOutcome> => {
    outcome.reason = reason;
    outcome.detail = detail;
    if (log) outcome.log_uri = await deps.saveLog(`${task.instance_id}.${logPrefix}${reason}.log`, log);
    return outcome;
  };

  let imageTag: string;
  if (prebuilt) {
    outcome.image = prebuilt;
    imageTag = prebuilt.tag;
  } else {
    const built = await buildImages(ctx, cfg, outcome);
    if (built.failed) return fail(built.failed.reason, built.failed.detail, built.failed.log);
    imageTag = built.tag;
  }

  outcome.test_scope = config.test_scope;
  const before: TestStatusMap[] = [];
  const after: TestStatusMap[] = [];
  const officialBefore: Record<string, string>[] = [];
  const goldRuns: RunLog[] = [];
  for (let run = 1; run <= config.validation_runs; run++) {
    for (const withGold of [false, true]) {
      deps.progress(`validation run ${run}/${config.validation_runs} ${withGold ? 'after' : 'before'} the gold patch`);
      const r = await runTaskTests(deps.docker, {
        image: imageTag,
        task,
        config: cfg,
        scope: config.test_scope,
        patch: withGold ? task.patch : null,
        timeoutMs: config.test_timeout_s * 1000,
        limits: { cpus: config.limits.cpus, memoryMb: config.limits.memory_mb, pids: config.limits.pids },
        env: { BOTTEGA_VALIDATION_RUN: String(run) },
        ...(deps.signal ? { signal: deps.signal } : {}),
        ...(deps.labels ? { labels: deps.labels } : {}),
      });
      const verdict = judgeLog(cfg.log_parser, r);
      if (!verdict.valid) {
        const phase = withGold ? 'after' : 'before';
        return fail(verdictReason(verdict.reason), `${verdict.reason} (run ${run}, ${phase} the gold patch)`, r.output);
      }
      // Keyed as swebench's parser keys them, so the derived lists are what official grading looks up.
      (withGold ? after : before).push(officialTestStatuses(cfg.log_parser, r));
      if (withGold) goldRuns.push(r);
      else officialBefore.push(officialStatuses(cfg.log_parser, r.output));
    }
  }
  const derived = deriveTask(before, after);
  outcome.flaky = derived.flaky;
  const own = recordLists(task);
  if (own) {
    // The record's lists are authoritative: kept byte for byte, checked, never rewritten.
    outcome.lists = 'official';
    outcome.FAIL_TO_PASS = own.FAIL_TO_PASS;
    outcome.PASS_TO_PASS = own.PASS_TO_PASS;
    const afterMaps = goldRuns.map((r) => officialStatuses(cfg.log_parser, r.output));
    outcome.list_mismatches = checkOfficialLists(own, officialBefore, afterMaps);
  } else {
    outcome.lists = 'derived';
    outcome.FAIL_TO_PASS = derived.FAIL_TO_PASS;
    outcome.PASS_TO_PASS = derived.PASS_TO_PASS;
  }
  if (outcome.FAIL_TO_PASS.length === 0) {
    return fail(
      'no_fail_to_pass',
      own ? "the record's FAIL_TO_PASS is empty" : 'no test fails before and passes after the gold patch in every run'
    );
  }
  const mismatches = outcome.list_mismatches;
  if (mismatches.length > 0 && config.official_lists_mismatch === 'drop') {
    const tests = new Set(mismatches.map((m) => `${m.list}\0${m.test}`)).size;
    const detail = `the record's lists do not hold for ${tests} test(s): ${describeMismatches(mismatches)}`;
    return fail('official_lists_mismatch', detail, goldRuns.at(-1)?.output);
  }
  // The lists must make swebench 5.0.2 grade the gold patch resolved on every run (get_logs_eval's
  // checks included); a mismatch kept flagged is exempt, since it is already reported per test.
  if (mismatches.length === 0) {
    for (const [i, r] of goldRuns.entries()) {
      const { report, official } = gradeRun({
        task: outcome,
        patch: task.patch,
        applied: true,
        log: r,
        parser: cfg.log_parser,
      });
      if (!report.resolved) {
        const why = official.found
          ? `FAIL_TO_PASS failing: ${JSON.stringify(report.tests_status.FAIL_TO_PASS.failure)}, PASS_TO_PASS failing: ${JSON.stringify(report.tests_status.PASS_TO_PASS.failure)}`
          : `get_logs_eval rejects the log (${official.reason ?? 'not found'})`;
        return fail(
          'gold_not_resolved',
          `swebench 5.0.2 would not resolve the gold patch (run ${i + 1}): ${why}`,
          r.output
        );
      }
    }
  }
  outcome.status = 'validated';
  return outcome;
}

/** Builds base → env → instance for `cfg`, recording in `outcome` what was built; a build failure is returned. */
async function buildImages(
  ctx: AttemptContext,
  cfg: InstallConfig,
  outcome: BuildTaskOutcome
): Promise<
  { tag: string; failed?: undefined } | { failed: { reason: BuildFailureReason; detail: string; log: string } }
> {
  const { task, config, deps, envCommit, repoPath } = ctx;
  if (repoPath === null) throw new Error(`no repository to build ${task.instance_id} from`);
  try {
    deps.progress('base image');
    const baseTag = await ensureBaseImage(deps.docker, cfg.python, { bottegaHome: deps.bottegaHome });
    deps.progress('environment image');
    const env = await buildEnvImage(deps.docker, {
      baseTag,
      repo: task.repo,
      repoPath,
      envCommit,
      config: cfg,
      ...(config.wheelhouse ? { wheelhouse: config.wheelhouse } : {}),
      ...(config.pip_index_url ? { pipIndexUrl: config.pip_index_url } : {}),
      // Untrusted install scripts get a network only when the spec names a package mirror.
      network: config.pip_index_url !== undefined,
      timeoutMs: config.build_timeout_s * 1000,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    outcome.built.env = !env.cached;
    deps.progress('instance image');
    const inst = await buildInstanceImage(deps.docker, {
      envTag: env.tag,
      repo: task.repo,
      repoPath,
      baseCommit: task.base_commit,
      instanceId: task.instance_id,
      envCommit,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    outcome.built.instance = !inst.cached;
    outcome.image = { tag: inst.tag, id: inst.id };
    return { tag: inst.tag };
  } catch (e) {
    if (e instanceof ImageBuildError) {
      const reason: BuildFailureReason =
        e.reason === 'install_failed' || e.reason === 'base_missing' || e.reason === 'history_leak'
          ? e.reason
          : 'image_failed';
      return { failed: { reason, detail: e.message, log: e.log || e.message } };
    }
    throw e;
  }
}
