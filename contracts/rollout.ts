import { z } from 'zod';
import { atMost } from './limits';
import { ArtifactRef } from './artifact';

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** Which policy drives the agent. */
export const RolloutPolicyName = z.enum(['openai', 'replay-gold']);
export type RolloutPolicyName = z.infer<typeof RolloutPolicyName>;

/** The rollout stage: a coding agent works in each validated task's container. */
export const RolloutConfig = z.strictObject({
  /**
   * `openai`: any OpenAI-compatible chat-completions server. `replay-gold`: a deterministic policy
   * that solves each task from its gold patch through the same tools (no model needed).
   */
  policy: RolloutPolicyName.default('openai'),
  /** Base URL ending in /v1 (vLLM, SGLang, a hosted API). */
  endpoint: z.url().default('http://127.0.0.1:8000/v1'),
  model: z.string().min(1).default('default'),
  /** Name of the environment variable holding the API key (never the key itself). */
  api_key_env: EnvName.default('OPENAI_API_KEY'),
  /** `native` OpenAI function tools, or `xml` text-mode calls for models without tool calling. */
  tool_mode: z.enum(['native', 'xml']).default('native'),
  /** Rollouts per task (the paper uses up to 4). */
  rollouts_per_task: z.number().int().min(1).max(64).default(4),
  sampling: z
    .strictObject({
      temperature: z.number().min(0).max(2).default(1),
      top_p: z.number().gt(0).max(1).default(1),
      max_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(4096),
      /** Seed of rollout 0; rollout k of a task uses seed + k (recorded in each trajectory). */
      seed: z.number().int().optional(),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** The paper's evaluation uses 100 steps. */
      max_steps: z.number().int().positive().check(atMost('steps')).default(100),
      /** Conversation tokens (the paper drops trajectories over 128k). */
      max_total_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(131_072),
      wall_clock_s: z.number().int().positive().check(atMost('duration_s')).default(3600),
      max_cost_usd: z.number().positive().check(atMost('cost_usd')).optional(),
      max_format_errors: z.number().int().positive().check(atMost('steps')).default(3),
      command_timeout_s: z.number().int().positive().check(atMost('duration_s')).default(120),
    })
    .prefault({}),
  container: z
    .strictObject({
      cpus: z.number().positive().check(atMost('cpus')).default(1),
      memory_mb: z.number().int().positive().check(atMost('memory_mb')).default(2048),
      pids: z.number().int().positive().check(atMost('pids')).default(256),
    })
    .prefault({}),
  /** Rollouts running at once on one worker. */
  concurrency: z.number().int().positive().check(atMost('concurrency')).default(2),
  /** Model calls in flight at once to the endpoint, per worker (whatever the rollouts). */
  endpoint_concurrency: z.number().int().positive().check(atMost('concurrency')).default(8),
  /** Container starts per second, per worker (many starts at once stall the engine). */
  container_starts_per_s: z.number().positive().check(atMost('rate')).default(2),
  /** Rollouts per child workflow (keeps each history small). */
  batch_size: z.number().int().positive().max(500).default(100),
  /**
   * Batches a run of the stage workflow starts before it continues as new, which keeps its
   * history small for very large task sets (progress carries over).
   */
  batches_per_run: z.number().int().positive().check(atMost('batches')).default(50),
  /** Trajectories over this many tokens are dropped (and counted). */
  max_trajectory_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(131_072),
});
export type RolloutConfig = z.infer<typeof RolloutConfig>;

/** Counters of the rollout stage. */
export const RolloutSummary = z.strictObject({
  tasks: z.number().int().nonnegative(),
  rollouts: z.number().int().nonnegative(),
  passed: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  pass_rate: z.number().min(0).max(1),
  exits: z.record(z.string(), z.number().int().nonnegative()),
  dropped: z.record(z.string(), z.number().int().nonnegative()),
  tokens: z.number().int().nonnegative(),
});
export type RolloutSummary = z.infer<typeof RolloutSummary>;

/** The rollout stage's output. */
export const RolloutStageResult = z.strictObject({
  summary: RolloutSummary,
  artifacts: z.strictObject({
    /** Passing trajectories (D^env_pass), JSONL of Trajectory. */
    pass: ArtifactRef,
    /** Failing trajectories (D^env_fail). */
    fail: ArtifactRef,
    summary: ArtifactRef,
  }),
});
export type RolloutStageResult = z.infer<typeof RolloutStageResult>;
