import type { WireLimits } from '@fednode/core';
import type { PeerRunFile } from '../peer/peer-run-file.js';
import type { PeerRoleSettings } from '../peer/settings.js';

/**
 * What a page needs to join a decentralised run as a peer, resolved from the run document on
 * the Node side (`peerWebJoinOf`) so the page never parses run files: the run's settings in
 * numbers, the synchronisation section DeMo reads, the model, and the WebSocket addresses of
 * peers to dial. As for trainers, the pre-shared key is not in it.
 */
export interface PeerWebJoin {
  /** What joins: a page tells a peer's join from a trainer's by it. */
  readonly kind: 'peer';
  readonly runId: string;
  readonly seed: number;
  /** Peers' WebSocket multiaddrs with /p2p/<id>: the page dials them at start (it listens on nothing). */
  readonly bootstrap: readonly string[];
  /** The MNIST MLP's hidden width and depth (the task `mlp` every peer of the run trains). */
  readonly model: { readonly hidden: number; readonly depth: number };
  readonly settings: PeerRoleSettings;
  /** The run's sync section (DeMo's options, the learning-rate schedule, the batch). */
  readonly sync: PeerRunFile['sync'];
  readonly limits: WireLimits;
  /** Whether the run needs its pre-shared key (private network and /fednode/auth/1). */
  readonly keyRequired: boolean;
  /** Longest wait for each network step, ms. */
  readonly timeoutMs: number;
  /**
   * The hash of the run's initial parameters as Node derives them: a page that derives others
   * (another model build, another initialiser) would diverge at the first checkpoint, so it
   * refuses to start instead.
   */
  readonly initialHash: string;
}
