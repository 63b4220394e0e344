/** What every role of a node shares: the run, the host, admission, limits, logs, metrics and events. */
import { EventEmitter } from 'node:events';
import type { WireLimits } from '@fednode/core';
import type { Admission } from '../net/admission.js';
import type { FedHost } from '../net/host.js';
import type { ControlChannel } from '../net/control.js';
import type { Logger } from '../runtime/log.js';
import type { Metrics } from '../runtime/metrics.js';
import type { RunFile } from './run-file.js';

/** The events a node emits, with their payloads (see `FedNode.on`). */
export interface NodeEventMap {
  /** The aggregator opened a round (or, on a trainer, learned that one is open). */
  roundOpened: [{ readonly round: number; readonly version: number; readonly deadlineUnixMs: number | null }];
  /** A trainer received the global model it will train from. */
  modelReceived: [{ readonly version: number; readonly round: number; readonly parameters: number }];
  /** An update was accepted: on the aggregator, from `peer`; on a trainer, ours by the aggregator. */
  updateAccepted: [{ readonly role: 'aggregator' | 'trainer'; readonly peer: string; readonly round: number; readonly sequence: number; readonly version: number }];
  /** An update was refused (by the aggregator, or ours refused to a trainer), with the code and reason. */
  updateRefused: [{ readonly role: 'aggregator' | 'trainer'; readonly peer: string; readonly code: string; readonly reason: string }];
  /** The aggregator made and checkpointed a new version. */
  versionAnnounced: [{ readonly version: number; readonly round: number; readonly participants: readonly string[]; readonly metrics: Readonly<Record<string, number>> }];
  /** The aggregator evaluated a version on the run's test rows. */
  evaluated: [{ readonly version: number; readonly accuracy: number; readonly loss: number }];
  /** The run is complete for this node (the last version made, or seen by a trainer). */
  done: [{ readonly version: number }];
  /** A failure the node cannot continue after; it stops itself. */
  error: [Error];
}

export class NodeEvents extends EventEmitter<NodeEventMap> {}

export interface NodeContext {
  readonly run: RunFile;
  readonly host: FedHost;
  readonly peerId: string;
  readonly admission: Admission;
  readonly limits: WireLimits;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly events: NodeEvents;
  readonly control: ControlChannel;
}
