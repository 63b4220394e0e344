import type { ParamSet } from '@fednode/core';
import { startingParams } from '../runtime/initial-model.js';
import { taskOf, type RunFile } from './run-file.js';

/** Version 0 of a federated run: its `initialModel` checkpoint, else the task's seeded initialisation. */
export function initialModel(run: RunFile, baseDir: string): { params: ParamSet; source: string } {
  return startingParams(taskOf(run), run.seed, run.initialModel, baseDir);
}
