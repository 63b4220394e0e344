import type { WorkerMessage } from './worker-link.js';

/**
 * The worker's end of the link: runs `start` with the page's start message and reports its
 * failure as an `error` message, since an exception in a worker reaches the page without its text.
 */
export function serveWorker<M extends { readonly type: 'start' }, E, S>(start: (m: M, post: (msg: WorkerMessage<E, S>) => void) => Promise<void>): void {
  const scope = globalThis as unknown as { onmessage: ((ev: { data: M }) => void) | null; postMessage(m: WorkerMessage<E, S>): void };
  const post = (msg: WorkerMessage<E, S>): void => scope.postMessage(msg);
  scope.onmessage = (ev) => {
    if (ev.data.type === 'start') start(ev.data, post).catch((e: unknown) => post({ type: 'error', message: (e as Error).message }));
  };
}
