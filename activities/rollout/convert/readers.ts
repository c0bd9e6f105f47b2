/**
 * Readers for trajectories users bring from other scaffolds, into our `Trajectory` shape
 * (policy `imported`, not yet graded: report/label/tokens null, no per-step metadata):
 *
 * - SWE-agent `<instance_id>.traj` (JSON): `history` (the messages shown to the model: role,
 *   content as a string or a list of text parts, `tool_calls` / `tool_call_ids` with function
 *   calling, `is_demo` for demonstrations, which are skipped), `trajectory` (per step: response,
 *   thought, action, observation; used only when `history` is absent) and `info` (`exit_status`,
 *   `submission`, `model_stats`).
 * - mini-swe-agent `<instance_id>.traj.json`: `messages` ({role, content}; actions are ```bash
 *   blocks inside assistant content, kept verbatim) and `info` (`exit_status`, `submission`,
 *   `config.model.model_name`).
 *
 * Exit statuses map to {@link ExitReason} by {@link mapExitStatus}; SWE-agent's autosubmission
 * (`submitted (exit_cost)`, …) and mini-swe-agent's are kept as the underlying limit and flagged
 * `autosubmitted` (peers §6: tag them).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { stripBom } from '../../text-input';
import { z } from 'zod';
import {
  TRAJECTORY_SCHEMA_VERSION,
  Trajectory,
  type ExitReason,
  type TrajectoryMessage,
} from '../../../contracts/trajectory';

export interface ImportedTrajectory {
  trajectory: Trajectory;
  /** The scaffold's exit status as written in the file. */
  rawExitStatus: string;
  /** The scaffold submitted on the agent's behalf after hitting a limit. */
  autosubmitted: boolean;
  format: 'swe-agent' | 'mini-swe-agent';
}

export interface ImportMeta {
  instance_id: string;
  rollout_index?: number;
  id?: string;
}

const EXIT: Record<string, ExitReason> = {
  submitted: 'submitted',
  exit_cost: 'cost_limit',
  exit_context: 'context_limit',
  exit_format: 'format_errors',
  exit_api: 'model_error',
  exit_environment_error: 'env_error',
  exit_error: 'env_error',
  exit_command_timeout: 'env_error',
  exit_total_execution_time: 'time_limit',
  exit_step_limit: 'step_limit',
  early_exit: 'env_error',
  // mini-swe-agent writes the exception class name
  limitsexceeded: 'step_limit',
  formaterror: 'format_errors',
  timeouterror: 'time_limit',
  executiontimeouterror: 'env_error',
  contextwindowexceedederror: 'context_limit',
};

/**
 * Maps a SWE-agent / mini-swe-agent exit status to an {@link ExitReason}. `submitted (X)` is an
 * autosubmission after X; plain `autosubmitted` counts as a step limit. Unknown statuses throw.
 */
export function mapExitStatus(status: string): { reason: ExitReason; autosubmitted: boolean } {
  const s = status.trim();
  const auto = /^submitted \((.+)\)$/.exec(s);
  if (auto) return { reason: mapExitStatus(auto[1]!).reason, autosubmitted: true };
  const k = s.toLowerCase();
  if (k === 'autosubmitted' || k === 'autosubmission') return { reason: 'step_limit', autosubmitted: true };
  const reason = EXIT[k];
  if (!reason) throw new Error(`unknown exit status ${JSON.stringify(status)}`);
  return { reason, autosubmitted: false };
}

const TextContent = z.union([
  z.string(),
  z.array(z.looseObject({ type: z.string(), text: z.string().optional() })),
  z.null(),
]);
const ToolCallIn = z.looseObject({
  id: z.string(),
  type: z.literal('function').optional(),
  function: z.looseObject({ name: z.string(), arguments: z.union([z.string(), z.record(z.string(), z.unknown())]) }),
});

function text(c: z.infer<typeof TextContent> | undefined): string {
  if (c == null) return '';
  if (typeof c === 'string') return c;
  return c.map((p) => p.text ?? '').join('');
}

const SweAgentTraj = z.looseObject({
  history: z
    .array(
      z.looseObject({
        role: z.string(),
        content: TextContent.optional(),
        is_demo: z.boolean().optional(),
        tool_calls: z.array(ToolCallIn).nullable().optional(),
        tool_call_ids: z.array(z.string()).nullable().optional(),
        thinking_blocks: z.unknown().optional(),
        reasoning_content: z.string().nullable().optional(),
      })
    )
    .optional(),
  trajectory: z
    .array(
      z.looseObject({
        response: z.string().optional(),
        thought: z.string().optional(),
        action: z.string().optional(),
        observation: z.string().optional(),
      })
    )
    .optional(),
  info: z.looseObject({
    exit_status: z.string().nullable().optional(),
    submission: z.string().nullable().optional(),
    model_stats: z.looseObject({}).optional(),
  }),
  replay_config: z.unknown().optional(),
});

