/**
 * @fednode/node: the libp2p runtime (hosts, identities, admission, the update, model and
 * status protocols, gossip control), the daemon (`createNode`, run files, roles, write-ahead
 * log), decentralised peers (`createPeerNode`), merging (`runMerge`), the simulator and shaped
 * links for real runs (`ShapedNetwork`: network namespaces joined by tc-shaped veth pairs).
 */
export * from './net/index.js';
export * from './daemon/index.js';
export * from './peer/index.js';
export * from './merge/index.js';
export * from './web/index.js';
export { RUN_DOCUMENT_SCHEMA, checkRunDocument, loadRunDocument, type RunDocument } from './run-document.js';
export { startingParams } from './runtime/initial-model.js';
export { freePort } from './runtime/free-port.js';
export { STATUS_PROTOCOL, fetchStatus, type NodeStatus } from './runtime/status-protocol.js';
export { ShapedNetwork, shapingUnavailable, sweepStaleNamespaces, listNamespaces, type LinkSpec, type LinkBytes } from './sim/netns.js';
