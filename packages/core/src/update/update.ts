import type { Slice } from '../slice/slice.js';
import type { EncodedTensor } from '../codecs/types.js';

/** The unit fednode moves, stores and trusts: one peer's encoded delta over its slice. */
export interface Update {
  readonly runId: string;
  /** The sender's peer id as it claims it; receivers trust the transport's authenticated id instead. */
  readonly sender: string;
  /** Model version the delta was computed from. */
  readonly baseVersion: number;
  readonly round: number;
  /** Per-sender counter, strictly increasing across the sender's updates (replay protection). */
  readonly sequence: number;
  readonly slice: Slice;
  /** Training examples behind the delta (FedAvg weight). */
  readonly examples: number;
  /** Training metrics (loss, accuracy, steps, ...). */
  readonly metrics: Readonly<Record<string, number>>;
  /** One encoded delta (local minus global) per tensor of the slice, in slice order. */
  readonly tensors: readonly EncodedTensor[];
}

/** Bytes an update's payloads occupy (the header is counted by the wire encoder). */
export function payloadBytesOf(update: Pick<Update, 'tensors'>): number {
  return update.tensors.reduce((n, t) => n + t.payload.byteLength, 0);
}
