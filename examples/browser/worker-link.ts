/**
 * The messages between the page and the worker that runs a trainer or a peer, and the page's
 * end of the link. Both kinds share it: the worker says when it has joined, forwards each
 * event with the bytes sent so far, asks the page to keep state (localStorage is the page's),
 * and reports a failure.
 */

/** What every worker is started with; each kind adds its own fields. */
export interface WorkerStart<J> {
  readonly type: 'start';
  readonly join: J;
  readonly psk: string;
  /** The rows to train (a share file). */
  readonly share: Uint8Array;
  readonly shareName: string;
  readonly wasmPaths: string;
}

export type WorkerMessage<E, S> =
  | { readonly type: 'joined'; readonly peerId: string; readonly rows: number }
  | { readonly type: 'event'; readonly event: E; readonly bytesSent: number }
  | { readonly type: 'save'; readonly state: S }
  | { readonly type: 'error'; readonly message: string };

/** What the page does with the messages every kind sends. */
export interface LinkHandlers<E, S> {
  joined(peerId: string, rows: number): void;
  event(e: E, bytesSent: number): void;
  save?(s: S): void;
  fail(message: string): void;
}

/** Starts `script` (a bundle under dist/) in a dedicated worker and hands it `start`, transferring the share's buffer. */
export function startWorker<M extends WorkerStart<unknown>, E, S>(script: string, start: M, transfer: Transferable[], h: LinkHandlers<E, S>): Worker {
  const worker = new Worker(new URL(script, import.meta.url), { type: 'module' });
  worker.onmessage = (ev: MessageEvent<WorkerMessage<E, S>>) => {
    const m = ev.data;
    switch (m.type) {
      case 'joined':
        return h.joined(m.peerId, m.rows);
      case 'event':
        return h.event(m.event, m.bytesSent);
      case 'save':
        return h.save?.(m.state);
      case 'error':
        return h.fail(m.message);
    }
  };
  worker.onerror = (ev) => h.fail(`the worker failed: ${ev.message}`);
  worker.postMessage(start, transfer);
  return worker;
}
