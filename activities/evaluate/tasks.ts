import { readFileSync } from 'node:fs';
import { EvalTask } from '../../contracts/evaluate';
import { readJsonValues, zodMessage, type InputProblem } from './input-problems';

/** What {@link readEvalTasks} found. */
export interface TasksRead {
  tasks: Map<string, EvalTask>;
  problems: InputProblem[];
}

/**
 * Reads validated task records (the build stage's `tasks` artifact, JSONL, or a JSON list): each
 * needs `instance_id`, `base_commit`, `test_patch`, `FAIL_TO_PASS`, `PASS_TO_PASS`, `image` and a
 * complete `install_config`. Bad records and repeated ids are problems located by file and line.
 */
export function readEvalTasks(file: string, text?: string): TasksRead {
  let body = text;
  if (body === undefined) {
    try {
      body = readFileSync(file, 'utf8');
    } catch (e) {
      return { tasks: new Map(), problems: [{ file, where: '0', message: (e as Error).message }] };
    }
  }
  const { values, problems } = readJsonValues(file, body);
  const tasks = new Map<string, EvalTask>();
  for (const v of values) {
    const parsed = EvalTask.safeParse(v.value);
    if (!parsed.success) {
      problems.push({ file, where: v.where, message: `invalid task record: ${zodMessage(parsed.error)}` });
      continue;
    }
    if (tasks.has(parsed.data.instance_id)) {
      problems.push({ file, where: v.where, message: `duplicate instance_id ${parsed.data.instance_id}` });
      continue;
    }
    tasks.set(parsed.data.instance_id, parsed.data);
  }
  if (values.length === 0 && problems.length === 0) problems.push({ file, where: '1', message: 'no task records' });
  return { tasks, problems };
}

/** The image tag of a task. */
export function imageTag(task: EvalTask): string {
  return typeof task.image === 'string' ? task.image : task.image.tag;
}
