import type { PeerRunFile } from './peer-run-file.js';

/**
 * Synchronisation steps of the run: each inner step for DeMo, each outer step for DiLoCo.
 * A module of its own because the page's peer needs it and cannot load the run-file checker.
 */
export function syncSteps(run: PeerRunFile): number {
  return run.sync.algorithm === 'diloco' ? Math.floor(run.sync.steps / run.sync.diloco!.innerSteps) : run.sync.steps;
}
