import { resolve } from 'node:path';
import type { ParamSet } from '@fednode/core';
import { inLayout, readCheckpoint } from '../merge/checkpoint-file.js';
import { DaemonError } from '../runtime/errors.js';
import { taskOf, type RunFile } from './run-file.js';

/**
 * Version 0 of a run: the run file's `initialModel` checkpoint (its task's layout, any tensor
 * order, stored F32/F16/BF16), else the task's seeded initialisation. `source` says which.
 */
export function initialModel(run: RunFile, baseDir: string): { params: ParamSet; source: string } {
  const task = taskOf(run);
  if (run.initialModel === undefined) return { params: task.initialParams(run.seed), source: `seed ${run.seed}` };
  const path = resolve(baseDir, run.initialModel);
  try {
    const params = inLayout(readCheckpoint(path), task.specs, `task ${task.name}`);
    if (!params.data.every(Number.isFinite)) throw new Error('it holds NaN or Infinity');
    return { params, source: path };
  } catch (e) {
    throw new DaemonError('RUN_FILE', `initialModel ${path}: ${(e as Error).message}`);
  }
}
