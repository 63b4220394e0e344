/** Helpers shared by the protocol servers and clients: refusing a stream, timing out a wait. */
import type { Stream } from '@libp2p/interface';
import { abortQuietly, writeFrame } from './frames.js';
import { NetError, refusalOf } from './errors.js';

/** How long a refused sender gets to read our answer and close before we reset the stream. */
const REFUSAL_GRACE_MS = 2000;

/**
 * Answers a refusal (when the stream can still carry it) and stops reading, so the sender's
 * window closes and it can send little more; the stream is reset once the sender closes or
 * after a short grace. Resetting at once would lose the answer when it reaches a dialer still
 * negotiating the protocol (multistream-select hands the bytes it read past its handshake
 * back to the stream, which throws on a reset stream). The caller disposes its reader first.
 */
export async function refuse(
  stream: Stream,
  peer: string,
  e: unknown,
  timeoutMs: number,
  onRefused: ((peer: string, code: string, reason: string) => void) | undefined,
  encode: (code: string, reason: string) => Uint8Array | null,
): Promise<void> {
  const { code, reason } = refusalOf(e);
  onRefused?.(peer, code, reason);
  const resetReason = new NetError('NET_REFUSED', `refused ${peer}: ${code}`, { remoteCode: code });
  const answer = encode(code, truncate(reason, 1000));
  if (answer === null || stream.writeStatus !== 'writable' || stream.status !== 'open') {
    abortQuietly(stream, resetReason);
    return;
  }
  try {
    if (stream.readStatus === 'readable') stream.pause();
    await writeFrame(stream, answer, { timeoutMs: Math.min(timeoutMs, 5000) });
    await stream.close({ signal: AbortSignal.timeout(REFUSAL_GRACE_MS) });
    await closedWithin(stream, REFUSAL_GRACE_MS);
  } catch {
    // Gone already, or the sender did not take the answer in time.
  }
  abortQuietly(stream, resetReason);
}

/** Resolves when the stream has closed or after `ms`. */
function closedWithin(stream: Stream, ms: number): Promise<void> {
  if (stream.status !== 'open') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      stream.removeEventListener('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stream.addEventListener('close', done);
  });
}

function truncate(s: string, n: number): string {
  return Buffer.byteLength(s) <= n ? s : `${Buffer.from(s).subarray(0, n - 3).toString('utf8').replace(/\uFFFD$/, '')}...`;
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NetError('NET_TIMEOUT', message)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
