/** The agent loop's view of its tools: OpenAI function-tool definitions and a runtime that executes calls. */

/** One tool call the model made (OpenAI `tool_calls[i]`, arguments already parsed from JSON). */
export interface AgentToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

/** What a tool call produced: the observation shown to the model, plus bookkeeping. */
export interface AgentToolResult {
  /** The observation (already truncated in the middle when too long). */
  output: string;
  /** The command's exit status (0 for a successful editor call, 1 for a rejected one); null if none. */
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** Set by `submit`: the final patch (`git diff` against the base commit, new files included). */
  submitted?: { patch: string };
}

/** An OpenAI chat-completions function tool. */
export interface OpenAiTool {
  type: 'function';
  function: { name: string; description: string; parameters: object };
}

/** Executes tool calls in one sandbox; `close()` releases it (always safe to call again). */
export interface ToolRuntime {
  readonly tools: OpenAiTool[];
  call(c: AgentToolCall): Promise<AgentToolResult>;
  close(): Promise<void>;
}
