/**
 * An intruder without the run's key that knows the run id and every peer's address: it dials
 * each peer, publishes sync parts, PeerJoin, RoundOpen, ModelAnnounce and garbage on every
 * topic of the run, and asks for status. Each honest run (decentralised DeMo with 3 peers;
 * federated FedAvg with 3 trainers) must end with exactly the parameters of the same run
 * without the intruder, and wait for nothing on its account.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeControl, encodeSyncParts, parseSafetensors, ParamSet } from '@fednode/core';
import { multiaddr } from '@multiformats/multiaddr';
import { createHost, type FedHost } from '@fednode/node';
import { fetchStatus } from '../../packages/node/src/runtime/status-protocol.js';
import { controlTopic } from '../../packages/node/src/net/control.js';
import { syncTopic } from '../../packages/node/src/peer/sync-channel.js';
import { Cluster, freePort, mnistRun, readLog, waitForLog, within, type LogLine } from '../cluster.js';
import { sampleUpdate } from '../../packages/node/test/net-helpers.js';

const LIMIT = { timeout: 300_000 };
const PSK = 'hostile-suite-pre-shared-key-0123456789';
process.env.FEDNODE_HOSTILE_PSK = PSK;

/** Everything an outsider can try against `addrs` for `runId`, repeatedly, until `stop` resolves. Returns what got through. */
async function intrude(runId: string, addrs: () => string[], stop: Promise<unknown>): Promise<{ dialled: number; connected: number; statusAnswers: number; published: number }> {
  const host: FedHost = await createHost();
  const out = { dialled: 0, connected: 0, statusAnswers: 0, published: 0 };
  let done = false;
  void stop.finally(() => (done = true));
  const garbage = new Uint8Array(512).map((_, i) => (i * 31) & 0xff);
  const forged = [
    encodeControl({ runId, body: { kind: 'roundOpen', round: 0, modelVersion: 0, deadlineUnixMs: Date.now() + 60_000, assignments: [] } }),
    encodeControl({ runId, body: { kind: 'modelAnnounce', version: 999, round: 999, sha256: new Uint8Array(32), parameters: 1 } }),
    encodeControl({ runId, body: { kind: 'heartbeat', role: 'peer', version: 0, step: 0, timeUnixMs: Date.now() } }),
    ...encodeSyncParts(sampleUpdate(ParamSet.zeros([{ name: 'w', shape: [1000] }])), 1).slice(0, 2),
    garbage,
  ];
  for (const t of [controlTopic(runId), syncTopic(runId)]) host.services.pubsub.subscribe(t);
  try {
    while (!done) {
      for (const a of addrs()) {
        out.dialled++;
        try {
          await host.dial(multiaddr(a), { signal: AbortSignal.timeout(2000) });
          out.connected++;
        } catch {
          // refused: what must happen
        }
        try {
          await fetchStatus(host, a, 2000);
          out.statusAnswers++;
        } catch {
          // no answer for outsiders
        }
      }
      for (const t of [controlTopic(runId), syncTopic(runId)]) {
        for (const m of forged) {
          const r = await host.services.pubsub.publish(t, m).catch(() => null);
          if (r !== null && r.recipients.length > 0) out.published++;
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await Promise.resolve(host.stop()).catch(() => undefined);
  }
  return out;
}

async function demoRun(withIntruder: boolean): Promise<{ hash: string; logs: LogLine[][]; intruder: Awaited<ReturnType<typeof intrude>> | null }> {
  const c = new Cluster(`hostile-demo-${withIntruder ? 'attacked' : 'clean'}`);
  try {
    const run = c.writeRun('run', {
      run: 'hostile-demo',
      mode: 'decentralised',
      seed: 3,
      task: { name: 'mlp', dataset: 'mnist' },
      data: { partition: { kind: 'iid' }, shares: 3, evalSamples: 500 },
      sync: { algorithm: 'demo', steps: 20, batch: 32, lr: 0.01, minPeers: 3, timeoutS: 15, hashEvery: 5 },
      limits: { lingerS: 1, timeoutS: 10 },
      admission: { psk: { env: 'FEDNODE_HOSTILE_PSK' } },
    });
    const peers: { log: string; addr: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const key = await c.key(`p${i}`);
      const p = c.start(`p${i}`, ['--config', run, '--role', 'peer', '--shard', String(i), '--key', key.path, '--data-dir', c.dataDir(`p${i}`), ...(i === 0 ? [] : ['--bootstrap', peers[0].addr])]);
      const started = await waitForLog(p.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, `p${i} to start`);
      peers.push({ log: p.log, addr: (started.addrs as string[])[0] });
    }
    const finished = Promise.all(peers.map((p, i) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'peer.done'), 200_000, `p${i} to finish`)));
    const intruder = withIntruder ? intrude('hostile-demo', () => peers.map((p) => p.addr), finished) : Promise.resolve(null);
    const done = await within(finished, 220_000, 'the run');
    assert.equal(new Set(done.map((d) => d.hash)).size, 1, 'the peers agree');
    return { hash: done[0].hash as string, logs: peers.map((p) => readLog(p.log)), intruder: await intruder };
  } finally {
    await c.close();
  }
}

test('hostile: an intruder without the key cannot touch a decentralised DeMo run: same parameters as without it, nothing waited for', LIMIT, async () => {
  const clean = await demoRun(false);
  const attacked = await demoRun(true);
  const i = attacked.intruder!;
  process.stdout.write(`# intruder (decentralised): ${JSON.stringify(i)}\n`);
  assert.ok(i.dialled >= 3, 'it tried every peer');
  assert.deepEqual([i.connected, i.statusAnswers, i.published], [0, 0, 0], 'no connection, no status, no gossip delivered');
  assert.equal(attacked.hash, clean.hash, 'bit-identical to the run without the intruder');
  for (const l of attacked.logs) {
    const steps = l.filter((x) => x.event === 'sync.step');
    assert.equal(steps.length, 20);
    assert.ok(steps.every((s) => s.contributors === 3), 'every step had exactly the three members');
    assert.equal(l.filter((x) => /timeout|dropped_member|member\.dropped/.test(x.event)).length, 0, 'nobody was waited for');
  }
});

async function fedAvgRun(withIntruder: boolean): Promise<{ checkpoint: Buffer; intruder: Awaited<ReturnType<typeof intrude>> | null; agg: LogLine[] }> {
  const c = new Cluster(`hostile-fedavg-${withIntruder ? 'attacked' : 'clean'}`);
  try {
    const agg = await c.key('agg');
    const keys = await Promise.all([0, 1, 2].map((i) => c.key(`t${i}`)));
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun('run', mnistRun('hostile-fedavg', 3, { rounds: 3, data: { trainRows: 3000, testRows: 1000, partition: { kind: 'iid' }, shares: 3 }, admission: { psk: { env: 'FEDNODE_HOSTILE_PSK' } }, network: { aggregator: aggAddr } }));
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, 'the aggregator to start');
    const ts = keys.map((k, i) => c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--key', k.path, '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)]));
    const exited = within(a.exited, 150_000, 'the aggregator');
    const intruder = withIntruder ? intrude('hostile-fedavg', () => [aggAddr], exited) : Promise.resolve(null);
    assert.equal((await exited).code, 0);
    for (const t of ts) await within(t.exited, 30_000, t.name);
    return { checkpoint: readFileSync(join(c.dataDir('agg'), 'aggregator', 'checkpoints', 'v00000003.safetensors')), intruder: await intruder, agg: readLog(a.log) };
  } finally {
    await c.close();
  }
}

test('hostile: an intruder without the key cannot touch a federated FedAvg run: the final checkpoint is the clean run\'s, byte for byte', LIMIT, async () => {
  const clean = await fedAvgRun(false);
  const attacked = await fedAvgRun(true);
  const i = attacked.intruder!;
  process.stdout.write(`# intruder (federated): ${JSON.stringify(i)}\n`);
  assert.ok(i.dialled >= 1);
  assert.deepEqual([i.connected, i.statusAnswers, i.published], [0, 0, 0]);
  // The tensors, not the file: its metadata names the trainers' peer ids, fresh in each run.
  const tensors = (b: Buffer) => parseSafetensors(b).tensors.map((t) => [t.name, Buffer.from(t.bytes).toString('base64')]);
  assert.deepEqual(tensors(attacked.checkpoint), tensors(clean.checkpoint), 'the same final model, bit for bit');
  const closed = attacked.agg.filter((l) => l.event === 'round.closed');
  assert.deepEqual(closed.map((l) => (l.peers as string[]).length), [3, 3, 3], 'every round closed with its three trainers, not at a deadline');
});
