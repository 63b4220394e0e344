import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_WIRE_LIMITS, encodeSyncParts } from '@fednode/core';
import { multiaddr } from '@multiformats/multiaddr';
import { hostAddr } from '../src/net/index.js';
import { MAX_PENDING_STEPS_PER_AUTHOR, joinSync, syncTopic } from '../src/peer/sync-channel.js';
import { sampleModel, sampleUpdate, withHosts } from './net-helpers.js';

/**
 * A member that floods the sync topic cannot make another peer hold more than a bounded amount:
 * first parts of contributions for 1000 future steps, and part counts ten times what the model
 * needs, leave at most MAX_PENDING_STEPS_PER_AUTHOR contributions' worth held, and an honest
 * contribution still arrives whole.
 */
test('sync: partial contributions are bounded per author by steps in flight and by the model size', async () => {
  await withHosts(2, async ([a, b]) => {
    const model = sampleModel(100_000); // 400 kB dense: a contribution is at most ~1.4 MB here
    const maxContributionBytes = Math.ceil(model.size * 4 * 1.1) + 1024 * 1024;
    const got: number[] = [];
    const dropped: string[] = [];
    let step = 0;
    const sync = joinSync(b, 'run-net', {
      limits: DEFAULT_WIRE_LIMITS,
      maxContributionBytes,
      modelTensors: model.specs.length,
      window: () => ({ low: step, high: step + 64 }),
      onContribution: (_from, s) => got.push(s),
      onDropped: (_from, why) => dropped.push(why),
    });
    const topic = syncTopic('run-net');
    a.services.pubsub.subscribe(topic);
    await a.dial(multiaddr(hostAddr(b)));
    const end = Date.now() + 10_000;
    while (a.services.pubsub.getSubscribers(topic).length === 0 || b.services.pubsub.getSubscribers(topic).length === 0) {
      if (Date.now() > end) throw new Error('no subscription');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500)); // gossipsub's mesh forms on its heartbeat
    const parts = encodeSyncParts(sampleUpdate(model), 0);
    assert.ok(parts.length >= 7, `${parts.length} parts`);
    // A contribution claiming ten times the parts the model could need.
    const huge = sampleModel(1_000_000);
    await a.services.pubsub.publish(topic, encodeSyncParts(sampleUpdate(huge), 10)[0]);
    // The first part of a contribution to each of 1000 steps: the rest never comes.
    for (let s = 0; s < 1000; s++) await a.services.pubsub.publish(topic, encodeSyncParts(sampleUpdate(model), s)[0]);
    await new Promise((r) => setTimeout(r, 1500));
    const held = sync.pendingBytes();
    assert.ok(held > 0 && held <= MAX_PENDING_STEPS_PER_AUTHOR * (maxContributionBytes + parts.length * 1024), `held ${held} bytes`);
    assert.ok(dropped.some((w) => /outside \[0, 64\]/.test(w)), 'far-future steps dropped on arrival');
    assert.ok(dropped.some((w) => /steps partly received from this author/.test(w)), 'an author is held to its steps in flight');
    assert.ok(dropped.some((w) => /declares \d+ parts, more than a contribution to this model needs/.test(w)), 'an oversized part count is refused at the first part');
    // A whole contribution sent twice is held once.
    step = 500;
    sync.prune(step);
    for (const m of encodeSyncParts(sampleUpdate(model), 501)) await a.services.pubsub.publish(topic, m);
    for (const m of encodeSyncParts(sampleUpdate(model), 501)) await a.services.pubsub.publish(topic, m);
    await waitFor(() => dropped.some((w) => /step 501: a contribution from this author was already received/.test(w)), 'the repeat refused');
    assert.equal(got.filter((s) => s === 501).length, 1, 'one contribution for step 501');
    assert.equal(sync.pendingBytes(), 0, 'nothing of the repeat is held');
    // The honest path still works once the step moves on and the stale partials are pruned.
    step = 2000;
    sync.prune(step);
    assert.equal(sync.pendingBytes(), 0);
    for (const m of encodeSyncParts(sampleUpdate(model), 2000)) await a.services.pubsub.publish(topic, m);
    await waitFor(() => got.includes(2000), 'the honest contribution');
    sync.leave();
  });
});

