import { CoreError } from '@fednode/core';

/**
 * Typed errors of the network layer. `code` is stable (callers and tests match on it); a
 * refusal by the remote side also carries the remote's own code in `remoteCode`.
 */
export type NetErrorCode =
  | 'NET_TIMEOUT' // a read, write or dial took longer than its limit
  | 'NET_REFUSED' // the remote answered with a refusal (its code is in remoteCode)
  | 'NET_PROTOCOL' // the remote broke the protocol (bad framing, undecodable message)
  | 'NET_LIMIT' // a frame or message over the configured size limit
  | 'NET_CLOSED' // the stream or connection closed or reset early
  | 'NOT_ADMITTED' // the remote failed our admission (it could not prove the run's pre-shared key)
  | 'NET_CONFIG' // bad options (an address that is not a multiaddr, a short key)
  | 'IDENTITY_MISSING' // no identity file at the path
  | 'IDENTITY_INVALID' // the identity file is unreadable, malformed, or its key does not match its peer id
  | 'IDENTITY_PERMISSIONS'; // the identity file is readable by other users

export class NetError extends Error {
  readonly code: NetErrorCode;
  /** The code the remote side gave with its refusal (NET_REFUSED), e.g. NOT_ADMITTED or WIRE_LIMIT. */
  readonly remoteCode: string | undefined;

  constructor(code: NetErrorCode, message: string, options: { remoteCode?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NetError';
    this.code = code;
    this.remoteCode = options.remoteCode;
  }
}

/**
 * Thrown by protocol callbacks (admission, header checks, update handlers, model providers)
 * to refuse a request: the code and reason travel back to the remote in the answer.
 */
export class Refused extends Error {
  readonly code: string;
  constructor(code: string, reason: string) {
    super(reason);
    this.name = 'Refused';
    this.code = code;
  }
}

/** The code and reason to answer with for any error raised while serving a request. */
export function refusalOf(e: unknown): { code: string; reason: string } {
  if (e instanceof Refused) return { code: e.code, reason: e.message };
  if (e instanceof NetError) return { code: e.code, reason: e.message };
  if (e instanceof CoreError) return { code: e.code, reason: e.message }; // the sender's message was at fault
  // The aggregator's Refusal (a value, not an Error): a strategy declining the update.
  if (typeof e === 'object' && e !== null && !(e instanceof Error)) {
    const r = e as { code?: unknown; reason?: unknown };
    if (typeof r.code === 'string' && typeof r.reason === 'string') return { code: r.code, reason: r.reason };
  }
  // Anything else is our own failure: say so without leaking internals.
  return { code: 'INTERNAL', reason: 'the server failed to process the request' };
}
