import { z } from 'zod';
import { SafeName } from './safe-names';

/**
 * Test-log parsers the grading core knows: SWE-bench's Python parser families (`pytest` =
 * `parse_log_pytest`, `pytest_options`, `pytest_v2`, `matplotlib`, `seaborn`, `sympy`, `django`; its
 * per-repo aliases such as `parse_log_astropy` map onto these) and bottega's own `unittest` and `junit`.
 */
export const LogParserName = z.enum([
  'pytest',
  'pytest_options',
  'pytest_v2',
  'matplotlib',
  'seaborn',
  'sympy',
  'django',
  'unittest',
  'junit',
]);
export type LogParserName = z.infer<typeof LogParserName>;

/**
 * Which tests a validation or grading run executes. `files` (the default, SWE-bench's scope): the
 * test command with the test directives of `test_patch` appended (the files it touches; Django:
 * module labels; activities/grading/test-directives.ts). `suite`: the test command as is, usually the
 * whole suite (an explicit opt-in).
 */
export const TestScope = z.enum(['files', 'suite']);
export type TestScope = z.infer<typeof TestScope>;

/**
 * How to build and test one task's environment (after SWE-rebench's `install_config` and SWE-bench
 * 5.0's task specs). Carried by the task record itself, so the record is its own recipe.
 */
export const InstallConfig = z.strictObject({
  /** Language of the base image. Only Python is supported for now. */
  language: z.literal('python').default('python'),
  /** Interpreter version, major.minor (selects the base image). */
  python: z
    .string()
    .regex(/^\d+\.\d+$/, 'expected major.minor, e.g. "3.11"')
    .default('3.11'),
  /** Debian packages installed in the environment layer. */
  system_packages: z.array(z.string()).default([]),
  /** Shell commands run before `install` (in the repository directory). */
  pre_install: z.array(z.string()).default([]),
  /** Requirement files installed with pip, relative to the repository root. */
  reqs_path: z.array(z.string()).default([]),
  /** Extra pip packages (e.g. the test runner). */
  pip_packages: z.array(z.string()).default([]),
  /** Shell commands that install the project (e.g. `pip install -e .`). */
  install: z.array(z.string()).default([]),
  /**
   * The test command. With test scope `files` (the default), the test directives of the task's
   * `test_patch` are appended to its last line when grading or validating.
   */
  test_cmd: z.string().min(1),
  /** Parser of the test command's output. */
  log_parser: LogParserName,
  /** Environment variables for install and test. */
  env_vars: z.record(z.string(), z.string()).default({}),
});
export type InstallConfig = z.infer<typeof InstallConfig>;

/**
 * A partial {@link InstallConfig} in the same spelling, without defaults: a spec's per-repo recipe,
 * merged field by field over what the heuristics found (`env_vars` are merged key by key; every
 * other given field replaces the heuristic one).
 */
export const InstallConfigPatch = z.strictObject({
  python: z
    .string()
    .regex(/^\d+\.\d+$/, 'expected major.minor, e.g. "3.11"')
    .optional(),
  system_packages: z.array(z.string()).optional(),
  pre_install: z.array(z.string()).optional(),
  reqs_path: z.array(z.string()).optional(),
  pip_packages: z.array(z.string()).optional(),
  install: z.array(z.string()).optional(),
  test_cmd: z.string().min(1).optional(),
  log_parser: LogParserName.optional(),
  env_vars: z.record(z.string(), z.string()).optional(),
});
export type InstallConfigPatch = z.infer<typeof InstallConfigPatch>;

/** SWE-bench stores test lists as JSON-encoded strings in its parquet files; accept both forms. */
const TestList = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}, z.array(z.string()));

/**
 * A task record in the SWE-bench / SWE-rebench JSONL schema. Unknown fields are kept as they are
 * (loose object), so records round-trip without loss. `install_config` is kept raw here and
 * normalised by the recipe resolver (SWE-rebench spells some fields differently).
 */
export const TaskRecord = z.looseObject({
  /** Becomes a file name (build logs, eval directories): `..`, `/`, backslashes, control characters are refused. */
  instance_id: SafeName,
  repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'expected "owner/name"'),
  base_commit: z.string().regex(/^[0-9a-f]{7,40}$/, 'expected a commit sha'),
  patch: z.string(),
  test_patch: z.string(),
  problem_statement: z.string().default(''),
  hints_text: z.string().default(''),
  created_at: z.string().optional(),
  version: z.string().optional(),
  environment_setup_commit: z.string().optional(),
  FAIL_TO_PASS: TestList.optional(),
  PASS_TO_PASS: TestList.optional(),
  install_config: z.unknown().optional(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;