async function waitFor(ok: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`${what} never came`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What a peer refuses it does not relay: a flood that its window or its per-author bound
 * turns away never reaches the peers behind it (gossipsub relays and caches what validators
 * accept, so a check after delivery would still cost every peer the flood).
 */
test('sync: parts a peer refuses are not relayed to the peers behind it', async () => {
  await withHosts(3, async ([a, b, c]) => {
    const model = sampleModel(100_000);
    const opts = { limits: DEFAULT_WIRE_LIMITS, maxContributionBytes: Math.ceil(model.size * 4 * 1.1) + 1024 * 1024, modelTensors: model.specs.length, onContribution: () => undefined };
    const seenAtC: string[] = [];
    const bSync = joinSync(b, 'run-net', { ...opts, window: () => ({ low: 0, high: 16 }) });
    // c would hold anything: it shows what b let through.
    const cSync = joinSync(c, 'run-net', { ...opts, window: () => ({ low: 0, high: 100_000 }), onDropped: (_f, why) => seenAtC.push(why) });
    const topic = syncTopic('run-net');
    a.services.pubsub.subscribe(topic);
    await a.dial(multiaddr(hostAddr(b)));
    await c.dial(multiaddr(hostAddr(b)));
    await waitFor(() => b.services.pubsub.getSubscribers(topic).length === 2 && a.services.pubsub.getSubscribers(topic).length === 1, 'subscriptions');
    await new Promise((r) => setTimeout(r, 1500)); // gossipsub's mesh forms on its heartbeat
    for (let s = 0; s < 1000; s++) await a.services.pubsub.publish(topic, encodeSyncParts(sampleUpdate(model), s)[0]);
    await waitFor(() => cSync.pendingBytes() > 0, 'the parts b accepted, at c');
    await new Promise((r) => setTimeout(r, 1500));
    // b accepted the first parts of MAX_PENDING_STEPS_PER_AUTHOR steps and refused the rest; c saw only those.
    assert.equal(seenAtC.length, 0, `c saw refusals: ${seenAtC.slice(0, 3).join('; ')}`);
    assert.ok(cSync.pendingBytes() <= MAX_PENDING_STEPS_PER_AUTHOR * 64 * 1024, `c holds ${cSync.pendingBytes()} bytes`);
    bSync.leave();
    cSync.leave();
  });
});

/**
 * A member that keeps sending what no honest peer sends is soon ignored unread (gossipsub's
 * graylist, driven by our validators' rejections), while an honest peer's contribution still
 * arrives whole.
 */
test('sync: a member flooding rejected parts is graylisted; honest contributions still arrive', async () => {
  const topic = syncTopic('run-net');
  await withHosts(
    3,
    async ([flooder, b, honest]) => {
      const model = sampleModel(100_000);
      const dropped: string[] = [];
      const got: string[] = [];
      const sync = joinSync(b, 'run-net', {
        limits: DEFAULT_WIRE_LIMITS,
        maxContributionBytes: Math.ceil(model.size * 4 * 1.1) + 1024 * 1024,
        modelTensors: model.specs.length,
        window: () => ({ low: 0, high: 16 }),
        onContribution: (from) => got.push(from),
        onDropped: (from, why) => {
          if (from === flooder.peerId.toString()) dropped.push(why);
        },
      });
      const honestSync = joinSync(honest, 'run-net', { limits: DEFAULT_WIRE_LIMITS, maxContributionBytes: 1 << 24, modelTensors: 2, window: () => ({ low: 0, high: 16 }), onContribution: () => undefined });
      flooder.services.pubsub.subscribe(topic);
      await flooder.dial(multiaddr(hostAddr(b)));
      await honest.dial(multiaddr(hostAddr(b)));
      await waitFor(() => b.services.pubsub.getSubscribers(topic).length === 2 && flooder.services.pubsub.getSubscribers(topic).length === 1, 'subscriptions');
      await new Promise((r) => setTimeout(r, 1500));
      // A header declaring ten times the parts the model needs: rejected, every time.
      const bad = encodeSyncParts(sampleUpdate(sampleModel(1_000_000)), 1)[0];
      const flood = async (n: number): Promise<number> => {
        const before = dropped.length;
        for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, () => flooder.services.pubsub.publish(topic, bad)));
        await new Promise((r) => setTimeout(r, 1500));
        return dropped.length - before;
      };
      // The first flood is read until the score catches up (gossipsub trusts a peer for up to
      // 128 messages a second while its score was last seen >= 0); the next finds it graylisted.
      const first = await flood(1000);
      const second = await flood(500);
      process.stdout.write(`# flood: 1000 rejected parts, ${first} read; 500 more, ${second} read\n`);
      assert.ok(first > 0, 'the first ones were read and refused');
      assert.ok(second <= 10, `${second} of the second 500 read: the flooder is not ignored`);
      await honestSync.publish(0, sampleUpdate(model));
      await waitFor(() => got.includes(honest.peerId.toString()), 'the honest contribution');
      sync.leave();
      honestSync.leave();
    },
    { gossipTopics: [topic] },
  );
});
