/**
 * A fuzz run against a live aggregator daemon over real streams, its run open: an
 * admitted member sends mutated frames on `/fednode/update/1`, `/fednode/model/1` and
 * `/fednode/auth/1` (bytes flipped, cut short, length prefixes changed, garbage), each on a
 * stream of its own. Every one must be refused with a named code (the protocol's answer frame;
 * for auth the refusal byte), nothing may hang or crash the daemon, and its run then completes.
 * FUZZ_FRAMES sets the frames per protocol (default 1000; the issue asks for 10000).
 *
 *   FUZZ_FRAMES=1000 node --import tsx --test scripts/fuzz-check.ts
 *
 * Not part of `npm test` (13 min 50 s of its 15-minute budget are used): run it by hand. At
 * 10000 frames a protocol (33 s): update/1 10000 refused by name, model/1 9915 refused and 85
 * mutated requests that stayed valid answered with the model, auth/1 10000 refused; the
 * aggregator stays up and its run then completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParamSet, decodeModelResponse, decodeUpdateAck, encodeModelRequest, encodeUpdate, fullSlice, updateToFrames } from '@fednode/core';
import { Admission, FrameReader, MODEL_PROTOCOL, UPDATE_PROTOCOL, AUTH_PROTOCOL, createHost, encodeLength, loadIdentity, networkKeyOf, openStream, type FedHost } from '@fednode/node';
import { Rng } from '@fednode/kernels';
import { Cluster, freePort, mnistRun, readLog, waitForLog, within } from '../test/cluster.js';

const FRAMES = Number(process.env.FUZZ_FRAMES ?? 1000);
const PSK = 'fuzz-suite-pre-shared-key-0123456789';
const LIMIT = { timeout: 600_000 };
const ROUNDS = 8;

/** One mutation of `frame` (its payload, without the length prefix): the wire bytes to send. */
function mutate(frame: Uint8Array, rng: Rng): Uint8Array {
  const body = new Uint8Array(frame);
  switch (rng.uniformInt(5)) {
    case 0: {
      // A few bytes flipped.
      for (let i = 0, n = 1 + rng.uniformInt(8); i < n; i++) body[rng.uniformInt(body.length)] ^= 1 + rng.uniformInt(255);
      return Buffer.concat([encodeLength(body.length), body]);
    }
    case 1:
      // Cut short: the prefix promises more than comes.
      return Buffer.concat([encodeLength(body.length), body.subarray(0, rng.uniformInt(body.length))]);
    case 2:
      // A length prefix far over any limit.
      return Buffer.concat([encodeLength(2 ** 31 - 1 - rng.uniformInt(1000)), body.subarray(0, 16)]);
    case 3: {
      // Garbage of a plausible size.
      const g = new Uint8Array(1 + rng.uniformInt(512));
      for (let i = 0; i < g.length; i++) g[i] = rng.uniformInt(256);
      return Buffer.concat([encodeLength(g.length), g]);
    }
    default: {
      // A field's varint stretched: bytes inserted in the middle.
      const at = rng.uniformInt(body.length);
      const ins = Uint8Array.from({ length: 1 + rng.uniformInt(16) }, () => 0x80 | rng.uniformInt(128));
      const out = Buffer.concat([body.subarray(0, at), ins, body.subarray(at)]);
      return Buffer.concat([encodeLength(out.length), out]);
    }
  }
}

type Verdict = 'named' | 'closed' | 'accepted';

