/** What the step count depends on (a peer run file's `sync` section). */
interface SyncSection {
  readonly algorithm: string;
  readonly steps: number;
  readonly diloco?: { readonly innerSteps: number };
}

/**
 * Synchronisation steps of the run: each inner step for DeMo, each outer step for DiLoCo.
 * A module of its own because the page's peer needs it and cannot load the run-file checker.
 */
export function syncSteps(run: { readonly sync: SyncSection }): number {
  return run.sync.algorithm === 'diloco' ? Math.floor(run.sync.steps / run.sync.diloco!.innerSteps) : run.sync.steps;
}
