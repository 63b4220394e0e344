/** TASK_UNKNOWN: no such task or dataset; TASK_SLICE: a sub-network the task cannot cut; TASK_DATA: a share or partition its data cannot give; TASK_OPTIONS: bad model sizes. */
export type TaskErrorCode = 'TASK_UNKNOWN' | 'TASK_SLICE' | 'TASK_DATA' | 'TASK_OPTIONS';

export class TaskError extends Error {
  constructor(
    readonly code: TaskErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TaskError';
  }
}
