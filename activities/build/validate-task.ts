import { execFileSync } from 'node:child_process';
import type Docker from 'dockerode';
import type {
  BuildConfig,
  BuildFailureReason,
  BuildTaskOutcome,
  InstallConfig,
  TaskRecord,
  TestStatusMap,
} from '../../contracts';
import { buildApplyPatchScript, buildEvalScript, deriveTask, judgeLog } from '../grading';
import { buildEnvImage, buildInstanceImage, ensureBaseImage, ImageBuildError, runInContainer } from './docker';
import type { RepoView } from './heuristics';
import { resolveRecipe } from './recipe';

/** What {@link buildAndValidate} needs from its caller. */
export interface ValidateDeps {
  docker: Docker;
  bottegaHome: string;
  /** Called at each step (the activity heartbeats it). */
  progress: (step: string) => void;
  /** Stores a failure's log; returns its URI. */
  saveLog: (name: string, text: string) => Promise<string>;
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

/** A shell line that writes `content` to `path` without quoting hazards (base64). */
const writeFileLine = (path: string, content: string) =>
  `echo '${Buffer.from(content, 'utf8').toString('base64')}' | base64 -d > ${path}`;

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

/**
 * Builds the task's images (base → environment → instance, each reused when its content-hash
 * tag exists) and validates it: the tests run `validation_runs` times before and after the gold
 * patch, each run in a fresh container without network. FAIL_TO_PASS and PASS_TO_PASS come from
 * runs that agree; tests whose status changes between runs are flaky and excluded. Never throws
 * for a task-level problem: the outcome carries the reason (and a stored log).
 */
export async function buildAndValidate(input: ValidateInput, deps: ValidateDeps): Promise<BuildTaskOutcome> {
  const { task, config } = input;
  const outcome: BuildTaskOutcome = {
    instance_id: task.instance_id,
    repo: task.repo,
    status: 'failed',
    reason: null,
    detail: null,
    FAIL_TO_PASS: [],
    PASS_TO_PASS: [],
    flaky: [],
    image: null,
    recipe_source: null,
    install_config: null,
    built: { env: false, instance: false },
    log_uri: null,
  };
  const fail = async (reason: BuildFailureReason, detail: string, log?: string): Promise<BuildTaskOutcome> => {
    outcome.reason = reason;
    outcome.detail = detail;
    if (log) outcome.log_uri = await deps.saveLog(`${task.instance_id}.${reason}.log`, log);
    return outcome;
  };
  if (!input.repoPath) {
    return fail('repo_unavailable', `no local repository for ${task.repo}: add it to build.repo_paths`);
  }
  const envCommit = task.environment_setup_commit ?? task.base_commit;

  deps.progress('recipe');
  const recipe = resolveRecipe({ task, recipes: config.recipes, repo: gitRepoView(input.repoPath, envCommit) });
  if (!recipe.config) return fail('no_recipe', recipe.reason, recipe.notes.join('\n'));
  outcome.recipe_source = recipe.source;
  outcome.install_config = recipe.config;
  const cfg: InstallConfig = recipe.config;

  let imageTag: string;
  try {
    deps.progress('base image');
    const baseTag = await ensureBaseImage(deps.docker, cfg.python, { bottegaHome: deps.bottegaHome });
    deps.progress('environment image');
    const env = await buildEnvImage(deps.docker, {
      baseTag,
      repo: task.repo,
      repoPath: input.repoPath,
      envCommit,
      config: cfg,
      ...(config.wheelhouse ? { wheelhouse: config.wheelhouse } : {}),
      ...(config.pip_index_url ? { pipIndexUrl: config.pip_index_url } : {}),
      // Untrusted install scripts get a network only when the spec names a package mirror.
      network: config.pip_index_url !== undefined,
      timeoutMs: config.build_timeout_s * 1000,
    });
    outcome.built.env = !env.cached;
    deps.progress('instance image');
    const inst = await buildInstanceImage(deps.docker, {
      envTag: env.tag,
      repo: task.repo,
      repoPath: input.repoPath,
      baseCommit: task.base_commit,
      instanceId: task.instance_id,
      envCommit,
    });
    outcome.built.instance = !inst.cached;
    outcome.image = { tag: inst.tag, id: inst.id };
    imageTag = inst.tag;
  } catch (e) {
    if (e instanceof ImageBuildError) {
      const reason: BuildFailureReason =
        e.reason === 'install_failed' || e.reason === 'base_missing' || e.reason === 'history_leak'
          ? e.reason
          : 'image_failed';
      return fail(reason, e.message, e.log || e.message);
    }
    throw e;
  }

  const evalScript = buildEvalScript({
    baseCommit: task.base_commit,
    testPatch: task.test_patch,
    testCmd: cfg.test_cmd,
    envVars: cfg.env_vars,
  });
  const script = (withGold: boolean) =>
    [
      writeFileLine('/tmp/eval.sh', evalScript),
      ...(withGold
        ? [
            writeFileLine('/tmp/gold.patch', task.patch),
            writeFileLine('/tmp/apply.sh', buildApplyPatchScript('/tmp/gold.patch')),
            'bash /tmp/apply.sh || exit 1',
          ]
        : []),
      'bash /tmp/eval.sh',
    ].join('\n');

  const before: TestStatusMap[] = [];
  const after: TestStatusMap[] = [];
  for (let run = 1; run <= config.validation_runs; run++) {
    for (const withGold of [false, true]) {
      deps.progress(`validation run ${run}/${config.validation_runs} ${withGold ? 'after' : 'before'} the gold patch`);
      const r = await runInContainer(deps.docker, {
        image: imageTag,
        script: script(withGold),
        timeoutMs: config.test_timeout_s * 1000,
        limits: { cpus: config.limits.cpus, memoryMb: config.limits.memory_mb, pids: config.limits.pids },
        network: false,
        env: { BOTTEGA_VALIDATION_RUN: String(run) },
      });
      const verdict = judgeLog(cfg.log_parser, { exitCode: r.exitCode, timedOut: r.timedOut, output: r.output });
      if (!verdict.valid) {
        const phase = withGold ? 'after' : 'before';
        return fail(verdictReason(verdict.reason), `${verdict.reason} (run ${run}, ${phase} the gold patch)`, r.output);
      }
      (withGold ? after : before).push(verdict.statuses);
    }
  }
  const derived = deriveTask(before, after);
  outcome.FAIL_TO_PASS = derived.FAIL_TO_PASS;
  outcome.PASS_TO_PASS = derived.PASS_TO_PASS;
  outcome.flaky = derived.flaky;
  if (derived.FAIL_TO_PASS.length === 0) {
    return fail('no_fail_to_pass', 'no test fails before and passes after the gold patch in every run');
  }
  outcome.status = 'validated';
  return outcome;
}
