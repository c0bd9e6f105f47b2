import { z } from 'zod';
import { atMost } from './limits';

/** `owner/name`, as GitHub spells repositories. */
export const RepoName = z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, {
  error: (iss) => `expected "owner/name", got ${JSON.stringify(iss.input)}`,
});
export type RepoName = z.infer<typeof RepoName>;

/** The 12 repositories of SWE-bench Verified: the paper's repo-level decontamination list. */
export const SWE_BENCH_VERIFIED_REPOS = [
  'astropy/astropy',
  'django/django',
  'matplotlib/matplotlib',
  'mwaskom/seaborn',
  'pallets/flask',
  'psf/requests',
  'pydata/xarray',
  'pylint-dev/pylint',
  'pytest-dev/pytest',
  'scikit-learn/scikit-learn',
  'sphinx-doc/sphinx',
  'sympy/sympy',
] as const;

/** Pull requests from the GitHub REST/GraphQL API (or any server speaking its shape). */
export const GithubSource = z.strictObject({
  type: z.literal('github'),
  repo: RepoName,
  /** Name of the environment variable holding the token. The token itself never enters a spec. */
  token_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .default('GITHUB_TOKEN'),
  /** API base URL; change it for GitHub Enterprise or a caching proxy. */
  api_url: z.url().default('https://api.github.com'),
  /** Stop after this many PRs (listing order: created ascending, so the cache stays valid). */
  max_prs: z.number().int().positive().check(atMost('items')).optional(),
});
export type GithubSource = z.infer<typeof GithubSource>;

/** Pull requests rebuilt from merge commits of a local git repository or mirror. */
export const GitSource = z.strictObject({
  type: z.literal('git'),
  repo: RepoName,
  /** Path to the repository (work tree or bare mirror). Relative paths resolve against the spec file. */
  path: z.string().min(1),
  /** Branch or ref whose history is scanned for merged PRs (merges, squash and rebase merges, pull refs). */
  ref: z.string().default('HEAD'),
  description: z.string().default(''),
  /** Optional JSONL side file of issues: {number, title, body, created_at?, comments?}. */
  issues_file: z.string().optional(),
  /**
   * Optional JSONL side file of PRs as exported from the API: {number, title, body, author, labels,
   * linked_issues}. Fills in titles, bodies and authors offline; its values win over commit messages.
   */
  prs_file: z.string().optional(),
  /**
   * Merges that name no PR and hold none (a local branch merged in, a sync of a remote): `skip`
   * (counted as `unnumbered_merge`), or `as_pr` for repositories without PR numbers (each becomes a
   * PR numbered from 1,000,000 with the branch as title).
   */
  unnumbered_merges: z.enum(['skip', 'as_pr']).default('skip'),
  max_prs: z.number().int().positive().check(atMost('items')).optional(),
});
export type GitSource = z.infer<typeof GitSource>;

export const MineSource = z.discriminatedUnion('type', [GithubSource, GitSource]);
export type MineSource = z.infer<typeof MineSource>;

export const SampleFormat = z.enum(['python', 'general']);
export type SampleFormat = z.infer<typeof SampleFormat>;

/** PR filters, with the paper's defaults. */
export const MineFilters = z.strictObject({
  merged_only: z.boolean().default(true),
  exclude_bots: z.boolean().default(true),
  /** Extra author patterns (regular expressions) treated as bots, besides GitHub's Bot type and `[bot]`. */
  bot_patterns: z.array(z.string()).default(['\\[bot\\]$', '^dependabot', '^renovate', '-bot$']),
  /** Repo-level decontamination: every PR of these repositories is removed. */
  decontaminate_repos: z.array(RepoName).default([...SWE_BENCH_VERIFIED_REPOS]),
  /** Drop PRs whose linked issue has more comments than this (the reference implementation uses 20). */
  max_issue_comments: z.number().int().nonnegative().check(atMost('items')).default(20),
  python: z
    .strictObject({
      extensions: z.array(z.string()).default(['.py', '.pyi', '.pyx']),
      doc_extensions: z.array(z.string()).default(['.md', '.rst', '.txt']),
      min_python_files: z.number().int().nonnegative().check(atMost('files')).default(1),
      max_python_files: z.number().int().positive().check(atMost('files')).default(5),
      max_files: z.number().int().positive().check(atMost('files')).default(20),
    })
    .prefault({}),
});
export type MineFilters = z.infer<typeof MineFilters>;

/** Optional LLM enhancement through any OpenAI-compatible endpoint. */
export const EnhanceConfig = z.strictObject({
  enabled: z.boolean().default(false),
  /** Base URL ending in /v1. */
  endpoint: z.url().default('http://127.0.0.1:8000/v1'),
  model: z.string().default('Qwen/Qwen3-235B-A22B-Instruct-2507'),
  /** Name of the environment variable holding the API key (may be unset for local servers). */
  api_key_env: z.string().default('OPENAI_API_KEY'),
  concurrency: z.number().int().positive().check(atMost('concurrency')).default(4),
  temperature: z.number().min(0).max(2).default(0.7),
  top_p: z.number().gt(0).max(1).default(0.9),
  summary_max_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(512),
  commit_max_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(256),
  timeout_ms: z.number().int().positive().check(atMost('duration_ms')).default(120_000),
});
export type EnhanceConfig = z.infer<typeof EnhanceConfig>;

/** The mine stage's configuration. */
export const MineConfig = z.strictObject({
  sources: z.array(MineSource).min(1, 'add at least one source'),
  formats: z.array(SampleFormat).min(1).default(['python', 'general']),
  filters: MineFilters.prefault({}),
  /** More relevant files than this are truncated (counted as skipped). */
  max_relevant_files: z.number().int().positive().check(atMost('files')).default(50),
  enhance: EnhanceConfig.prefault({}),
  /** Tokenizer of the target model: `qwen2.5` (default, the paper's base models) or `qwen3` (4 more added tokens). */
  tokenizer: z.enum(['qwen2.5', 'qwen3']).default('qwen2.5'),
  /** Length gate in tokens: samples above are dropped (the paper uses 32k). */
  max_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(32_768),
  /** PRs per page: the unit of heartbeating and resume. */
  page_size: z.number().int().positive().max(1000).default(25),
  /** Repositories mined at once (one child workflow each). */
  repo_concurrency: z.number().int().positive().check(atMost('concurrency')).default(2),
  /** Also emit SWE-bench-style task candidates. */
  task_candidates: z.boolean().default(true),
});
export type MineConfig = z.infer<typeof MineConfig>;

/** One rendered training sample. */
export const MineSample = z.strictObject({
  id: z.string(),
  format: SampleFormat,
  repo: z.string(),
  pr_number: z.number().int(),
  text: z.string(),
  tokens: z.number().int().nonnegative(),
});
export type MineSample = z.infer<typeof MineSample>;

/** A SWE-bench-style task candidate; the build stage turns it into a validated task. */
export const TaskCandidate = z.looseObject({
  instance_id: z.string(),
  repo: z.string(),
  pull_number: z.number().int(),
  base_commit: z.string(),
  patch: z.string(),
  test_patch: z.string(),
  problem_statement: z.string(),
  hints_text: z.string(),
  created_at: z.string(),
  issue_numbers: z.array(z.number().int()).default([]),
});
export type TaskCandidate = z.infer<typeof TaskCandidate>;
