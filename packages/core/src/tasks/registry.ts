import { TaskError } from './errors.js';
import { CNN_TASK, MLP_TASK } from './image.js';
import { MOE_TRANSFORMER_TASK, TRANSFORMER_TASK } from './text.js';
import type { Task, TaskFactory, TaskOptions } from './types.js';

/** Every task a runtime can select by name. A new task is one entry here. */
export const TASKS: ReadonlyMap<string, TaskFactory> = new Map([MLP_TASK, CNN_TASK, TRANSFORMER_TASK, MOE_TRANSFORMER_TASK].map((t) => [t.name, t]));

export function taskFactory(name: string): TaskFactory {
  const f = TASKS.get(name);
  if (f === undefined) throw new TaskError('TASK_UNKNOWN', `no task "${name}"; known: ${[...TASKS.keys()].join(', ')}`);
  return f;
}

/** The task a run names, on its dataset. */
export function createTask(name: string, options: TaskOptions): Task {
  const f = taskFactory(name);
  if (!f.datasets.includes(options.dataset)) throw new TaskError('TASK_UNKNOWN', `task ${name} trains on ${f.datasets.join(' or ')}, not ${options.dataset}`);
  return f.create(options);
}
