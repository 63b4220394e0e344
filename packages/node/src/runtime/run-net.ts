/**
 * A node's membership of its run's network: the libp2p host (the private network when the
 * run has a key, the allowlist at the connection), admission on /fednode/auth/1 and the gossip
 * control channel. The process shell opens it for daemons, a browser peer for its page, so
 * both admit and gossip alike. No files here: the key and identity come in as values.
 */
import type { PrivateKey } from '@libp2p/interface';
import type { Control, WireLimits } from '@fednode/core';
import { Admission } from '../net/admission.js';
import { controlTopic, joinControl, type ControlChannel, type ControlOptions } from '../net/control.js';
import { createHost, type FedHost } from '../net/host.js';
import { peerIdOf } from '../net/keys.js';
import { networkKeyOf } from '../net/private-network.js';
import { syncTopic } from '../peer/sync-channel.js';

/** What the roles get from a running shell. */
export interface ShellNet {
  readonly host: FedHost;
  readonly peerId: string;
  readonly admission: Admission;
  readonly control: ControlChannel;
  /** Whose gossip to take (the allowlist and ourselves); undefined: anyone's. Other topics of the run use it too. */
  readonly acceptFrom: ((author: string) => boolean) | undefined;
  readonly limits: WireLimits;
  /** The longest wait for one network step, ms. */
  readonly timeoutMs: number;
  /** Everything dialled at start: the run's network.bootstrap and `dial`. */
  readonly bootstrap: readonly string[];
}

export interface RunNetOptions {
  readonly runId: string;
  readonly privateKey: PrivateKey;
  /** Multiaddrs to listen on (none in a page, which dials out only). */
  readonly listen: readonly string[];
  readonly bootstrap: readonly string[];
  readonly mdns?: boolean;
  readonly psk: string | undefined;
  /** The run's allowlist; absent or empty: no allowlist. */
  readonly allow: readonly string[] | undefined;
  /** Peer ids counted as members besides the allowlist (a trainer's aggregator). */
  readonly members?: readonly string[];
  readonly limits: WireLimits;
  readonly timeoutMs: number;
  readonly mayAuthor?: ControlOptions['mayAuthor'];
  readonly onControl: (control: Control, from: string) => void;
  readonly onDropped?: (from: string, why: string) => void;
}

export interface RunNet extends ShellNet {
  /** Leaves the control topic, stops admission, then the host. */
  close(): Promise<void>;
}

export async function openRunNet(o: RunNetOptions): Promise<RunNet> {
  const self = peerIdOf(o.privateKey);
  const allow = o.allow === undefined || o.allow.length === 0 ? undefined : o.allow;
  const members = o.members ?? [];
  // Dials and admission handshakes carry no tensors: the run's timeout, but never more than 10 s.
  const handshakeMs = Math.min(o.timeoutMs, 10_000);
  // Membership at the connection: with a key only hosts holding it connect at all (a private
  // network), with an allowlist only listed peer ids; so every gossip author and relay is a member.
  const host = await createHost({
    privateKey: o.privateKey,
    listen: o.listen,
    bootstrap: o.bootstrap,
    mdns: o.mdns ?? false,
    dialTimeoutMs: handshakeMs,
    ...(o.psk === undefined ? {} : { networkKey: networkKeyOf(o.psk, o.runId) }),
    ...(allow === undefined ? {} : { allowPeers: [...allow, self, ...members] }),
    gossipTopics: [controlTopic(o.runId), syncTopic(o.runId)],
  });
  let admission: Admission | null = null;
  try {
    // An allowlist need not name the node itself.
    const a = new Admission(host, { allow: o.allow === undefined ? undefined : [...o.allow, self, ...members], psk: o.psk }, { timeoutMs: handshakeMs });
    admission = a;
    await a.start();
    const acceptFrom = allow === undefined ? undefined : (author: string) => author === self || allow.includes(author) || members.includes(author);
    const control = joinControl(host, o.runId, o.onControl, {
      limits: o.limits,
      acceptFrom,
      ...(o.mayAuthor === undefined ? {} : { mayAuthor: o.mayAuthor }),
      ...(o.onDropped === undefined ? {} : { onDropped: o.onDropped }),
    });
    return {
      host,
      peerId: self,
      admission: a,
      control,
      acceptFrom,
      limits: o.limits,
      timeoutMs: o.timeoutMs,
      bootstrap: o.bootstrap,
      async close() {
        control.leave();
        await a.stop().catch(() => undefined);
        await Promise.resolve(host.stop()).catch(() => undefined);
      },
    };
  } catch (e) {
    await admission?.stop().catch(() => undefined);
    await Promise.resolve(host.stop()).catch(() => undefined);
    throw e;
  }
}
