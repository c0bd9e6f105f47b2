/** The rollout agent's tools (SWE-agent's bash / str_replace_editor / submit) and their container runtime. */
export type { AgentToolCall, AgentToolResult, OpenAiTool, ToolRuntime } from './types';
export { BASH_TOOL, STR_REPLACE_EDITOR_TOOL, SUBMIT_TOOL, ROLLOUT_TOOLS } from './definitions';
export { StrReplaceEditor, type EditorFs, type EditorResult } from './editor';
export { truncateMiddle } from './truncate';
export {
  startContainerRuntime,
  sweepRolloutContainers,
  ToolEnvError,
  ROLLOUT_KIND,
  ROLLOUT_LABEL,
  type ContainerRuntimeOptions,
} from './container-runtime';
