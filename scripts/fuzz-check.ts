/**
 * A fuzz run against a live aggregator daemon over real streams while it trains: an admitted
 * member sends mutated frames on every protocol the daemon serves, `/fednode/update/1`,
 * `/fednode/model/1`, `/fednode/auth/1` and `/fednode/status/1` (bytes flipped, cut short,
 * length prefixes changed, garbage, varints stretched), each on a stream of its own, and
 * mutated messages on the run's gossip topic (`fednode/<run>/control`). Every frame must be
 * refused with a named code (the protocol's answer frame; for auth the refusal byte; for
 * gossip the daemon's `gossip.dropped` line naming why), or, where the mutation left it a
 * valid request, answered as one. Nothing may hang or crash the daemon, rounds go on closing
 * through the fuzzing, and the run then completes.
 *
 * gossipsub graylists a peer after a few rejected messages (see net/host.ts) and then drops
 * what it sends unread, so the gossip frames come from a fresh member identity every
 * GOSSIP_PER_IDENTITY frames, each of which the daemon reads and judges.
 *
 *   FUZZ_FRAMES=10000 node --import tsx --test scripts/fuzz-check.ts
 *
 * FUZZ_FRAMES sets the frames per protocol (default 1000; the acceptance run is 10000, by hand:
 * about 17 minutes). `npm test` runs it at 100 frames (test/hostile/fuzz-smoke.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_WIRE_LIMITS, MAX_CONTROL_BYTES, ParamSet, decodeControl, decodeSyncPart, encodeSyncParts, decodeModelResponse, decodeUpdateAck, encodeControl, encodeModelRequest, encodeUpdate, fullSlice, updateToFrames } from '@fednode/core';
import { multiaddr } from '@multiformats/multiaddr';
import { Admission, FrameReader, MODEL_PROTOCOL, STATUS_PROTOCOL, UPDATE_PROTOCOL, AUTH_PROTOCOL, controlTopic, createHost, encodeLength, loadIdentity, networkKeyOf, openStream, syncTopic, type FedHost } from '@fednode/node';
import { Rng } from '@fednode/kernels';
import { Cluster, freePort, mnistPeerRun, mnistRun, readLog, waitForLog, within } from '../test/cluster.js';

const FRAMES = Number(process.env.FUZZ_FRAMES ?? 1000);
const PSK = 'fuzz-suite-pre-shared-key-0123456789';
const LIMIT = { timeout: 3_600_000 };
/** Frames each gossip identity sends: under the nine rejections that graylist it. */
const GOSSIP_PER_IDENTITY = 8;
/** Rounds of 2 s: enough to outlast the fuzzing (about 150 frames a second on two busy cores). */
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? Math.ceil((FRAMES * 5) / 120 / 2) + 30);

/** One mutation of a message body: bytes flipped, cut short, replaced by garbage, or stretched. */
function mutateBody(frame: Uint8Array, rng: Rng): Uint8Array {
  const body = new Uint8Array(frame);
  switch (rng.uniformInt(4)) {
    case 0: {
      for (let i = 0, n = 1 + rng.uniformInt(8); i < n; i++) body[rng.uniformInt(body.length)] ^= 1 + rng.uniformInt(255);
      return body;
    }
    case 1:
      return body.subarray(0, rng.uniformInt(body.length));
    case 2: {
      const g = new Uint8Array(1 + rng.uniformInt(512));
      for (let i = 0; i < g.length; i++) g[i] = rng.uniformInt(256);
      return g;
    }
    default: {
      // A field's varint stretched: bytes inserted in the middle.
      const at = rng.uniformInt(body.length);
      const ins = Uint8Array.from({ length: 1 + rng.uniformInt(16) }, () => 0x80 | rng.uniformInt(128));
      return Buffer.concat([body.subarray(0, at), ins, body.subarray(at)]);
    }
  }
}

/** One mutation of `frame` (its payload, without the length prefix): the wire bytes to send. */
function mutate(frame: Uint8Array, rng: Rng): Uint8Array {
  switch (rng.uniformInt(5)) {
    case 0:
      // Cut short: the prefix promises more than comes.
      return Buffer.concat([encodeLength(frame.length), frame.subarray(0, rng.uniformInt(frame.length))]);
    case 1:
      // A length prefix far over any limit.
      return Buffer.concat([encodeLength(2 ** 31 - 1 - rng.uniformInt(1000)), frame.subarray(0, 16)]);
    default: {
      const body = mutateBody(frame, rng);
      return Buffer.concat([encodeLength(body.length), body]);
    }
  }
}

