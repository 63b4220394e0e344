/**
 * The example browser app: joins the run described by a join file (what `fednode web` serves),
 * with the key the person types (or #key=… in the URL, which joins at once), trains the rows it
 * is given or the share file the person picks, and shows progress, accuracy and bytes sent.
 * The join's `kind` picks the view: a federated run's trainer (trainer-view.ts) or a
 * decentralised run's peer (peer-view.ts); each runs in its own dedicated worker, so a
 * background tab keeps training.
 */
import type { PeerWebJoin, WebJoin } from '@fednode/node/browser';
import { app } from './app-state.js';
import type { PageContext, PageRunner } from './page-runner.js';
import { runPeer } from './peer-view.js';
import { runTrainer } from './trainer-view.js';
import { el, say, setText } from './ui.js';

interface JoinOf {
  trainer: WebJoin;
  peer: PeerWebJoin;
}

const RUNNERS: { [K in keyof JoinOf]: PageRunner<JoinOf[K]> } = { trainer: runTrainer, peer: runPeer };

function run<K extends keyof JoinOf>(j: JoinOf[K] & { readonly kind: K }, ctx: PageContext): Promise<void> {
  const runner: PageRunner<JoinOf[K]> = RUNNERS[j.kind];
  return runner(j, ctx);
}

function fail(message: string): void {
  app.error = message;
  setText('state', 'failed');
  say(message, true);
  el<HTMLButtonElement>('join').disabled = false;
}

async function join(): Promise<void> {
  el<HTMLButtonElement>('join').disabled = true;
  try {
    const joinUrl = new URL(el<HTMLInputElement>('join-url').value, location.href);
    const j = (await (await fetch(joinUrl)).json()) as WebJoin | PeerWebJoin;
    if (!(j.kind in RUNNERS)) throw new Error(`${joinUrl.href} is not a join file this app knows (kind ${String(j.kind)})`);
    app.kind = j.kind;
    // Only the rows of this kind of run are shown.
    for (const row of document.querySelectorAll<HTMLElement>('[data-kind]')) row.hidden = row.dataset.kind !== j.kind;
    const picked = el<HTMLInputElement>('share-file').files?.[0];
    const share = picked !== undefined ? new Uint8Array(await picked.arrayBuffer()) : new Uint8Array(await (await fetch(new URL('share.bin', joinUrl))).arrayBuffer());
    setText('state', 'starting the engine…');
    await run(j, {
      psk: el<HTMLInputElement>('key').value,
      share,
      shareName: picked?.name ?? 'the served share',
      wasmPaths: new URL('/ort/', location.href).href,
      joinUrl,
      joined: (peerId, rows) => {
        app.peerId = peerId;
        setText('peer', peerId);
        setText('rows', `${rows.toLocaleString()} rows`);
        say(`joined run ${j.runId} as ${peerId}`);
      },
      fail,
    });
  } catch (e) {
    fail((e as Error).message);
  }
}

el<HTMLFormElement>('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void join();
});
// One URL joins: http://host:port/#key=<the run key>.
const hashKey = new URLSearchParams(location.hash.slice(1)).get('key');
if (hashKey !== null) {
  el<HTMLInputElement>('key').value = hashKey;
  void join();
}
