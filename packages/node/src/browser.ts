/**
 * @fednode/node in a browser (the "browser" export condition): a trainer for a federated run
 * and a DeMo peer for a decentralised one, for a page — libp2p over WebSockets with the run's
 * private network and admission, the model, update, status and gossip protocols, the trainer's
 * round and the decentralised peer's role. Node's daemon, files and CLI are not here.
 */
export { BrowserTrainer, type BrowserTrainerEvent, type BrowserTrainerOptions, type SavedTrainer, type TrainerMemory } from './browser-peer/trainer.js';
export type { WebJoin } from './browser-peer/join.js';
export { BrowserPeer, type BrowserPeerEvent, type BrowserPeerOptions } from './browser-peer/peer.js';
export type { PeerWebJoin } from './browser-peer/peer-join.js';
export { paramsHash, type PeerStatus, type PeerStepRecord } from './peer/peer-role.js';
export { decodeShareFile } from './browser-peer/share-file.js';
export { createHost, hostPeerId, type FedHost, type HostOptions } from './net/host.js';
export { generateIdentity, identityFromBytes, identityToBytes, peerIdOf } from './net/keys.js';
export { Admission, AUTH_PROTOCOL, NOT_ADMITTED, type AdmissionPolicy } from './net/admission.js';
export { networkKeyOf } from './net/private-network.js';
export { NetError } from './net/errors.js';
export { pullModel, type PulledModel } from './net/model-protocol.js';
export { pushUpdate } from './net/update-protocol.js';
export { fetchStatus, type AggregatorStatus, type NodeStatus } from './runtime/status-protocol.js';
