/**
 * @fednode/node in a browser (the "browser" export condition): a trainer peer for a page —
 * libp2p over WebSockets with the run's private network and admission, the model, update and
 * status protocols, and the trainer's round. Node's daemon, files and CLI are not here.
 */
export { BrowserTrainer, type BrowserTrainerEvent, type BrowserTrainerOptions, type SavedTrainer, type TrainerMemory } from './browser-peer/trainer.js';
export type { WebJoin } from './browser-peer/join.js';
export { decodeShareFile } from './browser-peer/share-file.js';
export { createHost, hostPeerId, type FedHost, type HostOptions } from './net/host.js';
export { generateIdentity, identityFromBytes, identityToBytes, peerIdOf } from './net/keys.js';
export { Admission, AUTH_PROTOCOL, NOT_ADMITTED, type AdmissionPolicy } from './net/admission.js';
export { networkKeyOf } from './net/private-network.js';
export { NetError } from './net/errors.js';
export { pullModel, type PulledModel } from './net/model-protocol.js';
export { pushUpdate } from './net/update-protocol.js';
export { fetchStatus, type AggregatorStatus, type NodeStatus } from './runtime/status-protocol.js';
