export { createPeerNode, type PeerNode, type PeerNodeConfig } from './peer-node.js';
export { PEER_RUN_FILE_SCHEMA, checkPeerRunFile, loadPeerRunFile, type PeerRunFile } from './peer-run-file.js';
export { paramsHash, type PeerStatus, type PeerStepRecord } from './peer-role.js';
export { syncTopic } from './sync-channel.js';
export { PeerTask, peerTaskOf, type PeerTaskOptions } from './peer-task.js';
