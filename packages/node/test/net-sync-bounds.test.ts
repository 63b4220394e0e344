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
    // The honest path still works once the step moves on and the stale partials are pruned.
    step = 2000;
    sync.prune(step);
    assert.equal(sync.pendingBytes(), 0);
    for (const m of encodeSyncParts(sampleUpdate(model), 2000)) await a.services.pubsub.publish(topic, m);
    const until = Date.now() + 10_000;
    while (!got.includes(2000)) {
      if (Date.now() > until) throw new Error('the honest contribution never arrived');
      await new Promise((r) => setTimeout(r, 50));
    }
    sync.leave();
  });
});
