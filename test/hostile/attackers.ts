/**
 * The two attackers of the hostile suite, each a libp2p host of its own driven from the test:
 * an outsider without the run's key, and a member that holds the key and abuses it.
 */
import { ParamSet, encodeControl, encodeSyncParts, encodeUpdate, fullSlice, type Update } from '@fednode/core';
import { multiaddr } from '@multiformats/multiaddr';
import { Admission, NetError, controlTopic, createHost, fetchStatus, networkKeyOf, pushUpdate, syncTopic, type FedHost } from '@fednode/node';
import { Rng } from '@fednode/kernels';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The MNIST MLP's tensors (784-200-200-10), `scale` times as many output rows in the first layer. */
function mlpShapedDelta(scale: number, seed: number): ParamSet {
  const p = ParamSet.zeros([
    { name: 'fc1.weight', shape: [200 * scale, 784] },
    { name: 'fc1.bias', shape: [200 * scale] },
    { name: 'fc2.weight', shape: [200, 200] },
    { name: 'fc2.bias', shape: [200] },
    { name: 'head.weight', shape: [10, 200] },
    { name: 'head.bias', shape: [10] },
  ]);
  const rng = new Rng(seed);
  for (let i = 0; i < p.data.length; i++) p.data[i] = rng.uniform() - 0.5;
  return p;
}

function fp32Update(runId: string, delta: ParamSet, round: number): Update {
  return encodeUpdate({ runId, sender: 'forged', baseVersion: round, round, sequence: round + 1, examples: 64, metrics: { loss: 0.1 } }, fullSlice(delta.specs), delta, { codec: 'fp32' });
}

export interface IntruderReport {
  dialled: number;
  connected: number;
  statusAnswers: number;
  published: number;
}

/** Everything an outsider can try against `addrs` for `runId`, repeatedly, until `stop` resolves. Returns what got through. */
export async function intrude(runId: string, addrs: () => string[], stop: Promise<unknown>): Promise<IntruderReport> {
  const host: FedHost = await createHost();
  const out = { dialled: 0, connected: 0, statusAnswers: 0, published: 0 };
  let done = false;
  void stop.finally(() => (done = true));
  const garbage = new Uint8Array(512).map((_, i) => (i * 31) & 0xff);
  const forged = [
    encodeControl({ runId, body: { kind: 'roundOpen', round: 0, modelVersion: 0, deadlineUnixMs: Date.now() + 60_000, assignments: [] } }),
    encodeControl({ runId, body: { kind: 'modelAnnounce', version: 999, round: 999, sha256: new Uint8Array(32), parameters: 1 } }),
    encodeControl({ runId, body: { kind: 'heartbeat', role: 'peer', version: 0, step: 0, timeUnixMs: Date.now() } }),
    ...encodeSyncParts(fp32Update(runId, mlpShapedDelta(1, 1), 1), 1).slice(0, 2),
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
      await sleep(300);
    }
  } finally {
    await Promise.resolve(host.stop()).catch(() => undefined);
  }
  return out;
}

export interface MemberReport {
  peerId: string;
  /** Status answers received (the member is admitted, so each query is answered). */
  statusAnswers: number;
  /** Gossip messages published that reached at least one peer. */
  published: number;
  /** Per target: the most JS heap plus buffers (bytes) and the most held for partial contributions it reported. */
  peakMemory: number[];
  peakPending: number[];
  /** Every status answer: [target, heap, buffers, pending] bytes. */
  samples: [number, number, number, number][];
  /** Pushed updates refused, by code (federated). */
  refusals: Record<string, number>;
  /** Pushed updates accepted (must stay 0: each one is malformed). */
  accepted: number;
}

/**
 * A member of the run (it holds the key, so it connects and is admitted) that tries to exhaust
 * and mislead the honest nodes until `stop` resolves: on the sync topic the first parts of
 * contributions to the next 1000 steps, all but the last part of contributions to every step
 * in reach (never completed, so held as long as a peer lets them be), and headers declaring ten
 * times the model; on the control topic RoundOpen and ModelAnnounce as if it were the
 * aggregator; to an aggregator (`pushTo`) updates whose header is ten times the model, and
 * updates for rounds far ahead. Meanwhile it asks each target's status for its memory. A
 * `passive` member only asks: the memory of the same run unattacked.
 */
