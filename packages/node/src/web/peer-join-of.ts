import type { PeerWebJoin } from '../browser-peer/peer-join.js';
import { paramsHash } from '../peer/peer-role.js';
import { peerRoleSettings, peerWireLimits, type PeerRunFile } from '../peer/peer-run-file.js';
import { peerTaskOf } from '../peer/peer-task.js';
import { DaemonError } from '../runtime/errors.js';

/**
 * A decentralised run document resolved to what a browser peer needs (`PeerWebJoin`). Browser
 * peers train the MNIST MLP with DeMo, admitted by the run's key (or an open run): other
 * tasks, DiLoCo and allowlists are refused here, where the reason can be said, not in the page.
 */
export function peerWebJoinOf(run: PeerRunFile, bootstrap: readonly string[]): PeerWebJoin {
  if (run.task.name !== 'mlp' || run.task.dataset !== 'mnist') throw new DaemonError('RUN_FILE', `a browser peer trains task mlp on mnist; this run is ${run.task.name} on ${run.task.dataset}`);
  if (run.sync.algorithm !== 'demo') throw new DaemonError('RUN_FILE', `a browser peer synchronises with DeMo; this run uses ${run.sync.algorithm}`);
  const admission = run.admission === 'open' || run.admission === undefined ? undefined : run.admission;
  // A page's identity is fresh each time it loads: no allowlist can name it.
  if ((admission?.allow ?? []).length > 0) throw new DaemonError('RUN_FILE', 'a browser peer joins runs admitted by their key (admission.psk) or open runs, not allowlists');
  if (bootstrap.length === 0) throw new DaemonError('RUN_FILE', 'a browser peer needs the WebSocket address of at least one peer of the run');
  for (const a of bootstrap) {
    if (!/\/(ws|wss)\/p2p\/[^/]+$/.test(a)) throw new DaemonError('RUN_FILE', `${a} is not a WebSocket multiaddr with /p2p/<id> (…/tcp/<port>/ws/p2p/<id>)`);
  }
  return {
    kind: 'peer',
    runId: run.run,
    seed: run.seed,
    bootstrap: [...bootstrap],
    model: { hidden: run.task.model?.hidden ?? 200, depth: run.task.model?.depth ?? 2 },
    settings: peerRoleSettings(run),
    sync: run.sync,
    limits: peerWireLimits(run),
    keyRequired: admission?.psk !== undefined,
    timeoutMs: (run.limits?.timeoutS ?? 30) * 1000,
    initialHash: paramsHash(peerTaskOf(run).initialParams(run.seed)),
  };
}
