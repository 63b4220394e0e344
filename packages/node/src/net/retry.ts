import { NetError } from './errors.js';

/**
 * Retrying a pull or push until a round's deadline: timeouts, dropped connections and an
 * aggregator restarting (it answers before its protocols are registered:
 * UNSUPPORTED_PROTOCOL) are transient; refusals are answers and end the attempt at once.
 */

export function isTransient(e: unknown): boolean {
  return e instanceof NetError && (e.code === 'NET_TIMEOUT' || e.code === 'NET_CLOSED' || e.code === 'NET_PROTOCOL' || (e.code === 'NET_REFUSED' && (e.remoteCode === 'INTERNAL' || e.remoteCode === 'UNSUPPORTED_PROTOCOL')));
}

export interface RetryOptions {
  /** Unix ms after which no new attempt starts. */
  readonly deadline: number;
  /** Checked before each attempt: a stopped caller gives up. */
  readonly stopped: () => boolean;
  /** Told of each transient failure before its wait. */
  readonly onRetry?: (attempt: number, e: Error) => void;
}

/** `fn`'s result, or null when the deadline passed (or the caller stopped) first; backoff 250 ms doubling to 4 s. */
export async function retryUntil<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T | null> {
  let wait = 250;
  for (let attempt = 1; ; attempt++) {
    if (o.stopped()) return null;
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (Date.now() + wait > o.deadline) return null;
      o.onRetry?.(attempt, e as Error);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 4000);
    }
  }
}
