import { resolve } from 'node:path';
import type { ParamSet, Task } from '@fednode/core';
import { inLayout, readCheckpoint } from '../merge/checkpoint-file.js';
import { DaemonError } from './errors.js';

/**
 * A run's starting parameters: the run document's `initialModel` checkpoint (its task's
 * layout, any tensor order, stored F32/F16/BF16; relative to the run document), else the
 * task's seeded initialisation. `source` says which, for the log.
 */
export function startingParams(task: Task, seed: number, file: string | undefined, baseDir: string): { params: ParamSet; source: string } {
  if (file === undefined) return { params: task.initialParams(seed), source: `seed ${seed}` };
  const path = resolve(baseDir, file);
  try {
    const params = inLayout(readCheckpoint(path), task.specs, `task ${task.name}`);
    if (!params.data.every(Number.isFinite)) throw new Error('it holds NaN or Infinity');
    return { params, source: path };
  } catch (e) {
    throw new DaemonError('RUN_FILE', `initialModel ${path}: ${(e as Error).message}`);
  }
}
