/**
 * The example browser trainer: joins the run described by a join file (what `fednode web`
 * serves), with the key the person types (or #key=… in the URL, which joins at once), trains
 * the rows it is given or the share file the person picks, and shows progress, accuracy and
 * bytes sent. The trainer runs in a dedicated worker (trainer-worker.ts), so a background tab
 * keeps training; its identity, sequence number and error-feedback residual live in this page's
 * localStorage, so a dropped connection or a reloaded tab resumes where it stopped.
 */
import { generateIdentity, identityToBytes, type BrowserTrainerEvent, type SavedTrainer, type WebJoin } from '@fednode/node/browser';
import type { StartMessage, WorkerMessage } from './trainer-worker.js';

function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/** The trainer's state in localStorage, one entry per run (the residual as base64). */
function loadState(runId: string): SavedTrainer | null {
  const raw = localStorage.getItem(`fednode:${runId}:trainer`);
  if (raw === null) return null;
  const s = JSON.parse(raw) as Omit<SavedTrainer, 'residual'> & { residual: string | null };
  return { ...s, residual: s.residual === null ? null : fromBase64(s.residual) };
}

function saveState(s: SavedTrainer): void {
  localStorage.setItem(`fednode:${s.runId}:trainer`, JSON.stringify({ ...s, residual: s.residual === null ? null : toBase64(s.residual) }));
}

/** The same peer identity across reloads (libp2p's key bytes): the aggregator counts one update per peer a round. */
async function localIdentity(runId: string): Promise<Uint8Array> {
  const key = `fednode:${runId}:identity`;
  const raw = localStorage.getItem(key);
  if (raw !== null) return fromBase64(raw);
  const id = identityToBytes(await generateIdentity());
  localStorage.setItem(key, toBase64(id));
  return id;
}

/** What an embedding page or a test can read, and `listeners` it can add to hear each event as it comes. */
const app = {
  events: [] as BrowserTrainerEvent[],
  listeners: [] as ((e: BrowserTrainerEvent) => void)[],
  peerId: null as string | null,
  error: null as string | null,
  saved: null as SavedTrainer | null,
};
(globalThis as { fednodeApp?: typeof app }).fednodeApp = app;

function say(line: string, error = false): void {
  const p = document.createElement('div');
  p.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  if (error) p.className = 'error';
  el('log').prepend(p);
}

let accepted = 0;
function show(e: BrowserTrainerEvent, bytesSent: number): void {
  app.events.push(e);
  for (const l of app.listeners) l(e);
  switch (e.kind) {
    case 'status': {
      el('round').textContent = `${e.status.round} / ${e.status.version} of ${e.status.rounds}`;
      const acc = e.status.lastMetrics?.accuracy;
      if (acc !== undefined) el('accuracy').textContent = `${(acc * 100).toFixed(2)} %`;
      el('state').textContent = e.status.done ? 'the run is over' : 'connected';
      break;
    }
    case 'unreachable':
      el('state').textContent = 'reconnecting…';
      say(`the aggregator is unreachable (${e.reason}); retrying`, true);
      break;
    case 'pulled':
      el('state').textContent = `training round ${e.round}`;
      say(`pulled version ${e.version} for round ${e.round}`);
      break;
    case 'step':
      el<HTMLProgressElement>('progress').max = e.total;
      el<HTMLProgressElement>('progress').value = e.done;
      el('loss').textContent = e.loss.toFixed(4);
      break;
    case 'pushed':
      accepted++;
      el('accepted').textContent = String(accepted);
      el('bytes').textContent = bytesSent.toLocaleString();
      say(`round ${e.round}: update ${e.outcome} (${e.bytes.toLocaleString()} bytes, loss ${e.loss.toFixed(4)})`);
      break;
    case 'refused':
      say(`round ${e.round}: refused ${e.code}: ${e.reason}`, true);
      break;
    case 'missed':
      say(`round ${e.round} missed: ${e.reason}`, true);
      break;
    case 'done':
      el('state').textContent = `the run is over at version ${e.version}`;
      say(`the run is over at version ${e.version}`);
      break;
  }
}

async function join(): Promise<void> {
  el<HTMLButtonElement>('join').disabled = true;
  try {
    const joinUrl = new URL(el<HTMLInputElement>('join-url').value, location.href);
    const j = (await (await fetch(joinUrl)).json()) as WebJoin;
    const picked = el<HTMLInputElement>('share-file').files?.[0];
    const bytes = picked !== undefined ? new Uint8Array(await picked.arrayBuffer()) : new Uint8Array(await (await fetch(new URL('share.bin', joinUrl))).arrayBuffer());
    el('state').textContent = 'starting the engine…';
    const worker = new Worker(new URL('trainer-worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (ev: MessageEvent<WorkerMessage>) => {
      const m = ev.data;
      switch (m.type) {
        case 'joined':
          app.peerId = m.peerId;
          el('peer').textContent = m.peerId;
          el('rows').textContent = `${m.rows.toLocaleString()} rows`;
          say(`joined run ${j.runId} as ${m.peerId}`);
          break;
        case 'event':
          show(m.event, m.bytesSent);
          break;
        case 'save':
          saveState(m.state);
          app.saved = m.state;
          break;
        case 'error':
          fail(m.message);
          break;
      }
    };
    worker.onerror = (ev) => fail(`the trainer's worker failed: ${ev.message}`);
    const start: StartMessage = {
      type: 'start',
      join: j,
      psk: el<HTMLInputElement>('key').value,
      share: bytes,
      shareName: picked?.name ?? 'the served share',
      wasmPaths: new URL('/ort/', location.href).href,
      saved: loadState(j.runId),
      identity: await localIdentity(j.runId),
    };
    worker.postMessage(start, [bytes.buffer]);
  } catch (e) {
    fail((e as Error).message);
  }
}

function fail(message: string): void {
  app.error = message;
  el('state').textContent = 'failed';
  say(message, true);
  el<HTMLButtonElement>('join').disabled = false;
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
