/**
 * fednode's network layer: the libp2p host, identities, admission, the direct-stream
 * protocols (`/fednode/update/1`, `/fednode/model/1`, `/fednode/auth/1`) and the gossip
 * control channel. Importing it loads the Node 20 `Promise.withResolvers` polyfill first.
 */
import './polyfill.js';

export { NetError, Refused, refusalOf, type NetErrorCode } from './errors.js';
export { generateIdentity, loadIdentity, saveIdentity, peerIdOf } from './identity.js';
export { createHost, hostAddr, hostPeerId, type FedHost, type HostOptions, type HostServices } from './host.js';
export { FrameReader, drained, encodeLength, expectFrame, writeFrame, type FrameReaderOptions, type WriteOptions } from './frames.js';
export { openStream, toDialTarget, type OpenOptions, type PeerTarget } from './dial.js';
export { AUTH_PROTOCOL, Admission, NOT_ADMITTED, type AdmissionOptions, type AdmissionPolicy } from './admission.js';
export { networkKeyOf } from './private-network.js';
export { UPDATE_PROTOCOL, pushUpdate, serveUpdates, type PushOptions, type UpdateServerOptions } from './update-protocol.js';
export {
  MODEL_NOT_FOUND,
  MODEL_PROTOCOL,
  pullModel,
  serveModels,
  type ModelServerOptions,
  type ProvidedModel,
  type PullOptions,
  type PulledModel,
} from './model-protocol.js';
export { controlTopic, joinControl, type ControlChannel, type ControlOptions } from './control.js';
