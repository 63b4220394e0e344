/**
 * The run's payload channel `fednode/<run>/sync`: decentralised peers gossip their
 * contribution to each synchronisation step, one message per frame (see core's SyncPart),
 * and reassemble what their peers send. gossipsub signs every message with its author's
 * key, so the author is authenticated; only admitted authors' parts are accepted.
 */
import { CoreError, MAX_SYNC_PART_BYTES, decodeSyncPart, encodeSyncParts, updateFromSyncParts, type SyncPart, type Update, type WireLimits } from '@fednode/core';
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import type { FedHost } from '../net/host.js';
import { NetError } from '../net/errors.js';

export function syncTopic(runId: string): string {
  return `fednode/${runId}/sync`;
}

export interface SyncChannelOptions {
  readonly limits: WireLimits;
  /** Authors whose parts are accepted (the admitted peers). */
  readonly acceptFrom?: (author: string) => boolean;
  /**
   * The most one contribution may weigh on the wire: what the model's dense fp32 update takes,
   * with room for framing (every codec sends less). Bounds each author's parts and their count.
   */
  readonly maxContributionBytes: number;
  /** Tensors of the model: each starts a part of its own, so they bound the part count too. */
  readonly modelTensors: number;
  /** Steps outside [low, high] are dropped on arrival (stale or implausibly far ahead). */
  readonly window: () => { low: number; high: number };
  /** A contribution fully received: the author (authenticated), the step, the update and its bytes on the wire. */
  readonly onContribution: (from: string, step: number, update: Update, bytes: number) => void;
  /** A part or contribution dropped, and why (logs and metrics). */
  readonly onDropped?: (from: string, why: string) => void;
}

export interface SyncChannel {
  /** Publishes our contribution to `step`; returns the bytes published (all parts). */
  publish(step: number, update: Update): Promise<number>;
  /** Peers subscribed to the topic. */
  peers(): string[];
  /** Forgets partial contributions for steps below `step`. */
  prune(step: number): void;
  /** Bytes held for partial contributions now. */
  pendingBytes(): number;
  leave(): void;
}

interface Pending {
  readonly parts: (SyncPart | undefined)[];
  received: number;
  bytes: number;
}

type Verdict = 'accept' | 'ignore' | 'suspect' | 'reject';

/** Steps one author may have partly received at once: honest peers are a step or two ahead at most. */
export const MAX_PENDING_STEPS_PER_AUTHOR = 4;

