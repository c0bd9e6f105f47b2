/**
 * The rollout agent's tools, as OpenAI function-tool definitions: SWE-agent's `bash`,
 * `str_replace_editor` and `submit` (descriptions follow SWE-agent's tool bundles).
 */
import type { OpenAiTool } from './types';

export const BASH_TOOL: OpenAiTool = {
  type: 'function',
  function: {
    name: 'bash',
    description:
      'Runs the given command in a bash shell (in /testbed, the repository root) and returns its output.\n' +
      '* Each call runs in a fresh shell: `cd`, variables and functions do not carry over to the next call.\n' +
      '* Commands that run longer than the time limit are killed; long outputs are truncated in the middle.\n' +
      '* Do not run interactive commands (editors, pagers, REPLs); there is no network access.',
    parameters: {
      type: 'object',
      properties: {
        command: { type: 'string', description: 'The bash command to run.' },
      },
      required: ['command'],
    },
  },
};

export const STR_REPLACE_EDITOR_TOOL: OpenAiTool = {
  type: 'function',
  function: {
    name: 'str_replace_editor',
    description:
      'Custom editing tool for viewing, creating and editing files\n' +
      '* State is persistent across command calls and discussions with the user\n' +
      '* If `path` is a file, `view` displays the result of applying `cat -n`. If `path` is a directory, `view` lists non-hidden files and directories up to 2 levels deep\n' +
      '* The `create` command cannot be used if the specified `path` already exists as a file\n' +
      '* If a `command` generates a long output, it will be truncated and marked with `<response clipped>`\n' +
      '* The `undo_edit` command will revert the last edit made to the file at `path`\n' +
      '\n' +
      'Notes for using the `str_replace` command:\n' +
      '* The `old_str` parameter should match EXACTLY one or more consecutive lines from the original file. Be mindful of whitespaces!\n' +
      '* If the `old_str` parameter is not unique in the file, the replacement will not be performed. Make sure to include enough context in `old_str` to make it unique\n' +
      '* The `new_str` parameter should contain the edited lines that should replace the `old_str`',
    parameters: {
      type: 'object',
      properties: {
        command: {
          type: 'string',
          enum: ['view', 'create', 'str_replace', 'insert', 'undo_edit'],
          description:
            'The commands to run. Allowed options are: `view`, `create`, `str_replace`, `insert`, `undo_edit`.',
        },
        path: {
          type: 'string',
          description: 'Absolute path to file or directory, e.g. `/testbed/file.py` or `/testbed`.',
        },
        file_text: {
          type: 'string',
          description: 'Required parameter of `create` command, with the content of the file to be created.',
        },
        old_str: {
          type: 'string',
          description: 'Required parameter of `str_replace` command containing the string in `path` to replace.',
        },
        new_str: {
          type: 'string',
          description:
            'Optional parameter of `str_replace` command containing the new string (if not given, no string will be added). Required parameter of `insert` command containing the string to insert.',
        },
        insert_line: {
          type: 'integer',
          description:
            'Required parameter of `insert` command. The `new_str` will be inserted AFTER the line `insert_line` of `path`.',
        },
        view_range: {
          type: 'array',
          items: { type: 'integer' },
          description:
            'Optional parameter of `view` command when `path` points to a file. If none is given, the full file is shown. If provided, the file will be shown in the indicated line number range, e.g. [11, 12] will show lines 11 and 12. Indexing at 1 to start. Setting `[start_line, -1]` shows all lines from `start_line` to the end of the file.',
        },
      },
      required: ['command', 'path'],
    },
  },
};

export const SUBMIT_TOOL: OpenAiTool = {
  type: 'function',
  function: {
    name: 'submit',
    description:
      'Submits your current changes (the diff of the repository against the base commit, new files included) and ends the task.',
    parameters: { type: 'object', properties: {} },
  },
};

/** The tool set the rollouts use, in the order shown to the model. */
export const ROLLOUT_TOOLS: OpenAiTool[] = [BASH_TOOL, STR_REPLACE_EDITOR_TOOL, SUBMIT_TOOL];