type Verdict = 'named' | 'closed' | 'accepted';

/** Sends `bytes` on a fresh stream of `protocol` and reads the answer frame: a named refusal, or not. */
async function probe(host: FedHost, addr: string, admission: Admission, protocol: string, bytes: Uint8Array): Promise<Verdict> {
  const { stream } = await openStream(host, addr, protocol, { timeoutMs: 30_000, admission });
  const reader = new FrameReader(stream, { maxFrameBytes: 1 << 20, timeoutMs: 10_000 });
  try {
    if (protocol === AUTH_PROTOCOL) await reader.next(); // the server speaks first: its nonce
    stream.send(bytes);
    await stream.close({ signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    const answer = await reader.next().catch(() => null);
    if (answer === null) return 'closed';
    if (protocol === UPDATE_PROTOCOL) return decodeUpdateAck(answer).accepted ? 'accepted' : 'named';
    if (protocol === MODEL_PROTOCOL) return decodeModelResponse(answer).found ? 'accepted' : 'named';
    if (protocol === STATUS_PROTOCOL) return 'refused' in (JSON.parse(Buffer.from(answer).toString('utf8')) as object) ? 'named' : 'accepted';
    return answer.byteLength === 1 && answer[0] === 1 ? 'named' : 'accepted';
  } finally {
    reader.dispose();
    stream.abort(new Error('probe done'));
  }
}

/** Whether the daemon's control validator must accept `bytes` (the same checks, run here). */
/**
 * Whether the daemon takes `bytes` from a member that is not the aggregator: a control message
 * of the run, of a kind any member may send (round openings and model announcements come from
 * the aggregator alone).
 */
function validControl(bytes: Uint8Array, runId: string): boolean {
  if (bytes.byteLength > MAX_CONTROL_BYTES) return false;
  try {
    const c = decodeControl(bytes, DEFAULT_WIRE_LIMITS);
    return c.runId === runId && c.body.kind !== 'roundOpen' && c.body.kind !== 'modelAnnounce';
  } catch {
    return false;
  }
}

/**
 * Publishes `frames` on a gossip topic (default the control topic of run `fuzz`),
 * GOSSIP_PER_IDENTITY from each fresh member (a new key in the private network, admitted like
 * any member), `parallel` members at a time. gossip has no answer, so each member stays until
 * the daemon's `log` shows a drop line from it for every frame `mustDrop` says it must refuse:
 * leaving earlier could cut frames still queued, and a frame never judged would go unseen.
 * Returns the members' peer ids.
 */
async function gossipFuzz(
  target: string,
  log: string,
  event: string,
  frames: Uint8Array[],
  mustDrop: (m: Uint8Array) => boolean,
  parallel: number,
  on = { runId: 'fuzz', topic: controlTopic('fuzz') },
): Promise<Set<string>> {
  const topic = on.topic;
  const members = new Set<string>();
  let retries = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < frames.length) {
        const batch = frames.slice(next, next + GOSSIP_PER_IDENTITY);
        next += batch.length;
        const host = await createHost({ networkKey: networkKeyOf(PSK, on.runId) });
        const id = host.peerId.toString();
        members.add(id);
        try {
          host.services.pubsub.subscribe(topic);
          const connect = async (): Promise<void> => {
            await host.dial(multiaddr(target), { signal: AbortSignal.timeout(30_000) });
            const until = Date.now() + 30_000;
            while (!host.services.pubsub.getSubscribers(topic).some((p) => target.endsWith(p.toString()))) {
              if (Date.now() > until) throw new Error('the daemon never showed its subscription');
              await new Promise((r) => setTimeout(r, 20));
            }
          };
          await connect();
          for (const m of batch) {
            // A frame that reached nobody was not sent: gossipsub's stream to the daemon was not
            // open yet (its subscription arrives on the daemon's stream, ours may lag) or the
            // connection went. Wait, reconnect if needed, and send it again.
            for (let attempt = 0; ; attempt++) {
              const r = await host.services.pubsub.publish(topic, m);
              if (r.recipients.length > 0) break;
              if (attempt === 100) throw new Error('a gossip frame reached nobody for 10 s');
              retries++;
              await new Promise((res) => setTimeout(res, 100));
              if (host.getConnections().length === 0) await connect();
            }
          }
          const expected = batch.filter(mustDrop).length;
          await waitForLog(log, (ls) => (ls.filter((l) => l.event === event && l.from === id).length >= expected ? true : undefined), 30_000, `${expected} ${event} lines from ${id}`);
        } finally {
          await Promise.resolve(host.stop()).catch(() => undefined);
        }
      }
    }),
  );
  if (retries > 0) process.stdout.write(`# gossip: ${retries} frames sent again after reaching nobody\n`);
  return members;
}

