import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameReader, NetError, createHost, openStream, writeFrame, type FedHost } from '../src/net/index.js';
import { STATUS_PROTOCOL, fetchStatus, type AggregatorStatus } from '../src/runtime/status-protocol.js';
import { createProcessShell, type ShellNet, type ShellRoles } from '../src/runtime/shell.js';
import { DaemonError } from '../src/runtime/errors.js';
import type { LogFields, Logger } from '../src/runtime/log.js';

/**
 * The process shell both runtimes stand on: what it serves while roles run, and that roles
 * stop while the host, status and gossip are still there (a role's last words must reach
 * the network), with everything closed after.
 */

const AGGREGATOR: AggregatorStatus = { strategy: 'fedavg', round: 1, version: 2, rounds: 3, received: 0, cohort: null, deadlineUnixMs: null, done: false, lastMetrics: null };

function recordingLogger(): Logger & { lines: { event: string; fields: LogFields }[] } {
  const lines: { event: string; fields: LogFields }[] = [];
  return { lines, log: (_level, event, fields = {}) => void lines.push({ event, fields }), close: () => undefined };
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-shell-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Roles that remember what the shell gave them and what still ran when they were stopped. */
function fakeRoles(failStart = false): ShellRoles & { net: ShellNet | null; atStop: { host: string; status: boolean; gossip: boolean } | null; stops: number } {
  const r = {
    net: null as ShellNet | null,
    atStop: null as { host: string; status: boolean; gossip: boolean } | null,
    stops: 0,
    async start(net: ShellNet): Promise<LogFields> {
      r.net = net;
      if (failStart) throw new Error('role failed to start');
      return { algorithm: 'fake' };
    },
    async stop(): Promise<void> {
      r.stops++;
      const h = r.net?.host;
      if (h !== undefined && r.atStop === null) {
        r.atStop = { host: h.status, status: h.getProtocols().includes(STATUS_PROTOCOL), gossip: h.services.pubsub.getTopics().includes(r.net!.control.topic) };
      }
    },
    onControl: () => undefined,
    status: () => (r.net === null ? {} : { aggregator: AGGREGATOR }),
  };
  return r;
}

test('shell: identity, host, status and metrics for the roles; roles stop first, everything else after, once', async () => {
  await withDir(async (dir) => {
    const log = recordingLogger();
    const roles = fakeRoles();
    const shell = createProcessShell({ run: { run: 'shell-run' }, baseDir: dir, options: { dataDir: join(dir, 'node'), metricsPort: 0, logger: log }, role: 'both', roles: ['aggregator', 'trainer'] }, roles);
    assert.equal(shell.status().peerId, '');
    let client: FedHost | null = null;
    try {
      await shell.start();
      assert.ok(existsSync(join(dir, 'node', 'identity.json')), 'the identity is kept in the data directory');
      assert.equal(roles.net?.peerId, shell.peerId);
      client = await createHost();
      const s = await fetchStatus(client, shell.addrs[0], 5000);
      assert.equal(s.runId, 'shell-run');
      assert.equal(s.peerId, shell.peerId);
      assert.deepEqual(s.roles, ['aggregator', 'trainer']);
      assert.deepEqual(s.aggregator, AGGREGATOR);
      assert.ok(s.memory.heapUsedBytes > 0 && s.memory.rssBytes >= s.memory.heapUsedBytes, 'its memory');
      assert.equal((await fetchStatus(client, shell.addrs[0], 5000, undefined, 'shell-run')).runId, 'shell-run');
      await assert.rejects(fetchStatus(client, shell.addrs[0], 5000, undefined, 'other-run'), (e: NetError) => e.remoteCode === 'WRONG_RUN' && /not "other-run"/.test(e.message));
      // Anything but the request object is refused by name.
      for (const [bytes, why] of [[Buffer.from('{"run": 7}'), /run is not a string/], [Buffer.from([0xff, 0xfe]), /not UTF-8 JSON/], [Buffer.from('[]'), /not a JSON object/], [Buffer.from('{"x":1}'), /unknown request field "x"/], [Buffer.alloc(300, 32), /over|exceeds|bytes/]] as const) {
        const { stream } = await openStream(client, shell.addrs[0], STATUS_PROTOCOL, { timeoutMs: 5000 });
        const reader = new FrameReader(stream, { maxFrameBytes: 1 << 20, timeoutMs: 5000 });
        await writeFrame(stream, bytes, { timeoutMs: 5000 }).catch(() => undefined);
        const answer = JSON.parse(Buffer.from((await reader.next())!).toString()) as { refused: string; reason: string };
        reader.dispose();
        assert.equal(answer.refused, 'BAD_REQUEST', answer.reason);
        assert.match(answer.reason, why);
      }
      assert.ok(shell.metricsPort !== null && shell.metricsPort > 0);
      assert.equal((await fetch(`http://127.0.0.1:${shell.metricsPort}/metrics`)).status, 200);
      const started = log.lines.find((l) => l.event === 'node.started');
      assert.equal(started?.fields.role, 'both');
      assert.equal(started?.fields.algorithm, 'fake');
      assert.deepEqual(started?.fields.addrs, shell.addrs);
    } finally {
      await Promise.resolve(client?.stop()).catch(() => undefined);
      await Promise.all([shell.stop(), shell.stop()]);
      await shell.stop();
    }
    assert.deepEqual(roles.atStop, { host: 'started', status: true, gossip: true });
    assert.equal(roles.stops, 1);
    assert.equal(roles.net?.host.status, 'stopped');
    assert.equal(log.lines.filter((l) => l.event === 'node.stopped').length, 1);
  });
});

test('shell: a role that fails to start leaves nothing running and the failure is rethrown', async () => {
  await withDir(async (dir) => {
    const roles = fakeRoles(true);
    const shell = createProcessShell({ run: { run: 'shell-run' }, baseDir: dir, options: { dataDir: dir, metricsPort: 0, logger: recordingLogger() }, role: 'peer', roles: ['peer'] }, roles);
    await assert.rejects(shell.start(), /role failed to start/);
    assert.equal(roles.stops, 1);
    assert.equal(roles.net?.host.status, 'stopped');
    assert.equal(shell.metricsPort, null);
  });
});

test('shell: a pre-shared key that cannot be read fails when the shell is made', () => {
  assert.throws(
    () => createProcessShell({ run: { run: 'shell-run', admission: { psk: { env: 'FEDNODE_SHELL_TEST_KEY' } } }, baseDir: '.', options: { dataDir: '.', env: {} }, role: 'peer', roles: ['peer'] }, fakeRoles()),
    (e: unknown) => e instanceof DaemonError && /FEDNODE_SHELL_TEST_KEY is not set/.test(e.message),
  );
});
