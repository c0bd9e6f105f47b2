import { z } from 'zod';
import { atMost } from './limits';
import { ArtifactRef } from './artifact';
import { RepoName } from './mine';
import { InstallConfig, InstallConfigPatch, TestScope } from './task';

/**
 * Where the build stage takes its tasks from. At least one source must be set; tasks from several
 * sources are concatenated (an `instance_id` seen twice keeps its first occurrence).
 */
export const BuildTaskSources = z
  .strictObject({
    /** Use the task candidates the mine stage of the same experiment emitted. */
    from_mine: z.boolean().default(false),
    /**
     * SWE-bench / SWE-rebench JSONL files, one task record per line. Relative paths resolve against
     * the spec file. Records may carry their own `install_config`, which wins over any recipe.
     */
    files: z.array(z.string().min(1)).default([]),
  })
  .refine((s) => s.from_mine || s.files.length > 0, {
    error: 'no task source: set `from_mine: true` or list JSONL `files`',
  });
export type BuildTaskSources = z.infer<typeof BuildTaskSources>;

/** Resource limits applied to every build and test container. */
export const BuildLimits = z.strictObject({
  /** CPU cores per container (fractions allowed). */
  cpus: z.number().positive().check(atMost('cpus')).default(1),
  /** Memory per container, in MiB (hard limit; the kernel kills the test run above it). */
  memory_mb: z.number().int().positive().check(atMost('memory_mb')).default(2048),
  /** Maximum number of processes per container (fork-bomb guard). */
  pids: z.number().int().positive().check(atMost('pids')).default(512),
});
export type BuildLimits = z.infer<typeof BuildLimits>;

/**
 * Optional LLM setup agent (after SWE-rebench V2): when the record, the spec's recipe and the
 * heuristics all fail (or the install fails), an agent explores the repository in a container
 * without network and proposes an install_config, accepted only if the task then validates.
 */
export const SetupAgentConfig = z.strictObject({
  /** Turn the agent on. Off by default: builds stay deterministic and offline. */
  enabled: z.boolean().default(false),
  /** Base URL of an OpenAI-compatible endpoint, ending in /v1. */
  endpoint: z.url().default('http://127.0.0.1:8000/v1'),
  /** Model name sent to the endpoint. */
  model: z.string().min(1).default('Qwen/Qwen3-235B-A22B-Instruct-2507'),
  /** Name of the environment variable holding the API key (may be unset for local servers). */
  api_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .default('OPENAI_API_KEY'),
  /** Most commands the agent may run in the container before it must emit a recipe or give up. */
  max_steps: z.number().int().positive().check(atMost('steps')).default(30),
});
export type SetupAgentConfig = z.infer<typeof SetupAgentConfig>;

/**
 * The build stage's configuration: turns task records into runnable, validated environments.
 * Recipe resolution order per task: the record's own `install_config`, then `recipes[repo]`
 * (merged over the official SWE-bench recipe when there is one, else over the heuristics'
 * findings), then the official SWE-bench recipe of the record's (repo, version), then heuristics
 * on the repository's files.
 */