export async function misbehave(runId: string, psk: string, addrs: () => string[], stop: Promise<unknown>, o: { passive: boolean; pushTo: string | null }): Promise<MemberReport> {
  const pushTo = o.pushTo;
  const host = await createHost({ networkKey: networkKeyOf(psk, runId) });
  const admission = new Admission(host, { psk });
  await admission.start();
  const out: MemberReport = { peerId: host.peerId.toString(), statusAnswers: 0, published: 0, peakMemory: [], peakPending: [], refusals: {}, accepted: 0, samples: [] };
  let done = false;
  void stop.finally(() => (done = true));
  const sync = syncTopic(runId);
  const control = controlTopic(runId);
  for (const t of [control, sync]) host.services.pubsub.subscribe(t);
  const model = fp32Update(runId, mlpShapedDelta(1, 2), 0);
  const tenfold = fp32Update(runId, mlpShapedDelta(10, 3), 0);
  const publish = async (topic: string, m: Uint8Array): Promise<void> => {
    const r = await host.services.pubsub.publish(topic, m).catch(() => null);
    if (r !== null && r.recipients.length > 0) out.published++;
  };
  try {
    while (!done) {
      // (Re)connect: a busy node may miss a first dial, and gossip needs the connection.
      for (const a of addrs()) await host.dial(multiaddr(a), { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      let low = Infinity;
      for (const [i, a] of addrs().entries()) {
        try {
          const s = await fetchStatus(host, a, 5000, admission);
          out.statusAnswers++;
          out.peakMemory[i] = Math.max(out.peakMemory[i] ?? 0, s.memory.heapUsedBytes + s.memory.externalBytes);
          out.samples.push([i, s.memory.heapUsedBytes, s.memory.externalBytes, s.peer?.pendingSyncBytes ?? 0]);
          out.peakPending[i] = Math.max(out.peakPending[i] ?? 0, s.peer?.pendingSyncBytes ?? 0);
          low = Math.min(low, s.peer?.step ?? s.aggregator?.round ?? 0);
        } catch {
          // a node that finished no longer answers
        }
      }
      if (low === Infinity) low = 0;
      if (o.passive) {
        await sleep(200);
        continue;
      }
      if (pushTo === null) {
        const flood: Uint8Array[] = [];
        for (let s = low + 1; s <= low + 1000; s++) flood.push(encodeSyncParts(model, s)[0]);
        for (let s = low; s <= low + 20; s++) {
          flood.push(...encodeSyncParts(model, s).slice(0, -1));
          flood.push(encodeSyncParts(tenfold, s)[0]);
        }
        // In batches: one publish at a time would leave the peers idle between messages.
        for (let i = 0; i < flood.length; i += 64) await Promise.all(flood.slice(i, i + 64).map((m) => publish(sync, m)));
      }
      await publish(control, encodeControl({ runId, body: { kind: 'roundOpen', round: low, modelVersion: low, deadlineUnixMs: Date.now() + 1000, assignments: [] } }));
      await publish(control, encodeControl({ runId, body: { kind: 'modelAnnounce', version: 999, round: 999, sha256: new Uint8Array(32), parameters: 1 } }));
      if (pushTo !== null) {
        for (const u of [fp32Update(runId, mlpShapedDelta(10, 4), low), fp32Update(runId, mlpShapedDelta(1, 5), low + 1000)]) {
          try {
            await pushUpdate(host, pushTo, u, { timeoutMs: 10_000, admission });
            out.accepted++;
          } catch (e) {
            // A refusal names its code; anything else is the aggregator having finished.
            const code = e instanceof NetError && e.code === 'NET_REFUSED' ? (e.remoteCode ?? 'unnamed') : null;
            if (code !== null) out.refusals[code] = (out.refusals[code] ?? 0) + 1;
          }
        }
      }
      await sleep(200);
    }
  } finally {
    await admission.stop().catch(() => undefined);
    await Promise.resolve(host.stop()).catch(() => undefined);
  }
  return out;
}
