import type { BrowserPeerEvent, BrowserTrainerEvent, SavedTrainer } from '@fednode/node/browser';

/** Events of either kind of run, as the worker forwards them. */
export type PageEvent = BrowserTrainerEvent | BrowserPeerEvent;

/**
 * What an embedding page or a test can read (globalThis.fednodeApp), and `listeners` it can
 * add to hear each event as it comes.
 */
export const app = {
  /** The join's kind once the page has read it. */
  kind: null as 'trainer' | 'peer' | null,
  events: [] as PageEvent[],
  listeners: [] as ((e: PageEvent) => void)[],
  peerId: null as string | null,
  error: null as string | null,
  /** A trainer's last saved state. */
  saved: null as SavedTrainer | null,
};
(globalThis as { fednodeApp?: typeof app }).fednodeApp = app;

export function record(e: PageEvent): void {
  app.events.push(e);
  for (const l of app.listeners) l(e);
}