const MiniTraj = z.looseObject({
  messages: z.array(z.looseObject({ role: z.string(), content: TextContent.optional() })),
  info: z.looseObject({
    exit_status: z.string().nullable().optional(),
    submission: z.string().nullable().optional(),
    config: z.looseObject({ model: z.looseObject({ model_name: z.string().optional() }).optional() }).optional(),
  }),
  trajectory_format: z.string().optional(),
});

function toMessage(role: string, content: string, extra: Partial<Record<string, unknown>> = {}): TrajectoryMessage {
  switch (role) {
    case 'system':
      return { role: 'system', content };
    case 'user':
      return { role: 'user', content };
    case 'assistant': {
      const m: TrajectoryMessage = { role: 'assistant', content };
      if (extra.tool_calls) m.tool_calls = extra.tool_calls as typeof m.tool_calls;
      if (typeof extra.reasoning_content === 'string') m.reasoning_content = extra.reasoning_content;
      return m;
    }
    case 'tool':
      return { role: 'tool', content, tool_call_id: String(extra.tool_call_id ?? '') };
    default:
      throw new Error(`unknown message role ${JSON.stringify(role)}`);
  }
}

function build(
  meta: ImportMeta,
  messages: TrajectoryMessage[],
  exitStatus: string | null | undefined,
  submission: string | null | undefined,
  model: string,
  format: ImportedTrajectory['format']
): ImportedTrajectory {
  const raw = exitStatus ?? '';
  const { reason, autosubmitted } = mapExitStatus(raw);
  const rollout_index = meta.rollout_index ?? 0;
  const trajectory = Trajectory.parse({
    schema_version: TRAJECTORY_SCHEMA_VERSION,
    id: meta.id ?? `${meta.instance_id}:imported:${rollout_index}`,
    instance_id: meta.instance_id,
    rollout_index,
    policy: 'imported',
    model,
    sampling: null,
    messages,
    steps: [],
    exit_reason: reason,
    final_patch: submission ?? '',
    report: null,
    label: null,
    tokens: null,
    started_at: null,
    finished_at: null,
  });
  return { trajectory, rawExitStatus: raw, autosubmitted, format };
}

/** A SWE-agent `.traj` object (already JSON-parsed). */
export function readSweAgentTraj(json: unknown, meta: ImportMeta): ImportedTrajectory {
  const t = SweAgentTraj.parse(json);
  const messages: TrajectoryMessage[] = [];
  if (t.history) {
    for (const h of t.history) {
      if (h.is_demo) continue;
      const tool_calls = h.tool_calls?.map((c) => ({
        id: c.id,
        type: 'function' as const,
        function: {
          name: c.function.name,
          arguments:
            typeof c.function.arguments === 'string' ? c.function.arguments : JSON.stringify(c.function.arguments),
        },
      }));
      messages.push(
        toMessage(h.role, text(h.content), {
          tool_calls: tool_calls?.length ? tool_calls : undefined,
          tool_call_id: h.tool_call_ids?.[0],
          reasoning_content: h.reasoning_content,
        })
      );
    }
  } else if (t.trajectory) {
    for (const s of t.trajectory) {
      messages.push({ role: 'assistant', content: s.response ?? `${s.thought ?? ''}\n${s.action ?? ''}` });
      if (s.observation !== undefined) messages.push({ role: 'user', content: s.observation });
    }
  } else {
    throw new Error('SWE-agent .traj: neither history nor trajectory');
  }
  return build(meta, messages, t.info.exit_status, t.info.submission, sweAgentModel(t.replay_config), 'swe-agent');
}

/** The model name in SWE-agent's `replay_config` (a JSON string or object), else ''. */
function sweAgentModel(rc: unknown): string {
  let cfg: unknown = rc;
  if (typeof rc === 'string') {
    try {
      cfg = JSON.parse(rc);
    } catch {
      return '';
    }
  }
  const name = (cfg as { agent?: { model?: { name?: unknown } } } | null)?.agent?.model?.name;
  return typeof name === 'string' ? name : '';
}

/** A mini-swe-agent trajectory object (already JSON-parsed). */
export function readMiniSweAgentTraj(json: unknown, meta: ImportMeta): ImportedTrajectory {
  const t = MiniTraj.parse(json);
  const messages = t.messages.map((m) => toMessage(m.role, text(m.content)));
  return build(
    meta,
    messages,
    t.info.exit_status,
    t.info.submission,
    t.info.config?.model?.model_name ?? '',
    'mini-swe-agent'
  );
}

/**
 * Reads a trajectory file of either format (mini-swe-agent has top-level `messages`, SWE-agent
 * `history`/`trajectory`). `instance_id` defaults to the file name without `.traj.json` / `.traj`.
 */
export function readTrajectoryFile(path: string, meta: Partial<ImportMeta> = {}): ImportedTrajectory {
  const json: unknown = JSON.parse(stripBom(readFileSync(path, 'utf8')));
  const full: ImportMeta = {
    ...meta,
    instance_id: meta.instance_id ?? basename(path).replace(/(\.traj)?(\.json)?$/, ''),
  };
  if (typeof json === 'object' && json !== null && 'messages' in json) return readMiniSweAgentTraj(json, full);
  return readSweAgentTraj(json, full);
}