export const BuildConfig = z.strictObject({
  /** Task sources (required). */
  tasks: BuildTaskSources,
  /**
   * Per-repository recipes keyed by `owner/name`: partial install configs merged over what the
   * heuristics detect. Use them to fix repositories the heuristics get wrong.
   */
  recipes: z
    .record(RepoName, InstallConfigPatch, {
      error: (iss) =>
        iss.code === 'invalid_key' ? `recipe keys are "owner/name", got ${JSON.stringify(iss.input)}` : undefined,
    })
    .default({}),
  /**
   * Local directory of wheels for offline installs (`pip install --no-index --find-links`).
   * Relative paths resolve against the spec file.
   */
  /**
   * Local git repositories (work trees or mirrors) by `owner/name`; relative paths resolve against
   * the spec file. Repositories of the mine stage's git sources are added automatically.
   */
  repo_paths: z.record(RepoName, z.string().min(1)).default({}),
  wheelhouse: z.string().min(1).optional(),
  /** pip index mirror (`PIP_INDEX_URL`), e.g. a local devpi or a caching proxy. */
  pip_index_url: z.url().optional(),
  /**
   * Times the tests run on each side (before and after the gold patch); a test whose status
   * differs between runs is flaky and is dropped from FAIL_TO_PASS / PASS_TO_PASS.
   */
  validation_runs: z.number().int().min(1).max(10).default(2),
  /** Wall-clock limit of one test run, in seconds (SWE-bench's default is 1,800). */
  test_timeout_s: z.number().int().positive().check(atMost('duration_s')).default(1800),
  /** Wall-clock limit of one environment build (install steps), in seconds. */
  build_timeout_s: z.number().int().positive().check(atMost('duration_s')).default(3600),
  /** Tasks built and validated at once (each uses one container at a time). */
  concurrency: z.number().int().positive().check(atMost('concurrency')).default(2),
  /** Resource limits of each container. */
  limits: BuildLimits.prefault({}),
  /** Local disk budget for environment images, in GB; least recently used images are pruned above it. */
  disk_budget_gb: z.number().positive().check(atMost('disk_gb')).default(50),
  /** Optional LLM setup agent for repositories nothing else can build. */
  setup_agent: SetupAgentConfig.prefault({}),
  /**
   * Build SWE-bench records whose (repo, version) is in swebench's spec table with the official
   * recipe (activities/build/official-recipe.ts). Off: those records go to the heuristics.
   */
  official_recipes: z.boolean().default(true),
  /**
   * Use SWE-bench's prebuilt instance image (`swebench/sweb.eval.x86_64.<id>:latest`, or the
   * record's `image`) when the local Docker engine has it, instead of building env and instance.
   */
  official_images: z.boolean().default(true),
  /**
   * Which tests validation runs (and the validated tasks record, so rollout grading and evaluation
   * run the same): `files`, the test files `test_patch` touches as SWE-bench runs them, or `suite`,
   * the test command as is (whole suite; an explicit opt-in).
   */
  test_scope: TestScope.default('files'),
  /**
   * A record's own FAIL_TO_PASS / PASS_TO_PASS are kept verbatim and checked against the validation
   * runs. Where they do not hold (`official_lists_mismatch`, per test): `drop` (default) keeps the
   * task out of the validated set; `flag` keeps it, with the mismatches in its `bottega` field.
   */
  official_lists_mismatch: z.enum(['drop', 'flag']).default('drop'),
});
export type BuildConfig = z.infer<typeof BuildConfig>;
/** What a user writes: defaults may be omitted. */
export type BuildConfigInput = z.input<typeof BuildConfig>;

/** Why a task did not make it into the validated set. */
export const BuildFailureReason = z.enum([
  'invalid_record',
  'no_recipe',
  'repo_unavailable',
  'base_missing',
  'install_failed',
  'image_failed',
  'history_leak',
  'patch_apply_failed',
  'test_patch_apply_failed',
  'tests_timed_out',
  'no_tests_ran',
  'invalid_test_log',
  'no_fail_to_pass',
  /** The record's own test lists do not hold on this machine (see `list_mismatches`). */
  'official_lists_mismatch',
  /** swebench 5.0.2's grading would not find the gold patch resolved with the task's lists. */
  'gold_not_resolved',
]);
export type BuildFailureReason = z.infer<typeof BuildFailureReason>;

/**
 * Where a test of a record's own FAIL_TO_PASS / PASS_TO_PASS list did not behave as the list says,
 * judged with swebench 5.0.2's grading functions (`test_passed`, `test_failed`, `test_maintained`,
 * `_resolve_case`) on the validation runs' official status maps.
 */
