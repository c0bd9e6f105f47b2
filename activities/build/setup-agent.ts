/**
 * The optional LLM setup agent of the build stage (after SWE-rebench V2): when neither the record,
 * the spec's recipe nor the heuristics yield an environment that builds, a model behind any
 * OpenAI-compatible endpoint explores the repository in a sandbox container (no network, resource
 * limits) and proposes an `install_config`. The proposal is only a proposal: the caller builds
 * and validates it like any other recipe and accepts it only if the task validates.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { SetupAgentConfig } from '../../contracts/build';
import { InstallConfig, LogParserName } from '../../contracts/task';
import { chatCompletion, type ChatMessage, type ToolCall } from '../llm/openai-client';
import { execInContainer, repoContext, VENV, venvPreamble } from './docker';
import { buildFromContext, errorMessage, imageId } from './docker/build';
import type { RunLimits } from './docker/run';
import { contentHash, directoryDigest, repoSlug } from './docker/tags';

/** Bump when the probe image's Dockerfile changes meaning. */
const PROBE_TEMPLATE = 1;
/** Characters of one command's output the model sees (head and tail kept). */
export const MAX_TOOL_OUTPUT_CHARS = 10_000;
/** Replies without a tool call tolerated before the agent gives up. */
const MAX_IDLE_REPLIES = 2;

/** One message of the agent's conversation, as stored (never holds the API key). */
export interface TranscriptMessage {
  role: string;
  content: string | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export interface ProposeInstallConfigOptions {
  docker: Docker;
  /** Base image the probe image is built from (Python preinstalled). */
  baseTag: string;
  /** The base image's Python version, major.minor (told to the model). */
  python: string;
  /** `owner/name`. */
  repo: string;
  /** Local git repository holding `envCommit`. */
  repoPath: string;
  envCommit: string;
  task: { instance_id: string; repo: string; problem_statement?: string };
  agent: SetupAgentConfig;
  /** Sent as a Bearer token when non-empty; never stored. */
  apiKey?: string | undefined;
  /** Host directory of wheels, copied to /wheels (pip installs from it only). */
  wheelhouse?: string | undefined;
  /** Why the usual recipe sources failed (shown to the model). */
  notes: string[];
  limits: RunLimits;
  /** Wall-clock limit of one `bash` command. */
  commandTimeoutMs: number;
  /** Called before each model turn (heartbeat). */
  onStep?: (step: number, what: string) => void;
  /** Test hook: replaces global fetch for the model calls. */
  fetchImpl?: typeof fetch;
  /**
   * Cancellation: once aborted no sandbox starts, the running one is removed at once and the call
   * rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /** Labels of the sandbox container, besides `bottega.kind=setup-agent`. */
  labels?: Record<string, string>;
}

export type SetupAgentStopReason = 'step_limit' | 'model_error' | 'no_proposal';

export interface ProposeInstallConfigResult {
  /** The proposal (a valid InstallConfig), or null when the agent stopped without one. */
  config: InstallConfig | null;
  /** Model turns taken. */
  steps: number;
  /** Why no proposal came (null when one did). */
  reason: SetupAgentStopReason | null;
  /** One line on the failure (e.g. the model error), null when none. */
  detail: string | null;
  transcript: TranscriptMessage[];
}

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'bash',
      description:
        'Run a bash command in the sandbox container (working directory /testbed, no network). ' +
        'Returns the exit code and the merged stdout/stderr (long output is truncated in the middle).',
      parameters: {
        type: 'object',
        properties: { command: { type: 'string', description: 'The bash command line to run.' } },
        required: ['command'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'submit_install_config',
      description:
        'Submit the final install_config. It is checked against the schema; if it is invalid, the problems ' +
        'come back and you may fix and resubmit. A valid submission ends the session.',
      parameters: {
        type: 'object',
        properties: {
          install_config: {
            type: 'object',
            properties: {
              python: { type: 'string', description: 'major.minor, e.g. "3.11"' },
              system_packages: { type: 'array', items: { type: 'string' } },
              pre_install: { type: 'array', items: { type: 'string' } },
              reqs_path: { type: 'array', items: { type: 'string' } },
              pip_packages: { type: 'array', items: { type: 'string' } },
              install: { type: 'array', items: { type: 'string' } },
              test_cmd: { type: 'string' },
              log_parser: { type: 'string', enum: LogParserName.options },
              env_vars: { type: 'object', additionalProperties: { type: 'string' } },
            },
            required: ['test_cmd', 'log_parser'],
          },
        },
        required: ['install_config'],
      },
    },
  },
];

