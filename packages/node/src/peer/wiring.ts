/**
 * A decentralised peer's parts on a running host, wired alike wherever the peer runs (the
 * daemon's process shell, a browser page): the role, its gossip sync channel, the model
 * server joiners pull from, and the links that keep it connected. Only the training (the
 * algorithm and its task) and where logs and metrics go differ between the two.
 */
import type { ParamSet } from '@fednode/core';
import { serveModels } from '../net/model-protocol.js';
import type { Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metric-series.js';
import type { ShellNet } from '../runtime/run-net.js';
import type { SyncAlgorithm } from './algorithms.js';
import { PeerLinks } from './links.js';
import { PeerRole, type PeerRoleSettings } from './peer-role.js';
import { joinSync, type SyncChannel } from './sync-channel.js';

export interface PeerWiring {
  readonly settings: PeerRoleSettings;
  readonly algo: SyncAlgorithm;
  /** The model's initial parameters: their size and tensor count bound what a contribution may weigh. */
  readonly initial: ParamSet;
  readonly evaluate: (params: ParamSet) => Promise<{ loss: number; accuracy: number }>;
  /** Where this peer listens (none for a page), sent in heartbeats. */
  readonly addrs: () => string[];
  readonly log: Logger;
  readonly metrics: Metrics;
  /** See PeerRoleOptions.rejoinWhenCutOff. */
  readonly rejoinWhenCutOff?: boolean;
}

export interface WiredPeer {
  readonly role: PeerRole;
  /** Serves models, starts the links and the role's loop. */
  start(): Promise<void>;
  /** Stops the role first, so nothing it still does needs what closes after it. */
  stop(): Promise<void>;
}

/** Builds the parts; the role exists on return, so the caller can route control messages to it before start. */
export function wirePeer(net: ShellNet, w: PeerWiring): WiredPeer {
  const { host, peerId, admission, control, acceptFrom, limits, timeoutMs: netTimeoutMs, bootstrap } = net;
  const links = new PeerLinks(host, bootstrap, w.log);
  const role = new PeerRole(host, peerId, w.algo, control, null, admission, w.log, w.metrics, {
    ...w.settings,
    netTimeoutMs,
    evaluate: w.evaluate,
    addrs: w.addrs,
    onHeartbeat: (peer, addrs) => links.heard(peer, addrs),
    rejoinWhenCutOff: w.rejoinWhenCutOff,
  });
  const sync: SyncChannel = joinSync(host, w.settings.runId, {
    limits,
    // A dense fp32 update of the whole model, plus room for headers: no codec sends more.
    maxContributionBytes: Math.ceil(w.initial.size * 4 * 1.1) + 1024 * 1024,
    modelTensors: w.initial.specs.length,
    acceptFrom,
    window: () => role.window(),
    onContribution: (from, step, update, bytes) => role.onContribution(from, step, update, bytes),
    onDropped: (from, why) => w.log.log('debug', 'sync.dropped', { from, why }),
  });
  role.attach(sync);
  let stopModels: (() => Promise<void>) | null = null;
  return {
    role,
    async start() {
      stopModels = await serveModels(host, { limits, timeoutMs: netTimeoutMs, admission, provide: (req) => role.provide(req.version) });
      links.start();
      role.start();
    },
    async stop() {
      await role.stop().catch(() => undefined);
      await stopModels?.().catch(() => undefined);
      links.stop();
      sync.leave();
    },
  };
}
