/**
 * A page script for the browser-peer test: joins a decentralised run with `BrowserPeer` from
 * `@fednode/node/browser`, given the join, the key and the page's share file, and keeps what
 * the peer reports for the Node side (which reads it through page.evaluate).
 */
import { BrowserPeer, decodeShareFile, type BrowserPeerEvent, type PeerStatus, type PeerWebJoin } from '@fednode/node/browser';

export interface PeerPageJoin {
  readonly join: PeerWebJoin;
  readonly psk: string;
  /** The page's share file (FNSH), base64. */
  readonly share64: string;
  readonly shard: number;
  readonly threads: number;
}

export interface PeerPageState {
  readonly peerId: string | null;
  /** Everything but log lines below warn. */
  readonly events: BrowserPeerEvent[];
  readonly status: PeerStatus | null;
  readonly done: { step: number; hash: string } | null;
  readonly error: string | null;
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let peer: BrowserPeer | null = null;
const events: BrowserPeerEvent[] = [];
let done: { step: number; hash: string } | null = null;
let error: string | null = null;

async function join(p: PeerPageJoin): Promise<string> {
  const rows = decodeShareFile(fromBase64(p.share64), 'the page share');
  const b = await BrowserPeer.create({
    join: p.join,
    psk: p.psk,
    rows,
    shard: p.shard,
    threads: p.threads,
    wasmPaths: new URL('/ort/', import.meta.url).href,
    logLevel: 'warn',
    onEvent: (e) => events.push(e),
  });
  peer = b;
  b.done.then(
    (d) => (done = d),
    (e: Error) => (error = e.message),
  );
  await b.start();
  return b.peerId;
}

const state = (): PeerPageState => ({ peerId: peer?.peerId ?? null, events, status: peer?.status() ?? null, done, error });

async function stop(): Promise<void> {
  await peer?.stop();
}

const api = { join, state, stop };
export type PeerPageApi = typeof api;
(globalThis as { fednodePeerPage?: PeerPageApi }).fednodePeerPage = api;