function systemPrompt(python: string): string {
  return [
    'You set up the test environment of a Python repository for automated evaluation.',
    `You are in a Docker container (Python ${python}, virtualenv ${VENV} active). The repository is checked out at /testbed.`,
    'The network is OFF. Python packages can only be installed from the local wheelhouse at /wheels',
    '(pip is preconfigured with PIP_NO_INDEX=1 and PIP_FIND_LINKS=/wheels; list /wheels to see what exists).',
    '',
    'Goal: find an install_config whose install steps succeed offline in a fresh copy of this environment, and',
    "whose test_cmd runs the repository's test suite with per-test verbose output that the chosen log parser",
    'can read (for pytest use `python -m pytest -rA -p no:cacheprovider ...`; for unittest use `-v`).',
    '',
    'install_config fields (all run in /testbed, in this order):',
    '- python: interpreter version "major.minor" (default: keep the current one).',
    '- system_packages: Debian packages (need network: leave empty).',
    '- pre_install: shell commands run first.',
    '- reqs_path: requirement files installed with pip.',
    '- pip_packages: extra pip packages (e.g. the test runner).',
    '- install: shell commands that install the project (e.g. `pip install -e .`).',
    '- test_cmd (required): the test command.',
    `- log_parser (required): one of ${LogParserName.options.join(', ')}.`,
    '- env_vars: environment variables for install and test.',
    '',
    'Rules: do not install language runtimes or use the network; try commands with the bash tool before you',
    'submit; make sure the tests are actually collected and run (a command that runs no test is rejected).',
    'Finish by calling submit_install_config with the config.',
  ].join('\n');
}

function userPrompt(opts: ProposeInstallConfigOptions): string {
  const lines = [
    `Repository: ${opts.task.repo} (task ${opts.task.instance_id}).`,
    'The automatic recipe detection could not build or test it:',
    ...(opts.notes.length > 0 ? opts.notes.map((n) => `- ${n}`) : ['- (no details)']),
  ];
  const problem = opts.task.problem_statement?.trim();
  if (problem) lines.push('', 'Issue of the task (for context only; do not fix it):', problem.slice(0, 4000));
  lines.push('', 'Explore /testbed, work out how to install the project and run its tests, then submit.');
  return lines.join('\n');
}

/** Keeps the head and the tail of `text` when it is longer than `max` characters. */
export function truncateMiddle(text: string, max = MAX_TOOL_OUTPUT_CHARS): string {
  if (text.length <= max) return text;
  const half = Math.floor(max / 2);
  return `${text.slice(0, half)}\n[... ${text.length - 2 * half} characters truncated ...]\n${text.slice(-half)}`;
}

/**
 * Builds (or reuses, by content-hash tag) the probe image: the base image plus the env layer's
 * virtualenv, the wheelhouse at /wheels and the repository at `envCommit` in /testbed.
 */
