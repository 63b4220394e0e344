import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, Metrics, WriteAheadLog } from '../src/daemon/index.js';

/** The write-ahead log: records survive reopening; a torn or corrupt tail is dropped and cut off. */

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'fednode-wal-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const frame = (n: number, fill: number) => new Uint8Array(n).fill(fill);

test('crc32 matches the IEEE check value', () => {
  assert.equal(crc32([Buffer.from('123456789')]), 0xcbf43926);
});

test('records come back in order after reopening', () => {
  withDir((dir) => {
    const p = join(dir, 'u.wal');
    const { wal } = WriteAheadLog.open(p);
    wal.append({ epoch: 3, peer: 'peer-a', frames: [frame(10, 1), frame(0, 0), frame(70_000, 2)] });
    wal.append({ epoch: 4, peer: 'peer-b', frames: [frame(5, 9)] });
    wal.close();
    const { wal: again, recovered } = WriteAheadLog.open(p);
    again.close();
    assert.equal(recovered.droppedBytes, 0);
    assert.deepEqual(recovered.records.map((r) => [r.epoch, r.peer, r.frames.map((f) => f.byteLength)]), [
      [3, 'peer-a', [10, 0, 70_000]],
      [4, 'peer-b', [5]],
    ]);
    assert.equal(recovered.records[0].frames[2][69_999], 2);
  });
});

test('a record torn by a crash is ignored and cut off; appends continue cleanly', () => {
  withDir((dir) => {
    const p = join(dir, 'u.wal');
    const { wal } = WriteAheadLog.open(p);
    wal.append({ epoch: 1, peer: 'a', frames: [frame(100, 1)] });
    const good = wal.bytes;
    wal.append({ epoch: 1, peer: 'b', frames: [frame(100, 2)] });
    wal.close();
    truncateSync(p, good + 37); // killed mid-write
    const { wal: w2, recovered } = WriteAheadLog.open(p);
    assert.equal(recovered.records.length, 1);
    assert.equal(recovered.droppedBytes, 37);
    assert.equal(statSync(p).size, good);
    w2.append({ epoch: 1, peer: 'c', frames: [frame(3, 3)] });
    w2.close();
    const { wal: w3, recovered: r3 } = WriteAheadLog.open(p);
    w3.close();
    assert.deepEqual(r3.records.map((r) => r.peer), ['a', 'c']);
  });
});

test('a corrupt record (CRC mismatch) ends the log; truncate empties it', () => {
  withDir((dir) => {
    const p = join(dir, 'u.wal');
    const { wal } = WriteAheadLog.open(p);
    wal.append({ epoch: 1, peer: 'a', frames: [frame(50, 1)] });
    wal.append({ epoch: 1, peer: 'b', frames: [frame(50, 2)] });
    wal.close();
    const bytes = readFileSync(p);
    bytes[bytes.length - 5] ^= 0xff;
    rmSync(p);
    appendFileSync(p, bytes);
    const { wal: w2, recovered } = WriteAheadLog.open(p);
    assert.deepEqual(recovered.records.map((r) => r.peer), ['a']);
    w2.truncate();
    w2.close();
    assert.equal(statSync(p).size, 0);
  });
});

test('metrics render as Prometheus text', () => {
  const m = new Metrics();
  m.inc('fednode_updates_refused_total', 'Refused updates', { code: 'NOT_ADMITTED' });
  m.inc('fednode_updates_refused_total', 'Refused updates', { code: 'NOT_ADMITTED' });
  m.set('fednode_model_version', 'Version', 3);
  const text = m.text();
  assert.match(text, /# TYPE fednode_updates_refused_total counter\nfednode_updates_refused_total\{code="NOT_ADMITTED"\} 2/);
  assert.match(text, /fednode_model_version 3\n/);
});
