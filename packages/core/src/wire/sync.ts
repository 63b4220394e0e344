import { CoreError } from '../errors.js';
import type { Update } from '../update/update.js';
import { DEFAULT_WIRE_LIMITS, PROTOCOL_VERSION, type WireLimits } from './limits.js';
import { encodeMessage } from './proto.js';
import { decodeChecked, str, u32 } from './validate.js';
import { updateFromFrames, updateToFrames } from './update-wire.js';

/**
 * Decentralised peers gossip their contribution to a synchronisation step as an update cut
 * into one SyncPart per frame. gossipsub drops anything over 4 MiB without telling the
 * sender, so each part stays under MAX_SYNC_PART_BYTES, far below that and below the
 * default 1 MiB message limit of many gossip deployments.
 */
export const MAX_SYNC_PART_BYTES = 60 * 1024;
/** Payload bytes per chunk frame: what is left of a part after the envelope. */
const CHUNK_BYTES = MAX_SYNC_PART_BYTES - 1024;

export interface SyncPart {
  readonly runId: string;
  readonly step: number;
  readonly part: number;
  readonly parts: number;
  /** An UpdateHeader frame (part 0) or a TensorChunk frame. */
  readonly frame: Uint8Array;
}

/** The gossip messages carrying `update` as the sender's contribution to `step`. */
export function encodeSyncParts(update: Update, step: number): Uint8Array[] {
  const frames = updateToFrames(update, CHUNK_BYTES);
  return frames.map((frame, part) => {
    const bytes = encodeMessage('SyncPart', { protocolVersion: PROTOCOL_VERSION, runId: update.runId, step, part, parts: frames.length, frame });
    if (bytes.byteLength > MAX_SYNC_PART_BYTES) {
      throw new CoreError('WIRE_LIMIT', `sync part ${part} of ${bytes.byteLength} bytes is over ${MAX_SYNC_PART_BYTES} (too many tensors for one header?)`, 'sync');
    }
    return bytes;
  });
}

export function decodeSyncPart(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): SyncPart {
  const o = decodeChecked('SyncPart', bytes, { ...limits, maxMessageBytes: Math.min(limits.maxMessageBytes, MAX_SYNC_PART_BYTES) });
  // A contribution can be no longer than the largest update the run accepts.
  const maxParts = Math.max(2, Math.ceil(limits.maxTotalBytes / CHUNK_BYTES) + 1);
  const parts = u32(o, 'parts', 'parts', 1, maxParts);
  const part = u32(o, 'part', 'part', 0, parts - 1);
  const frame = o.frame;
  if (!(frame instanceof Uint8Array) || frame.byteLength === 0) throw new CoreError('WIRE_FIELD', 'empty frame', 'frame');
  return { runId: str(o, 'runId', 'run_id', limits, true), step: u32(o, 'step', 'step'), part, parts, frame };
}

/** Reassembles a complete, ordered list of parts into the update (validated like any update). */
export function updateFromSyncParts(parts: readonly SyncPart[], limits: WireLimits = DEFAULT_WIRE_LIMITS): Update {
  parts.forEach((p, i) => {
    if (p.part !== i || p.parts !== parts.length) throw new CoreError('WIRE_FIELD', `part ${p.part} of ${p.parts} at position ${i} of ${parts.length}`, 'part');
  });
  return updateFromFrames(
    parts.map((p) => p.frame),
    limits,
  );
}
