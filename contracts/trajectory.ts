import { z } from 'zod';
import { InstanceReport } from './grading';

/**
 * Agent rollouts (D^env) as we store them: OpenAI-style chat `messages` plus per-turn metadata,
 * the exit reason, the final patch and the harness report that labels the trajectory.
 * `activities/rollout/convert/` turns them into training text.
 */

/** One OpenAI-style function call made by an assistant turn; `arguments` is the raw JSON text. */
export const TrajectoryToolCall = z.strictObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.strictObject({ name: z.string(), arguments: z.string() }),
});
export type TrajectoryToolCall = z.infer<typeof TrajectoryToolCall>;

/** One chat message (OpenAI shape). `tool_calls`/`reasoning_content` only on assistant turns; `tool_call_id` only on tool turns. */
export const TrajectoryMessage = z.discriminatedUnion('role', [
  z.strictObject({ role: z.literal('system'), content: z.string() }),
  z.strictObject({ role: z.literal('user'), content: z.string() }),
  z.strictObject({
    role: z.literal('assistant'),
    content: z.string().nullable(),
    tool_calls: z.array(TrajectoryToolCall).optional(),
    reasoning_content: z.string().nullable().optional(),
  }),
  z.strictObject({ role: z.literal('tool'), content: z.string(), tool_call_id: z.string() }),
]);
export type TrajectoryMessage = z.infer<typeof TrajectoryMessage>;

export const TrajectoryRole = z.enum(['system', 'user', 'assistant', 'tool']);
export type TrajectoryRole = z.infer<typeof TrajectoryRole>;

/** Why the agent loop stopped. Imported trajectories map their scaffold's exit status onto this (readers.ts). */
export const ExitReason = z.enum([
  'submitted',
  'step_limit',
  'context_limit',
  'time_limit',
  'cost_limit',
  'format_errors',
  'model_error',
  'env_error',
]);
export type ExitReason = z.infer<typeof ExitReason>;

/** Metadata of one assistant turn (the model call and the tool calls it made). */
export const TrajectoryStep = z.strictObject({
  /** Index of the assistant message in `messages`. */
  message_index: z.number().int().nonnegative(),
  started_at: z.iso.datetime(),
  /** Model call latency. */
  duration_ms: z.number().nonnegative(),
  usage: z.strictObject({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
  }),
  /** Execution time of each tool call of this turn, in call order. */
  tool_durations_ms: z.array(z.strictObject({ tool_call_id: z.string(), duration_ms: z.number().nonnegative() })),
});
export type TrajectoryStep = z.infer<typeof TrajectoryStep>;

/** Who produced the actions: our OpenAI-compatible policy, the gold-patch replay, or an imported file. */
export const TrajectoryPolicy = z.enum(['openai', 'replay-gold', 'imported']);
export type TrajectoryPolicy = z.infer<typeof TrajectoryPolicy>;

export const TrajectorySampling = z.strictObject({
  temperature: z.number().nonnegative(),
  top_p: z.number().positive().max(1),
  max_tokens: z.number().int().positive(),
  seed: z.number().int().optional(),
});
export type TrajectorySampling = z.infer<typeof TrajectorySampling>;

/** Token counts of the rendered training text (total and per original role). */
export const TrajectoryTokens = z.strictObject({
  total: z.number().int().nonnegative(),
  by_role: z.strictObject({
    system: z.number().int().nonnegative(),
    user: z.number().int().nonnegative(),
    assistant: z.number().int().nonnegative(),
    tool: z.number().int().nonnegative(),
  }),
});
export type TrajectoryTokens = z.infer<typeof TrajectoryTokens>;

export const TRAJECTORY_SCHEMA_VERSION = 1;

/** One rollout of one task. */
export const Trajectory = z.strictObject({
  schema_version: z.literal(TRAJECTORY_SCHEMA_VERSION),
  id: z.string().min(1),
  instance_id: z.string().min(1),
  /** 0-based; the paper keeps at most 4 rollouts per task. */
  rollout_index: z.number().int().nonnegative(),
  policy: TrajectoryPolicy,
  model: z.string(),
  /** null when unknown (imported trajectories). */
  sampling: TrajectorySampling.nullable(),
  messages: z.array(TrajectoryMessage),
  steps: z.array(TrajectoryStep),
  exit_reason: ExitReason,
  /** The diff the agent submitted (empty string when none). */
  final_patch: z.string(),
  /** The harness report of grading `final_patch`; null until graded. */
  report: InstanceReport.nullable(),
  /** pass = report.resolved; null until graded. */
  label: z.enum(['pass', 'fail']).nullable(),
  /** null until counted. */
  tokens: TrajectoryTokens.nullable(),
  started_at: z.iso.datetime().nullable(),
  finished_at: z.iso.datetime().nullable(),
  /** Why the rollout ended, in words (the limit hit, the error). */
  exit_detail: z.string().optional(),
  /** Version of the prompts the agent ran with. */
  prompt_version: z.string().optional(),
  cost_usd: z.number().nonnegative().optional(),
});
export type Trajectory = z.infer<typeof Trajectory>;