/** Sends `bytes` on a fresh stream of `protocol` and reads the answer frame: a named refusal, or not. */
async function probe(host: FedHost, addr: string, admission: Admission, protocol: string, bytes: Uint8Array): Promise<Verdict> {
  const { stream } = await openStream(host, addr, protocol, { timeoutMs: 10_000, admission });
  const reader = new FrameReader(stream, { maxFrameBytes: 1 << 20, timeoutMs: 10_000 });
  try {
    if (protocol === AUTH_PROTOCOL) await reader.next(); // the server speaks first: its nonce
    stream.send(bytes);
    await stream.close({ signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    const answer = await reader.next().catch(() => null);
    if (answer === null) return 'closed';
    if (protocol === UPDATE_PROTOCOL) return decodeUpdateAck(answer).accepted ? 'accepted' : 'named';
    if (protocol === MODEL_PROTOCOL) return decodeModelResponse(answer).found ? 'accepted' : 'named';
    return answer.byteLength === 1 && answer[0] === 1 ? 'named' : 'accepted';
  } finally {
    reader.dispose();
    stream.abort(new Error('probe done'));
  }
}

test(`fuzz: ${FRAMES} mutated frames on each of update/1, model/1 and auth/1 against a live aggregator; each refused by name; the run completes`, LIMIT, async () => {
  const c = new Cluster('fuzz');
  let host: FedHost | null = null;
  try {
    const agg = await c.key('agg');
    const fuzzer = await c.key('fuzzer');
    writeFileSync(join(c.dir, 'psk'), PSK + '\n', { mode: 0o600 });
    const port = await freePort();
    const aggAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${agg.peerId}`;
    const run = c.writeRun('run', mnistRun('fuzz', 2, { rounds: ROUNDS, data: { trainRows: 2000, testRows: 500, partition: { kind: 'iid' }, shares: 2 }, admission: { psk: { file: 'psk' } }, network: { aggregator: aggAddr } }));
    const a = c.start('agg', ['--config', run, '--role', 'aggregator', '--key', agg.path, '--data-dir', c.dataDir('agg'), '--listen', `/ip4/127.0.0.1/tcp/${port}`]);
    await waitForLog(a.log, (ls) => ls.find((l) => l.event === 'node.started'), 60_000, 'the aggregator');
    host = await createHost({ privateKey: loadIdentity(fuzzer.path), networkKey: networkKeyOf(PSK, 'fuzz') });
    const admission = new Admission(host, { psk: PSK });
    await admission.start();

    const delta = ParamSet.zeros([{ name: 'fc1.weight', shape: [200, 784] }]);
    const header = updateToFrames(encodeUpdate({ runId: 'fuzz', sender: 'f', baseVersion: 0, round: 0, sequence: 1, examples: 1 }, fullSlice(delta.specs), delta, { codec: 'int8' }))[0];
    const request = encodeModelRequest({ runId: 'fuzz', version: 'latest', slice: null, codec: 'fp32' });
    const auth = new Uint8Array(64).fill(7);
    const seeds: [string, Uint8Array][] = [
      [UPDATE_PROTOCOL, header],
      [MODEL_PROTOCOL, request],
      [AUTH_PROTOCOL, auth],
    ];
    const counts: Record<string, Record<Verdict, number>> = {};
    const t0 = performance.now();
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
    }
    const seconds = (performance.now() - t0) / 1000;
    // The run the aggregator held open through the fuzzing now runs to the end (one that ended
    // during it would stop serving before the frames are all sent).
    const ts = [0, 1].map((i) => c.start(`t${i}`, ['--config', run, '--role', 'trainer', '--data-dir', c.dataDir(`t${i}`), '--shard', String(i)]));
    process.stdout.write(`# fuzz: ${JSON.stringify(counts)} in ${seconds.toFixed(1)} s\n`);
    for (const [protocol, tally] of Object.entries(counts)) {
      // No stream ends without an answer. A model request whose mutation left it valid is answered with the model.
      assert.equal(tally.closed, 0, `${protocol}: ${JSON.stringify(tally)}`);
      assert.equal(tally.named + (protocol === MODEL_PROTOCOL ? tally.accepted : 0), FRAMES, `${protocol}: ${JSON.stringify(tally)}`);
    }
    assert.equal(a.child.exitCode, null, 'the aggregator is alive');
    assert.equal((await within(a.exited, 180_000, 'the run to complete')).code, 0);
    for (const t of ts) await within(t.exited, 30_000, t.name);
    const versions = readLog(a.log).filter((l) => l.event === 'round.closed').map((l) => l.version);
    assert.deepEqual(versions, Array.from({ length: ROUNDS }, (_, i) => i + 1), 'the run completed');
  } finally {
    if (host !== null) await Promise.resolve(host.stop()).catch(() => undefined);
    await c.close();
  }
});
