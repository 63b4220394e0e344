import { UsageError } from '../cli-support.js';
import type { RunFile } from '../daemon/run-file.js';
import type { PeerRunFile } from '../peer/peer-run-file.js';
import type { RunDocument } from '../run-document.js';
import { webJoinOf } from '../web/join-of.js';
import { mnistShareFile } from '../web/page-rows.js';
import { peerWebJoinOf } from '../web/peer-join-of.js';
import type { AppJoin } from '../web/serve-web.js';

/**
 * What `fednode web` serves for each kind of run: the join document and the files the page
 * loads beside it. A federated run is joined through its aggregator (`--aggregator`), a
 * decentralised one through its peers (`--peer`); the other kind's option is refused rather
 * than ignored, since it means the wrong run file or the wrong address was given.
 */

export interface WebFlags {
  readonly aggregator?: string;
  readonly peer: readonly string[];
  readonly rows?: readonly [number, number];
}

export interface ServedRun {
  readonly join: AppJoin;
  readonly files: Readonly<Record<string, Uint8Array>>;
}

const WS = /\/(ws|wss)\/p2p\//;

function trainerRun(path: string, run: RunFile, f: WebFlags): ServedRun {
  if (f.peer.length > 0) throw new UsageError(`${path} is a federated run: the page joins it through its aggregator (--aggregator), not --peer`);
  const aggregator = f.aggregator ?? run.network?.aggregator;
  if (aggregator === undefined || !WS.test(aggregator)) throw new UsageError("give the aggregator's WebSocket address: --aggregator /ip4/<ip>/tcp/<port>/ws/p2p/<id> (start it with --listen /ip4/<ip>/tcp/<port>/ws)");
  const start = run.data.trainRows ?? 0;
  // By default the 1000 rows after the run's training rows: data no daemon trainer holds.
  const rows = f.rows ?? ([start, Math.min(60_000, start + 1000)] as const);
  return { join: webJoinOf(run, aggregator), files: { 'share.bin': mnistShareFile('train', rows) } };
}

function peerRun(path: string, run: PeerRunFile, f: WebFlags): ServedRun {
  if (f.aggregator !== undefined) throw new UsageError(`${path} is a decentralised run (mode: decentralised): it has no aggregator; give its peers' WebSocket addresses with --peer`);
  const peers = f.peer.length > 0 ? f.peer : (run.network?.bootstrap ?? []).filter((a) => WS.test(a));
  if (peers.length === 0) throw new UsageError("give a peer's WebSocket address: --peer /ip4/<ip>/tcp/<port>/ws/p2p/<id> (start the peer with --listen /ip4/<ip>/tcp/<port>/ws)");
  // The peers' shares cover all of MNIST's training rows; by default the page trains the last 1000.
  const rows = f.rows ?? ([59_000, 60_000] as const);
  // The held-out rows the daemon peers score: the first evalSamples test rows.
  const held = Math.min(10_000, run.data.evalSamples ?? 2048);
  return { join: peerWebJoinOf(run, peers), files: { 'share.bin': mnistShareFile('train', rows), 'eval.bin': mnistShareFile('test', [0, held]) } };
}

export function servedRunOf(path: string, doc: RunDocument, f: WebFlags): ServedRun {
  return doc.mode === 'decentralised' ? peerRun(path, doc.run, f) : trainerRun(path, doc.run, f);
}
