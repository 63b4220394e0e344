import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '../src/runtime/free-port.js';

test('freePort: bindable ports below the kernel\'s ephemeral range, where listen(0) never lands', async () => {
  const [lo] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const held: ReturnType<typeof createServer>[] = [];
  try {
    const seen = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const port = await freePort();
      assert.ok(port >= 10000 && port < lo, `port ${port} outside [10000, ${lo})`);
      assert.ok(!seen.has(port), `port ${port} handed out twice`);
      seen.add(port);
      // Held, so the next call must find another.
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, '127.0.0.1', resolve);
      });
      held.push(srv);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
});
