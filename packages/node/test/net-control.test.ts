import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Control } from '@fednode/core';
import { NetError, hostAddr, joinControl, type ControlChannel, type FedHost } from '../src/net/index.js';
import { withHosts } from './net-helpers.js';

const RUN = 'run-gossip';

function heartbeat(step: number): Control {
  return { runId: RUN, body: { kind: 'heartbeat', role: 'trainer', version: 1, step, timeUnixMs: Date.now() } };
}

/** Waits until `cond` holds, polling; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Connects the hosts in a line (a-b, b-c) so gossip must be relayed through the middle. */
async function line(hosts: FedHost[]): Promise<void> {
  for (let i = 1; i < hosts.length; i++) await hosts[i].dial((await import('@multiformats/multiaddr')).multiaddr(hostAddr(hosts[i - 1])));
}

test('control: a signed message reaches the other two hosts with its author; oversized ones are refused at publish', async () => {
  await withHosts(3, async (hosts) => {
    const got: { at: number; control: Control; from: string }[] = [];
    const channels: ControlChannel[] = hosts.map((h, i) => joinControl(h, RUN, (control, from) => got.push({ at: i, control, from })));
    await line(hosts);
    // Each host sees a subscriber on the topic once the mesh has formed.
    await until(() => channels[0].peers().length >= 1 && channels[1].peers().length >= 2 && channels[2].peers().length >= 1, 10_000, 'subscriptions');
    // Gossipsub builds its mesh on its heartbeat: publish until both others have the message.
    const announce: Control = { runId: RUN, body: { kind: 'roundOpen', round: 4, modelVersion: 9, deadlineUnixMs: Date.now() + 60_000, assignments: [{ peer: hosts[1].peerId.toString(), slice: { tensors: [] } }] } };
    let sent = 0;
    while (!(got.some((g) => g.at === 1) && got.some((g) => g.at === 2))) {
      await channels[0].publish(sent === 0 ? announce : heartbeat(sent));
      sent++;
      if (sent > 100) throw new Error('gossip never delivered');
      await new Promise((r) => setTimeout(r, 100));
    }
    const first = got.find((g) => g.at === 2);
    assert.ok(first !== undefined);
    assert.equal(first.from, hosts[0].peerId.toString()); // the author, not the relay (host 1)
    assert.equal(got.filter((g) => g.at === 0).length, 0); // no echo to the author
    assert.equal(got[0].control.body.kind, 'roundOpen');

    const huge: Control = { runId: RUN, body: { kind: 'roundOpen', round: 1, modelVersion: 1, deadlineUnixMs: 1, assignments: Array.from({ length: 3000 }, (_, i) => ({ peer: `peer-${i}-${'x'.repeat(20)}`, slice: { tensors: [] } })) } };
    await assert.rejects(channels[0].publish(huge), (e) => e instanceof NetError && e.code === 'NET_LIMIT');
    await assert.rejects(channels[0].publish({ ...heartbeat(1), runId: 'other-run' }), (e) => e instanceof NetError && e.code === 'NET_CONFIG');
    for (const c of channels) c.leave();
  });
});

