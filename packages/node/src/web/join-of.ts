import { DaemonError } from '../runtime/errors.js';
import type { WebJoin } from '../browser-peer/join.js';
import { localTrainingOf, type RunFile } from '../daemon/run-file.js';

/**
 * A run document resolved to what a browser trainer needs (`WebJoin`): the same local training
 * the daemon trainers get from `localTrainingOf`, and the aggregator's WebSocket address.
 * Browser trainers train the MNIST MLP whole: other tasks, slices and FedProx's proximal term
 * are refused here, where the reason can be said, rather than in the page.
 */
export function webJoinOf(run: RunFile, aggregatorWs: string): WebJoin {
  if (run.task.name !== 'mlp' || run.task.dataset !== 'mnist') throw new DaemonError('RUN_FILE', `a browser trainer trains task mlp on mnist; this run is ${run.task.name} on ${run.task.dataset}`);
  if (run.slices !== undefined) throw new DaemonError('RUN_FILE', 'a browser trainer trains the whole model; this run slices it');
  if (!/\/(ws|wss)\/p2p\/[^/]+$/.test(aggregatorWs)) throw new DaemonError('RUN_FILE', `${aggregatorWs} is not a WebSocket multiaddr with /p2p/<id> (…/tcp/<port>/ws/p2p/<id>)`);
  const local = localTrainingOf(run);
  if (local.proximalMu !== undefined || local.partialWork === true || local.ownInit === true) {
    throw new DaemonError('RUN_FILE', `a browser trainer runs plain local training; strategy ${run.strategy.kind} asks for more`);
  }
  const admission = run.admission === 'open' ? undefined : run.admission;
  return {
    kind: 'trainer',
    runId: run.run,
    aggregator: aggregatorWs,
    seed: run.seed,
    rounds: run.rounds,
    model: { hidden: run.task.model?.hidden ?? 200, depth: run.task.model?.depth ?? 2 },
    codec: run.codec,
    local: {
      optimizer: local.optimizer,
      lr: run.local.lr,
      batch: run.local.batch,
      budget: local.budget,
      schedule: local.schedule,
      ...(local.clipGradNorm === undefined ? {} : { clipGradNorm: local.clipGradNorm }),
    },
    keyRequired: admission?.psk !== undefined,
    timeoutMs: (run.limits?.timeoutS ?? 30) * 1000,
  };
}
