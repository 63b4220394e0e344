/**
 * The run's gossip channel `fednode/<run>/control`: small signed control messages (round
 * open, model announced, heartbeats). Tensors never travel here: gossipsub silently drops
 * anything over 4 MiB, and we refuse anything over 64 KiB before publishing.
 */
import { CoreError, DEFAULT_WIRE_LIMITS, MAX_CONTROL_BYTES, decodeControl, encodeControl, type Control, type WireLimits } from '@fednode/core';
import { TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub';
import type { Message } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import type { FedHost } from './host.js';
import { NetError } from './errors.js';

export function controlTopic(runId: string): string {
  return `fednode/${runId}/control`;
}

export interface ControlOptions {
  /** Only messages whose author passes are delivered and forwarded (e.g. the admitted peers). */
  readonly acceptFrom?: (author: string) => boolean;
  /**
   * Whether `author` may send a message of this kind (a federated run: round openings and model
   * announcements from its aggregator alone). Judged with the rest, before gossipsub relays it.
   */
  readonly mayAuthor?: (kind: Control['body']['kind'], author: string) => boolean;
  readonly limits?: WireLimits;
  /** Called for each message dropped (unsigned, undecodable, another run, refused author), for logs. */
  readonly onDropped?: (from: string, why: string) => void;
}

export interface ControlChannel {
  readonly topic: string;
  /** Publishes a control message of this run; returns how many peers it was sent to. Over 64 KiB: NET_LIMIT. */
  publish(control: Control): Promise<number>;
  /** Peers currently subscribed to the topic. */
  peers(): string[];
  /** Unsubscribes and stops delivering. */
  leave(): void;
}

/**
 * Joins the control topic of `runId`. `onControl` receives each valid message with its
 * author's peer id, which gossipsub has checked against the message's signature.
 */
export function joinControl(host: FedHost, runId: string, onControl: (control: Control, from: string) => void, options: ControlOptions = {}): ControlChannel {
  const pubsub: GossipSub = host.services.pubsub;
  const topic = controlTopic(runId);
  const limits = options.limits ?? DEFAULT_WIRE_LIMITS;

  /**
   * The decoded message when it is fit to deliver, or why not; `viewDependent` when the refusal
   * depends on this node's view of the run (who its aggregator is), so that a peer which
   * merely passed the message on is not blamed for it (gossipsub scores the relay).
   */
  const check = (msg: Message): { control: Control; from: string } | { why: string; from: string; viewDependent?: true } => {
    if (msg.type !== 'signed') return { why: 'unsigned message', from: '?' };
    const from = msg.from.toString();
    if (msg.data.byteLength > MAX_CONTROL_BYTES) return { why: `message of ${msg.data.byteLength} bytes`, from };
    if (options.acceptFrom !== undefined && !options.acceptFrom(from)) return { why: 'author not accepted', from };
    let control: Control;
    try {
      control = decodeControl(msg.data, limits);
    } catch (e) {
      return { why: `undecodable: ${(e as Error).message}`, from };
    }
    if (control.runId !== runId) return { why: `for run "${control.runId}"`, from };
    if (options.mayAuthor !== undefined && !options.mayAuthor(control.body.kind, from)) return { why: `${control.body.kind} from a peer that may not send it`, from, viewDependent: true };
    return { control, from };
  };

  // Invalid messages are rejected before gossipsub forwards or delivers them (which also
  // lowers their sender's peer score); the valid ones are decoded once, here.
  const checked = new WeakMap<Message, Control>();
  pubsub.topicValidators.set(topic, (peer: PeerId, msg: Message) => {
    const r = check(msg);
    if ('control' in r) {
      checked.set(msg, r.control);
      return TopicValidatorResult.Accept;
    }
    options.onDropped?.(r.from, r.why);
    // Either way it is neither delivered nor relayed; only its author is penalised for it.
    return r.viewDependent === true && peer.toString() !== r.from ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
  });

  const onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail;
    if (msg.topic !== topic || msg.type !== 'signed') return;
    const control = checked.get(msg);
    if (control !== undefined) onControl(control, msg.from.toString());
  };
  pubsub.addEventListener('message', onMessage);
  pubsub.subscribe(topic);

  let left = false;
  return {
    topic,
    async publish(control: Control): Promise<number> {
      if (left) throw new NetError('NET_CLOSED', `left ${topic}`);
      if (control.runId !== runId) throw new NetError('NET_CONFIG', `a control message of run "${control.runId}" on the channel of run "${runId}"`);
      let bytes: Uint8Array;
      try {
        bytes = encodeControl(control);
      } catch (e) {
        if (e instanceof CoreError && e.code === 'WIRE_LIMIT') throw new NetError('NET_LIMIT', e.message, { cause: e });
        throw e;
      }
      const r = await pubsub.publish(topic, bytes);
      return r.recipients.length;
    },
    peers(): string[] {
      return pubsub.getSubscribers(topic).map((p) => p.toString());
    },
    leave(): void {
      if (left) return;
      left = true;
      pubsub.removeEventListener('message', onMessage);
      pubsub.topicValidators.delete(topic);
      pubsub.unsubscribe(topic);
    },
  };
}