export async function ensureProbeImage(
  docker: Docker,
  opts: Pick<ProposeInstallConfigOptions, 'baseTag' | 'repo' | 'repoPath' | 'envCommit' | 'wheelhouse'>
): Promise<string> {
  const wheelhouseDigest = opts.wheelhouse ? await directoryDigest(opts.wheelhouse) : null;
  const hash = contentHash({
    kind: 'probe',
    template: PROBE_TEMPLATE,
    baseTag: opts.baseTag,
    repo: opts.repo,
    envCommit: opts.envCommit,
    wheelhouseDigest,
  });
  const tag = `bottega/probe.${repoSlug(opts.repo)}:${hash.slice(0, 16)}`;
  if (await imageId(docker, tag)) return tag;

  const tmp = await mkdtemp(join(tmpdir(), 'bottega-probe-'));
  try {
    const ctx = await repoContext(tmp, opts);
    const lines = [
      ...venvPreamble(opts.baseTag),
      ...(opts.wheelhouse ? ['COPY wheels/ /wheels/', 'ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels'] : []),
      ...(opts.wheelhouse ? [] : ['ENV PIP_NO_INDEX=1']),
      'ADD src.tar /testbed/',
      'WORKDIR /testbed',
      'CMD ["sleep", "infinity"]',
    ];
    ctx.addData('Dockerfile', lines.join('\n') + '\n');
    await buildFromContext(docker, ctx, {
      stage: 'env',
      tag,
      networkMode: 'none',
      labels: {
        'bottega.kind': 'probe',
        'bottega.base': opts.baseTag,
        'bottega.repo': opts.repo,
        'bottega.env_commit': opts.envCommit,
      },
    });
    return tag;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `path: message` lines for a failed InstallConfig parse. */
function schemaProblems(value: unknown): { config: InstallConfig } | { problems: string[] } {
  const r = InstallConfig.safeParse(value);
  if (r.success) return { config: r.data };
  return {
    problems: r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'install_config'}: ${i.message}`),
  };
}

/**
 * Runs the setup agent: builds the probe image, starts one sandbox container from it and lets the
 * model explore with `bash` until it submits a schema-valid install_config (returned), runs out of
 * `max_steps` model turns, fails to answer, or twice answers without calling a tool. The container
 * is always removed. Throws only for Docker problems (e.g. an {@link ImageBuildError} of the probe).
 */
export async function proposeInstallConfig(opts: ProposeInstallConfigOptions): Promise<ProposeInstallConfigResult> {
  const { docker, agent } = opts;
  const image = await ensureProbeImage(docker, opts);
  const messages: ChatMessage[] = [
    { role: 'system', content: systemPrompt(opts.python) },
    { role: 'user', content: userPrompt(opts) },
  ];
  const result = (
    config: InstallConfig | null,
    steps: number,
    reason: SetupAgentStopReason | null,
    detail: string | null
  ): ProposeInstallConfigResult => ({
    config,
    steps,
    reason,
    detail,
    transcript: messages.map((m) => ({
      role: m.role,
      content: m.content,
      ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}),
      ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
    })),
  });

  const signal = opts.signal;
  signal?.throwIfAborted();
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['sleep', 'infinity'],
    WorkingDir: '/testbed',
    Labels: { ...opts.labels, 'bottega.kind': 'setup-agent' },
    HostConfig: {
      NetworkMode: 'none',
      NanoCpus: Math.round(opts.limits.cpus * 1e9),
      Memory: opts.limits.memoryMb * 1024 * 1024,
      MemorySwap: opts.limits.memoryMb * 1024 * 1024,
      PidsLimit: opts.limits.pids,
    },
  });
  // On cancellation the sandbox goes at once, even in the middle of a command.
  const removeNow = (): void => void container.remove({ force: true, v: true }).catch(() => {});
  signal?.addEventListener('abort', removeNow, { once: true });
  try {
    signal?.throwIfAborted();
    await container.start();
    let idle = 0;
    for (let step = 1; step <= agent.max_steps; step++) {
      signal?.throwIfAborted();
      opts.onStep?.(step, `setup agent step ${step}/${agent.max_steps}`);
      let reply;
      try {
        reply = await chatCompletion({
          baseUrl: agent.endpoint,
          apiKey: opts.apiKey,
          model: agent.model,
          messages,
          temperature: 0,
          tools: TOOLS,
          toolChoice: 'auto',
          ...(opts.fetchImpl ? { fetchImpl: opts.fetchImpl } : {}),
        });
      } catch (err) {
        signal?.throwIfAborted();
        return result(null, step, 'model_error', errorMessage(err));
      }
      messages.push({
        role: 'assistant',
        content: reply.content,
        ...(reply.toolCalls.length > 0 ? { tool_calls: reply.toolCalls } : {}),
      });
      if (reply.toolCalls.length === 0) {
        if (++idle >= MAX_IDLE_REPLIES) return result(null, step, 'no_proposal', 'the model stopped calling tools');
        messages.push({
          role: 'user',
          content: 'Use the tools: run commands with `bash`, and finish by calling `submit_install_config`.',
        });
        continue;
      }
      idle = 0;
      for (const call of reply.toolCalls) {
        const answer = (content: string) => messages.push({ role: 'tool', tool_call_id: call.id, content });
        let args: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(call.function.arguments || '{}');
          if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
          args = parsed as Record<string, unknown>;
        } catch (err) {
          answer(`error: the arguments are not a JSON object (${errorMessage(err)})`);
          continue;
        }
        if (call.function.name === 'bash') {
          if (typeof args.command !== 'string' || args.command.trim() === '') {
            answer('error: `command` must be a non-empty string');
            continue;
          }
          const r = await execInContainer(container, args.command, {
            timeoutMs: opts.commandTimeoutMs,
            workdir: '/testbed',
            maxOutputBytes: 1024 * 1024,
            ...(signal ? { signal } : {}),
          });
          const status = r.timedOut
            ? `timed out after ${Math.round(opts.commandTimeoutMs / 1000)} s`
            : `exit code ${r.exitCode ?? 'unknown'}`;
          answer(`[${status}]\n${truncateMiddle(r.output)}`);
        } else if (call.function.name === 'submit_install_config') {
          const checked = schemaProblems(args.install_config);
          if ('config' in checked) {
            answer('accepted for validation');
            return result(checked.config, step, null, null);
          }
          answer(
            `error: the install_config is invalid; fix these problems and submit again:\n${checked.problems.map((p) => `- ${p}`).join('\n')}`
          );
        } else {
          answer(`error: unknown tool "${call.function.name}"; the tools are bash and submit_install_config`);
        }
      }
    }
    return result(null, agent.max_steps, 'step_limit', `no valid proposal within ${agent.max_steps} steps`);
  } finally {
    signal?.removeEventListener('abort', removeNow);
    await container.remove({ force: true, v: true }).catch(() => {});
  }
}
