import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Collections a process asks for where V8's own pacing lets large buffers pile up. A
 * Float32Array of a decoded update or an onnxruntime output is a small JS object over a large
 * backing store: the heap hardly grows, and V8 collects the stores only once external memory
 * has grown by its 64 MB limit, which on a daemon is a third of its memory (docs/daemon-memory.md).
 *  - minor: the young generation, for buffers that die at once (well under a millisecond);
 *  - full: everything, for buffers that live across a few event-loop turns (a received update,
 *    a checkpoint's bytes) and so are promoted before they die.
 */
export type Collection = 'minor' | 'full';

/** Counts the short-lived bytes a process makes and collects once `bytesBetween` have been made. */
export class GarbagePacer {
  private made = 0;

  constructor(
    readonly kind: Collection,
    readonly bytesBetween: number,
  ) {}

  /** Counts `bytes` of new short-lived buffers. */
  add(bytes: number): void {
    this.made += bytes;
  }

  /**
   * Collects if `bytesBetween` have been made since the last time. Call it where the buffers
   * counted are dead. A full collection costs time in proportion to the live heap, so a
   * process making little garbage (a small model) is left to V8's own pacing.
   */
  collectIfDue(): void {
    if (this.made < this.bytesBetween) return;
    this.made = 0;
    collectGarbage(this.kind);
  }
}

type Gc = (opts?: { type: 'minor' | 'major' }) => void;

/** V8's gc(), exposed for this isolate; null where the flag cannot be set. */
function exposeGc(): Gc | null {
  try {
    // The flag is process-wide: every isolate made later has gc() too.
    setFlagsFromString('--expose-gc');
    // Only contexts created after the flag is set carry gc(), so one is made for it.
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as Gc) : null;
  } catch {
    return null;
  }
}

let gc: Gc | null | undefined;

/** One collection of `kind` now; nothing where gc() cannot be exposed. */
export function collectGarbage(kind: Collection): void {
  if (gc === undefined) gc = exposeGc();
  if (gc === null) return;
  if (kind === 'minor') gc({ type: 'minor' });
  else gc();
}
