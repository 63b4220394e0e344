/** Serving fednode to browsers: the page bundler with its platform seams, and a cross-origin isolated static server. */
export { bundleBrowserEntry, onnxruntimeWebDir, type Bundle, type BundleOptions } from './bundle.js';
export { serveStatic, ISOLATION_HEADERS, type StaticServer } from './static-server.js';
export { webJoinOf } from './join-of.js';
export { peerWebJoinOf } from './peer-join-of.js';
export { serveWebApp, type AppJoin, type WebApp, type WebAppOptions } from './serve-web.js';
export { mnistShareFile } from './page-rows.js';
export type { WebJoin } from '../browser-peer/join.js';
export type { PeerWebJoin } from '../browser-peer/peer-join.js';
export { encodeShareFile, decodeShareFile } from '../browser-peer/share-file.js';