test(`fuzz: ${FRAMES} mutated frames on each of update/1, model/1, auth/1, status/1 and the control topic against a training aggregator; each refused by name; the run completes`, LIMIT, async () => {
  const c = new Cluster('fuzz');
  let host: FedHost | null = null;
  try {
    const agg = await c.key('agg');
    const fuzzer = await c.key('fuzzer');
    writeFileSync(join(c.dir, 'psk'), PSK + '\n', { mode: 0o600 });
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    // Rounds close at a 2 s deadline (the cohort is one more than the trainers), so the run
    // lasts ROUNDS x 2 s whatever the fuzzing costs: long enough to train all through it.
    const run = c.writeRun(
      'run',
      mnistRun('fuzz', 2, {
        rounds: ROUNDS,
        data: { trainRows: 1000, testRows: 200, partition: { kind: 'iid' }, shares: 2 },
        strategy: { kind: 'fedavg', cohort: 3, minParticipants: 2, deadlineS: 2 },
        local: { steps: 2, batch: 32, lr: 0.05, momentum: 0.9 },
        admission: { psk: { file: 'psk' } },
        network: { aggregator: aggAddr },
      }),
    );
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--log-level', 'debug']);
    await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, 'the aggregator');
    const ts = [0, 1].map((i) => c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)]));
    await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'round.closed'), 120_000, 'the first round');
    host = await createHost({ privateKey: loadIdentity(fuzzer.path), networkKey: networkKeyOf(PSK, 'fuzz') });
    const admission = new Admission(host, { psk: PSK });
    await admission.start();

    const delta = ParamSet.zeros([{ name: 'fc1.weight', shape: [200, 784] }]);
    const header = updateToFrames(encodeUpdate({ runId: 'fuzz', sender: 'f', baseVersion: 0, round: 0, sequence: 1, examples: 1 }, fullSlice(delta.specs), delta, { codec: 'int8' }))[0];
    const request = encodeModelRequest({ runId: 'fuzz', version: 'latest', slice: null, codec: 'fp32' });
    const auth = new Uint8Array(64).fill(7);
    const status = Buffer.from(JSON.stringify({ run: 'fuzz' }), 'utf8');
    const seeds: [string, Uint8Array][] = [
      [UPDATE_PROTOCOL, header],
      [MODEL_PROTOCOL, request],
      [AUTH_PROTOCOL, auth],
      [STATUS_PROTOCOL, status],
    ];
    const roundsBefore = readLog(a.log).filter((l) => l.event === 'round.closed').length;
    const counts: Record<string, Record<Verdict, number>> = {};
    const t0 = performance.now();
    // One protocol after another: all at once overloads two cores, and a dial that times out
    // says nothing about how the daemon treats a frame.
    const streams = (async () => {
      for (const [protocol, seed] of seeds) {
        const rng = new Rng(protocol.length * 7919);
        const tally: Record<Verdict, number> = { named: 0, closed: 0, accepted: 0 };
        // Below the protocols' own limit of inbound streams per connection (4), so none is turned away for that.
        const inFlight = 3;
        let next = 0;
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < FRAMES) {
              next++;
              const i = next;
              try {
                tally[await probe(host!, aggAddr, admission, protocol, mutate(seed, rng))]++;
              } catch (e) {
                throw new Error(`${protocol} probe ${i}: ${(e as Error).message}`, { cause: e });
              }
            }
          }),
        );
        counts[protocol] = tally;
        process.stdout.write(`# ${protocol}: ${JSON.stringify(tally)} after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      }
    })();
    await streams;

    // Gossip: mutations of each kind of control message; the daemon names each one it drops.
    const rng = new Rng(17);
    const controls = [
      encodeControl({ runId: 'fuzz', body: { kind: 'heartbeat', role: 'trainer', version: 1, step: 1, timeUnixMs: Date.now() } }),
      encodeControl({ runId: 'fuzz', body: { kind: 'roundOpen', round: 3, modelVersion: 3, deadlineUnixMs: Date.now() + 1000, assignments: [] } }),
      encodeControl({ runId: 'fuzz', body: { kind: 'modelAnnounce', version: 9, round: 9, sha256: new Uint8Array(32), parameters: 10 } }),
      encodeControl({ runId: 'fuzz', body: { kind: 'peerJoin', step: 4 } }),
    ];
    const gossip = Array.from({ length: FRAMES }, (_, i) => mutateBody(controls[i % controls.length], rng)).map((m) => (m.byteLength === 0 ? new Uint8Array([0]) : m));
    const valid = gossip.filter((m) => validControl(m, 'fuzz')).length;
    const members = await gossipFuzz(aggAddr, a.log, 'gossip.dropped', gossip, (m) => !validControl(m, 'fuzz'), 3);
    process.stdout.write(`# gossip: ${FRAMES} frames from ${members.size} members after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const seconds = (performance.now() - t0) / 1000;
    // Every refused message has its line; wait for the last ones to be judged.
    const dropped = await waitForLog(
      a.log,
      (ls) => {
        const d = ls.filter((l) => l.event === 'gossip.dropped' && members.has(l.from as string));
        return d.length >= FRAMES - valid ? d : undefined;
      },
      30_000,
      `${FRAMES - valid} gossip.dropped lines`,
    );
    counts.gossip = { named: dropped.length, closed: 0, accepted: valid };
    assert.ok(dropped.every((l) => typeof l.why === 'string' && (l.why as string).length > 0), 'each drop names why');
    // Rounds close every 2 s and the fuzzing takes about as long, so the round it overlapped may
    // close just after it: wait for that one rather than count only those closed by now.
    const roundsDuring = (await waitForLog(a.log, (ls) => {
      const n = ls.filter((l) => l.event === 'round.closed').length - roundsBefore;
      return n > 0 ? n : undefined;
    }, 30_000, 'a round to close after the fuzzing began').catch(() => 0));
    process.stdout.write(`# fuzz: ${JSON.stringify(counts)} in ${seconds.toFixed(1)} s, ${members.size} gossip identities, ${roundsDuring} rounds closed meanwhile\n`);
    for (const [protocol, tally] of Object.entries(counts)) {
      // No stream ends without an answer. A request whose mutation left it valid is answered as one.
      assert.equal(tally.closed, 0, `${protocol}: ${JSON.stringify(tally)}`);
      assert.equal(tally.named + tally.accepted, FRAMES, `${protocol}: ${JSON.stringify(tally)}`);
      if (protocol === UPDATE_PROTOCOL || protocol === AUTH_PROTOCOL) assert.equal(tally.accepted, 0, `${protocol}: a mutated frame was accepted`);
    }
    assert.equal(a.child.exitCode, null, 'the aggregator is alive: the run outlasted the fuzzing (raise FUZZ_ROUNDS if not)');
    assert.ok(roundsDuring > 0, 'rounds closed while the fuzzing ran');
    assert.equal((await within(a.exited, ROUNDS * 4000 + 60_000, 'the run to complete')).code, 0);
    for (const t of ts) await within(t.exited, 30_000, t.name);
    const versions = readLog(a.log).filter((l) => l.event === 'round.closed').map((l) => l.version);
    assert.deepEqual(versions, Array.from({ length: ROUNDS }, (_, i) => i + 1), 'the run completed');
  } finally {
    if (host !== null) await Promise.resolve(host.stop()).catch(() => undefined);
    await c.close();
  }
});