export const ListMismatch = z.strictObject({
  list: z.enum(['FAIL_TO_PASS', 'PASS_TO_PASS']),
  test: z.string(),
  /**
   * `passes_before`: a FAIL_TO_PASS test passed without the gold patch; `fails_before` /
   * `missing_before`: a PASS_TO_PASS test failed or was not in the log without it; `fails_after` /
   * `missing_after`: the test does not pass (PASS_TO_PASS: is not maintained) with the gold patch.
   */
  problem: z.enum(['passes_before', 'fails_before', 'missing_before', 'fails_after', 'missing_after']),
  /** The official status in each run of each phase (`missing` when absent). */
  seen: z.strictObject({ before: z.array(z.string()), after: z.array(z.string()) }),
});
export type ListMismatch = z.infer<typeof ListMismatch>;

/** The outcome of one task: validated (with its tests and image) or failed with a reason. */
export const BuildTaskOutcome = z.strictObject({
  instance_id: z.string(),
  repo: z.string(),
  status: z.enum(['validated', 'failed']),
  reason: BuildFailureReason.nullable(),
  /** One line a human can act on. */
  detail: z.string().nullable(),
  FAIL_TO_PASS: z.array(z.string()),
  PASS_TO_PASS: z.array(z.string()),
  /**
   * Tests whose status differed between validation runs: excluded from derived lists (a record's
   * own lists are kept as they are; a flaky test in them is a mismatch).
   */
  flaky: z.array(z.string()),
  /** Where FAIL_TO_PASS / PASS_TO_PASS come from: the record (verbatim) or the validation runs. */
  lists: z.enum(['official', 'derived']).nullable().default(null),
  /** Where the record's own lists did not hold (empty for derived lists). */
  list_mismatches: z.array(ListMismatch).default([]),
  /** The test scope the task was validated with (recorded in the validated task). */
  test_scope: TestScope.nullable().default(null),
  image: z.strictObject({ tag: z.string(), id: z.string() }).nullable(),
  recipe_source: z.enum(['record', 'spec', 'official', 'heuristic', 'agent']).nullable(),
  /** The recipe the task was built and tested with (whatever its source). */
  install_config: InstallConfig.nullable(),
  /** Which stages were built now versus reused (content-hash tags). */
  built: z.strictObject({ env: z.boolean(), instance: z.boolean() }),
  /** Build or test log stored for a failure. */
  log_uri: z.string().nullable(),
});
export type BuildTaskOutcome = z.infer<typeof BuildTaskOutcome>;

/** The funnel of the build stage. */
export const BuildSummary = z.strictObject({
  candidates: z.number().int().nonnegative(),
  built: z.number().int().nonnegative(),
  validated: z.number().int().nonnegative(),
  kept: z.number().int().nonnegative(),
  failed: z.record(z.string(), z.number().int().nonnegative()),
  flaky_tests: z.number().int().nonnegative(),
  /**
   * Test lists of validated tasks: kept from the record (`official`), derived (`derived`), and
   * records whose own lists did not hold (`mismatched`, dropped or flagged).
   */
  lists: z
    .strictObject({
      official: z.number().int().nonnegative(),
      derived: z.number().int().nonnegative(),
      mismatched: z.number().int().nonnegative(),
    })
    .default({ official: 0, derived: 0, mismatched: 0 }),
  images_built: z.strictObject({ env: z.number().int(), instance: z.number().int() }),
  /** Images removed to stay within `disk_budget_gb` (least recently used first; never this run's). */
  images_pruned: z.number().int().nonnegative(),
});
export type BuildSummary = z.infer<typeof BuildSummary>;

/** The build stage's output. */
export const BuildStageResult = z.strictObject({
  summary: BuildSummary,
  artifacts: z.strictObject({
    /** Validated tasks: the original records plus FAIL_TO_PASS, PASS_TO_PASS, image, install_config. */
    tasks: ArtifactRef,
    /** One {@link BuildTaskOutcome} per candidate, validated or not. */
    outcomes: ArtifactRef,
    summary: ArtifactRef,
  }),
});
export type BuildStageResult = z.infer<typeof BuildStageResult>;
