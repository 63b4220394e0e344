/**
 * Platform seam: the typed event emitter a decentralised peer reports through. Node's own;
 * the browser build swaps in emitter.browser.ts (pages have no node:events).
 */
export { EventEmitter } from 'node:events';