function decodableSyncPart(m: Uint8Array): boolean {
  try {
    return decodeSyncPart(m, DEFAULT_WIRE_LIMITS).runId === 'fuzz-sync';
  } catch {
    return false;
  }
}

/**
 * The sync topic, which only decentralised peers serve: two DeMo peers train while members
 * publish mutated sync parts (of a contribution to the model's shapes, for the steps around
 * theirs). A part whose mutation left it decodable may be held like any other; every one
 * that is not must be dropped with a `sync.dropped` line naming why, and the peers then
 * finish with the same parameters.
 */
test(`fuzz: ${FRAMES} mutated sync parts against two training DeMo peers; each undecodable one dropped by name; the run completes`, LIMIT, async () => {
  const c = new Cluster('fuzz-sync');
  try {
    writeFileSync(join(c.dir, 'psk'), PSK + '\n', { mode: 0o600 });
    // Two steps a second while fuzzed, and the fuzzing reads ~15-25 parts a second: room to spare.
    const steps = Math.ceil(FRAMES / 5) + 30;
    const run = c.writeRun('run', mnistPeerRun('fuzz-sync', 2, { steps, timeoutS: 30, hashEvery: 10 }, { seed: 5, data: { partition: { kind: 'iid' }, shares: 2, evalSamples: 200 }, admission: { psk: { file: 'psk' } } }));
    const peers = await c.startPeers(run, 2, ['--log-level', 'debug']);
    await waitForLog(peers[0].log, (ls) => ls.find((l) => l.event === 'sync.step'), 120_000, 'the first step');
    const delta = ParamSet.zeros([
      { name: 'fc1.weight', shape: [200, 784] },
      { name: 'fc1.bias', shape: [200] },
      { name: 'fc2.weight', shape: [200, 200] },
      { name: 'fc2.bias', shape: [200] },
      { name: 'head.weight', shape: [10, 200] },
      { name: 'head.bias', shape: [10] },
    ]);
    const update = encodeUpdate({ runId: 'fuzz-sync', sender: 'f', baseVersion: 0, round: 0, sequence: 1, examples: 1 }, fullSlice(delta.specs), delta, { codec: 'int8' });
    const rng = new Rng(23);
    const parts = [0, 1, 2, 5, 10, 40].map((s) => encodeSyncParts({ ...update, round: s }, s));
    const frames = Array.from({ length: FRAMES }, (_, i) => {
      const ps = parts[i % parts.length];
      return mutateBody(ps[rng.uniformInt(Math.min(ps.length, 3))], rng);
    }).map((m) => (m.byteLength === 0 ? new Uint8Array([0]) : m));
    const undecodable = frames.filter((m) => !decodableSyncPart(m)).length;
    const t0 = performance.now();
    const members = await gossipFuzz(peers[0].addr, peers[0].log, 'sync.dropped', frames, (m) => !decodableSyncPart(m), 4, { runId: 'fuzz-sync', topic: syncTopic('fuzz-sync') });
    const seconds = (performance.now() - t0) / 1000;
    const dropped = await waitForLog(
      peers[0].log,
      (ls) => {
        const d = ls.filter((l) => l.event === 'sync.dropped' && members.has(l.from as string));
        return d.length >= undecodable ? d : undefined;
      },
      30_000,
      `${undecodable} sync.dropped lines`,
    );
    const stepsMeanwhile = readLog(peers[0].log).filter((l) => l.event === 'sync.step').length;
    process.stdout.write(`# fuzz sync: ${FRAMES} parts (${undecodable} undecodable) from ${members.size} members in ${seconds.toFixed(1)} s: ${dropped.length} dropped by name; ${stepsMeanwhile} of ${steps} steps done\n`);
    assert.ok(dropped.every((l) => typeof l.why === 'string' && (l.why as string).length > 0), 'each drop names why');
    assert.ok(dropped.length <= FRAMES);
    assert.ok(stepsMeanwhile < steps, 'the peers were still training when the fuzzing ended (raise the steps if not)');
    const done = await Promise.all(peers.map((p, i) => waitForLog(p.log, (ls) => ls.find((l) => l.event === 'peer.done'), 600_000, `p${i} to finish`)));
    assert.equal(new Set(done.map((d) => d.hash)).size, 1, 'the peers agree');
  } finally {
    await c.close();
  }
});