export function joinSync(host: FedHost, runId: string, options: SyncChannelOptions): SyncChannel {
  let left = false;
  const pubsub: GossipSub = host.services.pubsub;
  // Memory held for partial contributions is bounded by design: members (only they can publish)
  // x MAX_PENDING_STEPS_PER_AUTHOR x one contribution's size, whatever anyone sends.
  const maxBytes = Math.min(options.limits.maxTotalBytes, options.maxContributionBytes);
  // A header part, then each tensor's chunks: at most one short chunk per tensor beyond the full ones.
  const maxParts = 1 + options.modelTensors + Math.ceil(maxBytes / (MAX_SYNC_PART_BYTES - 1024));
  /** Author -> steps it has partial contributions for. */
  const stepsOf = new Map<string, Set<number>>();
  const topic = syncTopic(runId);
  /** Step -> author -> the parts received so far. */
  const pending = new Map<number, Map<string, Pending>>();
  /** Author -> steps whose contribution from it arrived whole (a repeat is not held again). */
  const completed = new Map<string, Set<number>>();

  const check = (msg: Message): SyncPart | string => {
    if (msg.type !== 'signed') return 'unsigned message';
    const from = msg.from.toString();
    if (options.acceptFrom !== undefined && !options.acceptFrom(from)) return 'author not admitted';
    let part: SyncPart;
    try {
      part = decodeSyncPart(msg.data, options.limits);
    } catch (e) {
      return `undecodable: ${(e as Error).message}`;
    }
    if (part.runId !== runId) return `for run "${part.runId}"`;
    return part;
  };

  const forget = (step: number, from: string): void => {
    const byAuthor = pending.get(step);
    byAuthor?.delete(from);
    if (byAuthor?.size === 0) pending.delete(step);
    const steps = stepsOf.get(from);
    steps?.delete(step);
    if (steps?.size === 0) stepsOf.delete(from);
  };

  /**
   * Files one part and says what gossipsub does with its message. Every bound is applied here,
   * before gossipsub accepts: an accepted message is relayed to every other peer and held in
   * gossipsub's message cache, so a part refused only after delivery would still cost every
   * peer its memory and bandwidth. The verdicts:
   * - reject: what no honest peer sends and every peer judges alike (undecodable, another run,
   *   more parts than the model needs). A relay never forwards such a message, so gossipsub's
   *   penalty for it falls on its author.
   * - suspect: what an honest author never sends but another peer may have accepted, because
   *   the bound depends on what each peer holds (steps in flight, bytes so far). Rejected when
   *   the author sent it to us itself, ignored when an honest relay passed it on.
   * - ignore: what an honest peer may well send (a step outside our window, a repeat).
   */
  const file = (msg: Message): { verdict: Verdict; why?: string } => {
    const r = check(msg);
    if (typeof r === 'string') return { verdict: 'reject', why: r };
    const part = r;
    const from = (msg as Message & { type: 'signed' }).from.toString();
    const w = options.window();
    if (part.step < w.low || part.step > w.high) return { verdict: 'ignore', why: `step ${part.step} outside [${w.low}, ${w.high}]` };
    if (completed.get(from)?.has(part.step) === true) return { verdict: 'ignore', why: `step ${part.step}: a contribution from this author was already received` };
    let byAuthor = pending.get(part.step);
    let p = byAuthor?.get(from);
    if (p === undefined) {
      // The first part says how many follow: refuse before holding anything for a count the model cannot need.
      if (part.parts > maxParts) return { verdict: 'reject', why: `step ${part.step}: declares ${part.parts} parts, more than a contribution to this model needs (${maxParts})` };
      const steps = stepsOf.get(from) ?? new Set<number>();
      if (steps.size >= MAX_PENDING_STEPS_PER_AUTHOR) return { verdict: 'suspect', why: `step ${part.step}: already ${steps.size} steps partly received from this author` };
      steps.add(part.step);
      stepsOf.set(from, steps);
      p = { parts: new Array<SyncPart | undefined>(part.parts), received: 0, bytes: 0 };
      if (byAuthor === undefined) {
        byAuthor = new Map();
        pending.set(part.step, byAuthor);
      }
      byAuthor.set(from, p);
    }
    if (p.parts.length !== part.parts) {
      forget(part.step, from);
      return { verdict: 'suspect', why: `step ${part.step}: parts disagree on the count (${p.parts.length} and ${part.parts})` };
    }
    if (p.parts[part.part] !== undefined) return { verdict: 'ignore', why: `step ${part.step}: part ${part.part} again` };
    p.parts[part.part] = part;
    p.received++;
    p.bytes += msg.data.byteLength;
    if (p.bytes > maxBytes + p.parts.length * 1024) {
      forget(part.step, from);
      return { verdict: 'suspect', why: `step ${part.step}: over ${maxBytes} bytes` };
    }
    if (p.received < p.parts.length) return { verdict: 'accept' };
    forget(part.step, from);
    const done = completed.get(from) ?? new Set<number>();
    done.add(part.step);
    completed.set(from, done);
    let update: Update;
    try {
      update = updateFromSyncParts(p.parts as SyncPart[], options.limits);
    } catch (e) {
      return { verdict: 'reject', why: `step ${part.step}: ${e instanceof CoreError ? `${e.code}: ` : ''}${(e as Error).message}` };
    }
    const bytes = p.bytes;
    // Delivered after gossipsub has taken the verdict, so a slow handler never holds the validator.
    queueMicrotask(() => {
      if (!left) options.onContribution(from, part.step, update, bytes);
    });
    return { verdict: 'accept' };
  };

  pubsub.topicValidators.set(topic, (source: PeerId, msg: Message) => {
    const { verdict, why } = file(msg);
    const author = msg.type === 'signed' ? msg.from.toString() : '?';
    if (why !== undefined) options.onDropped?.(author, why);
    if (verdict === 'accept') return TopicValidatorResult.Accept;
    if (verdict === 'reject' || (verdict === 'suspect' && source.toString() === author)) return TopicValidatorResult.Reject;
    return TopicValidatorResult.Ignore;
  });
  pubsub.subscribe(topic);

  return {
    async publish(step: number, update: Update): Promise<number> {
      if (left) throw new NetError('NET_CLOSED', `left ${topic}`);
      let bytes = 0;
      for (const m of encodeSyncParts(update, step)) {
        await pubsub.publish(topic, m);
        bytes += m.byteLength;
      }
      return bytes;
    },
    peers: () => pubsub.getSubscribers(topic).map((p) => p.toString()),
    prune(step: number): void {
      for (const [s, byAuthor] of pending) if (s < step) for (const from of [...byAuthor.keys()]) forget(s, from);
      for (const [from, steps] of completed) {
        for (const s of steps) if (s < step) steps.delete(s);
        if (steps.size === 0) completed.delete(from);
      }
    },
    pendingBytes(): number {
      let n = 0;
      for (const byAuthor of pending.values()) for (const p of byAuthor.values()) n += p.bytes;
      return n;
    },
    leave(): void {
      if (left) return;
      left = true;
      pubsub.topicValidators.delete(topic);
      pubsub.unsubscribe(topic);
      pending.clear();
      stepsOf.clear();
      completed.clear();
    },
  };
}