test('control: undecodable messages and messages from authors not accepted are dropped', async () => {
  await withHosts(3, async ([a, b, c]) => {
    const got: string[] = [];
    const dropped: string[] = [];
    const ca = joinControl(a, RUN, () => undefined);
    const cc = joinControl(c, RUN, () => undefined);
    joinControl(b, RUN, (ctl, from) => got.push(`${ctl.body.kind} from ${from === a.peerId.toString() ? 'a' : 'c'}`), {
      acceptFrom: (author) => author === a.peerId.toString(),
      onDropped: (_f, why) => dropped.push(why),
    });
    const { multiaddr } = await import('@multiformats/multiaddr');
    await a.dial(multiaddr(hostAddr(b)));
    await c.dial(multiaddr(hostAddr(b)));
    await until(() => ca.peers().length >= 1 && cc.peers().length >= 1, 10_000, 'subscriptions');
    for (let i = 0; i < 50 && !(dropped.some((w) => w.startsWith('undecodable')) && dropped.includes('author not accepted') && got.length > 0); i++) {
      // Raw garbage straight through gossipsub on the topic, a refused author, an accepted one.
      await a.services.pubsub.publish(ca.topic, Uint8Array.of(1, 2, 3, i));
      await cc.publish(heartbeat(i));
      await ca.publish(heartbeat(i));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(dropped.some((w) => w.startsWith('undecodable')), dropped.join('; '));
    assert.ok(dropped.includes('author not accepted'), dropped.join('; '));
    assert.ok(got.length > 0 && got.every((g) => g === 'heartbeat from a'), got.join('; '));
  });
});

test('control: a round opening from a member that is not the aggregator is refused in the middle and never reaches the far end; the aggregator\'s is relayed', async () => {
  await withHosts(3, async (hosts) => {
    const [member, relay, far] = hosts;
    // The relay takes round openings from itself alone (it plays the aggregator); the far host
    // judges nothing, so whatever it does not get, the relay did not pass on.
    const aggregator = relay.peerId.toString();
    const mayAuthor = (kind: string, author: string): boolean => kind !== 'roundOpen' || author === aggregator;
    const farGot: string[] = [];
    const dropped: string[] = [];
    const cm = joinControl(member, RUN, () => undefined);
    const cr = joinControl(relay, RUN, () => undefined, { mayAuthor, onDropped: (from, why) => dropped.push(`${from === member.peerId.toString() ? 'member' : from}: ${why}`) });
    joinControl(far, RUN, (ctl, from) => farGot.push(`${ctl.body.kind} from ${from === aggregator ? 'aggregator' : from === member.peerId.toString() ? 'member' : from}`));
    await line(hosts);
    await until(() => cm.peers().length >= 1 && cr.peers().length >= 2, 10_000, 'subscriptions');
    const open = (round: number): Control => ({ runId: RUN, body: { kind: 'roundOpen', round, modelVersion: round, deadlineUnixMs: 0, assignments: [] } });
    for (let i = 0; i < 60 && !(farGot.includes('heartbeat from member') && farGot.includes('roundOpen from aggregator') && dropped.length > 0); i++) {
      await cm.publish(open(100 + i));
      await cm.publish(heartbeat(i));
      await cr.publish(open(i));
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(dropped.length > 0 && dropped.every((d) => d === 'member: roundOpen from a peer that may not send it'), dropped.join('; '));
    // The far end got the member's heartbeats through the relay (it is connected and relayed) but none of its round openings.
    assert.ok(farGot.includes('heartbeat from member'), farGot.join('; '));
    assert.ok(farGot.includes('roundOpen from aggregator'), farGot.join('; '));
    assert.ok(!farGot.includes('roundOpen from member'), farGot.join('; '));
  });
});

test('control: a peer that relays a forged round opening (it does not know the aggregator) is not penalised for it; the author is', async () => {
  const topics = { gossipTopics: [`fednode/${RUN}/control`] };
  await withHosts(3, async (hosts) => {
    const [member, relay, far] = hosts;
    const aggregator = 'the-aggregator-is-elsewhere';
    const dropped: string[] = [];
    const cm = joinControl(member, RUN, () => undefined);
    // The relay judges nothing about authors (an older node, say); the far host does.
    const cr = joinControl(relay, RUN, () => undefined);
    joinControl(far, RUN, () => undefined, { mayAuthor: (kind, author) => kind !== 'roundOpen' || author === aggregator, onDropped: (_f, why) => dropped.push(why) });
    await line(hosts);
    await until(() => cm.peers().length >= 1 && cr.peers().length >= 2, 10_000, 'subscriptions');
    for (let i = 0; i < 40 && dropped.length < 20; i++) {
      await cm.publish({ runId: RUN, body: { kind: 'roundOpen', round: i, modelVersion: i, deadlineUnixMs: 0, assignments: [] } });
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(dropped.length >= 20, `the far host refused the relayed forgeries (${dropped.length})`);
    // Invalid deliveries count against a peer's score; ignored ones do not. (The implementation
    // has getScore; the GossipSub interface the host exposes does not declare it.)
    const score = (far.services.pubsub as unknown as { getScore(peer: string): number }).getScore(relay.peerId.toString());
    assert.ok(score >= 0, `the relay's score at the far host: ${score}`);
  }, topics);
});
