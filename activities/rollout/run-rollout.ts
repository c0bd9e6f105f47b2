import type Docker from 'dockerode';
import {
  InstallConfig,
  Trajectory,
  TRAJECTORY_SCHEMA_VERSION,
  type InstanceReport,
  type RolloutConfig,
} from '../../contracts';
import { gradeInstance, judgeLog, recordedTestScope, runTaskTests } from '../grading';
import { openaiPolicy, replayGoldPolicy, runAgent, type AgentMessage, type AgentStep, type Policy } from './agent';
import { readSecret } from '../secrets';
import { containerStartSlot, endpointLimit } from './limits';
import { startContainerRuntime } from './tools';

/** A validated task as the build stage writes it (`tasks.validated.jsonl`). */
export interface RolloutTask {
  instance_id: string;
  repo: string;
  base_commit: string;
  patch: string;
  test_patch: string;
  problem_statement: string;
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
  image: { tag: string; id: string };
  install_config: unknown;
  /** The tests it was validated with (`files` / `suite`); absent on tasks built before scopes: `suite`. */
  test_scope?: unknown;
}

/** One finished rollout: the stored trajectory (messages, steps, exit, patch, grading, label). */
export type RolloutRecord = Trajectory;

/** What {@link runOneRollout} needs from its caller. */
export interface RolloutDeps {
  docker: Docker;
  env: NodeJS.ProcessEnv;
  tokenizer: { count(text: string): number };
  /** Saves the conversation so far after each step (a crash keeps finished steps). */
  saveProgress: (partial: { messages: AgentMessage[]; steps: AgentStep[] }) => Promise<void>;
  progress: (what: string) => void;
  /**
   * The activity's cancellation: the agent's container is removed at once, the grading container
   * killed and removed, no further container starts, and the rollout rejects with the reason.
   */
  signal?: AbortSignal;
  /** Labels of every container the rollout starts (e.g. `bottega.experiment`). */
  labels?: Record<string, string>;
}

/**
 * The sampling seed of rollout `index`: the spec's seed plus the rollout index, so the k rollouts
 * of a task are distinct samples yet each is reproducible (undefined when the spec sets none).
 */
export function rolloutSeed(config: RolloutConfig, index: number): number | undefined {
  return config.sampling.seed === undefined ? undefined : config.sampling.seed + index;
}

function policyFor(
  task: RolloutTask,
  cfg: InstallConfig,
  config: RolloutConfig,
  env: NodeJS.ProcessEnv,
  seed: number | undefined
): Policy {
  if (config.policy === 'replay-gold') {
    return replayGoldPolicy({
      task: { patch: task.patch, test_patch: task.test_patch, FAIL_TO_PASS: task.FAIL_TO_PASS, test_cmd: cfg.test_cmd },
    });
  }
  const apiKey = readSecret(env, config.api_key_env);
  return openaiPolicy({
    baseUrl: config.endpoint,
    ...(apiKey ? { apiKey } : {}),
    model: config.model,
    temperature: config.sampling.temperature,
    topP: config.sampling.top_p,
    maxTokens: config.sampling.max_tokens,
    ...(seed !== undefined ? { seed } : {}),
    toolMode: config.tool_mode,
  });
}

/**
 * Runs one rollout of `task`: a fresh container from the task's image, the agent loop with the
 * configured policy and limits, then grading of the final patch in another fresh container
 * (agent edits to test files reverted, `test_patch` applied), labelled pass or fail. The rollout
 * container is always removed.
 */
export async function runOneRollout(
  input: { task: RolloutTask; index: number; config: RolloutConfig },
  deps: RolloutDeps
): Promise<RolloutRecord> {
  const { task, index, config } = input;
  const cfg = InstallConfig.parse(task.install_config);
  const seed = rolloutSeed(config, index);
  const inner = policyFor(task, cfg, config, deps.env, seed);
  // Every rollout of this worker shares one bound on calls to the same endpoint.
  const limit = endpointLimit(config.endpoint, config.endpoint_concurrency);
  const policy: Policy =
    config.policy === 'openai' ? { ...inner, next: (m, t) => limit(() => inner.next(m, t)) } : inner;
  const startedAt = new Date().toISOString();
  deps.progress('waiting for a container start slot');
  await containerStartSlot(config.container_starts_per_s);
  const signal = deps.signal ? { signal: deps.signal } : {};
  deps.progress('starting container');
  const runtime = await startContainerRuntime(deps.docker, {
    image: task.image.tag,
    limits: { cpus: config.container.cpus, memoryMb: config.container.memory_mb, pids: config.container.pids },
    network: false,
    commandTimeoutMs: config.limits.command_timeout_s * 1000,
    maxOutputChars: 10_000,
    labels: { ...deps.labels, 'bottega.instance': task.instance_id, 'bottega.rollout': String(index) },
    ...signal,
  });
  let result;
  try {
    result = await runAgent({
      policy,
      runtime,
      task: { instance_id: task.instance_id, problem_statement: task.problem_statement },
      limits: {
        maxSteps: config.limits.max_steps,
        maxTotalTokens: config.limits.max_total_tokens,
        wallClockMs: config.limits.wall_clock_s * 1000,
        ...(config.limits.max_cost_usd !== undefined ? { maxCostUsd: config.limits.max_cost_usd } : {}),
        maxFormatErrors: config.limits.max_format_errors,
      },
      tokenizer: deps.tokenizer,
      onStep: async (_step, i, messages) => {
        deps.progress(`step ${i + 1}`);
        await deps.saveProgress({ messages: [...messages], steps: [] });
      },
      ...signal,
    });
  } finally {
    await runtime.close();
  }

  deps.progress('grading');
  let report: InstanceReport | null = null;
  if (result.finalPatch !== null && result.finalPatch.trim() !== '') {
    const log = await runTaskTests(deps.docker, {
      image: task.image.tag,
      task,
      config: cfg,
      scope: recordedTestScope(task),
      patch: result.finalPatch,
      timeoutMs: config.limits.command_timeout_s * 1000 * 5,
      limits: { cpus: config.container.cpus, memoryMb: config.container.memory_mb, pids: config.container.pids },
      labels: { ...deps.labels, 'bottega.instance': task.instance_id, 'bottega.rollout': String(index) },
      ...signal,
    });
    const applied = judgeLog(cfg.log_parser, log).reason !== 'patch_apply_failed';
    report = gradeInstance({ task, patch: result.finalPatch, applied, log, parser: cfg.log_parser });
  }
  return Trajectory.parse({
    schema_version: TRAJECTORY_SCHEMA_VERSION,
    id: `${task.instance_id}#${index}`,
    instance_id: task.instance_id,
    rollout_index: index,
    policy: config.policy,
    model: result.policy.model,
    sampling: { ...config.sampling, ...(seed !== undefined ? { seed } : {}) },
    messages: result.messages,
    steps: result.steps.map((st) => ({
      message_index: st.message_index,
      started_at: st.started_at,
      duration_ms: st.duration_ms,
      usage: { prompt_tokens: st.usage?.prompt_tokens ?? 0, completion_tokens: st.usage?.completion_tokens ?? 0 },
      tool_durations_ms: st.tool_durations_ms,
    })),
    exit_reason: result.exitReason,
    exit_detail: result.exitDetail,
    final_patch: result.finalPatch ?? '',
    report,
    label: report?.resolved ? 'pass' : 'fail',
    tokens: { total: result.tokens, by_role: result.tokensByRole },
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    prompt_version: result.promptVersion,
    cost_usd: result.costUsd,
  });
}
