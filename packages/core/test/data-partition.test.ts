import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import { DataError, checkPartition, dirichletPartition, iidPartition, shardPartition, type Partition } from '../src/data/index.js';

/** The partitioners against spec section 10: disjoint, complete, seeded, and the spec's cases. */

/** 1000 rows, 10 classes of 100, in a shuffled order (so sorting by label matters). */
function balancedLabels(perClass = 100, classes = 10, seed = 7): Uint8Array {
  const y = Uint8Array.from({ length: perClass * classes }, (_, i) => i % classes);
  return new Rng(seed).shuffle(y);
}

function same(a: Partition, b: Partition): boolean {
  return a.length === b.length && a.every((p, j) => p.length === b[j].length && p.every((v, i) => v === b[j][i]));
}

function labelsOf(part: ArrayLike<number>, labels: ArrayLike<number>): Set<number> {
  return new Set(Array.from(part, (r) => labels[r]));
}

test('iid: disjoint, complete, near-equal sizes, seeded', () => {
  const parts = iidPartition(1003, 7, 1);
  checkPartition(parts, 1003);
  const sizes = parts.map((p) => p.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
  assert.ok(same(parts, iidPartition(1003, 7, 1)));
  assert.ok(!same(parts, iidPartition(1003, 7, 2)));
});

test('dirichlet (spec 10): N = 1000, 10 classes, n = 5, beta = 0.5: every client >= 10 rows, sizes sum to 1000', () => {
  const labels = balancedLabels();
  for (let seed = 0; seed < 20; seed++) {
    const parts = dirichletPartition(labels, 5, { alpha: 0.5, seed });
    checkPartition(parts, 1000);
    assert.ok(parts.every((p) => p.length >= 10), `seed ${seed}: sizes ${parts.map((p) => p.length)}`);
    assert.equal(parts.reduce((n, p) => n + p.length, 0), 1000);
  }
});

test('dirichlet: seeded, and skewed for small alpha but near-uniform for large alpha', () => {
  const labels = balancedLabels();
  const a = dirichletPartition(labels, 5, { alpha: 0.5, seed: 3 });
  assert.ok(same(a, dirichletPartition(labels, 5, { alpha: 0.5, seed: 3 })));
  assert.ok(!same(a, dirichletPartition(labels, 5, { alpha: 0.5, seed: 4 })));
  // Share of each client's rows taken by its most common label: high under skew.
  const topShare = (parts: Partition): number => {
    let s = 0;
    for (const p of parts) {
      const counts = new Array<number>(10).fill(0);
      for (const r of p) counts[labels[r]]++;
      s += Math.max(...counts) / p.length;
    }
    return s / parts.length;
  };
  const skewed = topShare(dirichletPartition(labels, 5, { alpha: 0.05, seed: 1 }));
  const flat = topShare(dirichletPartition(labels, 5, { alpha: 1000, seed: 1 }));
  assert.ok(skewed > 0.4, `alpha 0.05 top-label share ${skewed}`);
  assert.ok(flat < 0.2, `alpha 1000 top-label share ${flat}`);
});

test('dirichlet: the retries are capped, with a typed error when minSize cannot be met', () => {
  const labels = balancedLabels(3, 10); // 30 rows
  assert.throws(
    () => dirichletPartition(labels, 5, { seed: 1, minSize: 10, maxRetries: 5 }),
    (e: unknown) => e instanceof DataError && e.code === 'DATA_ARGUMENT' && /6 tries/.test(e.message),
  );
  assert.throws(() => dirichletPartition(labels, 5, { seed: 1, alpha: 0 }), (e: unknown) => e instanceof DataError && e.code === 'DATA_ARGUMENT');
});

test('label shards: two per client, disjoint, complete, each client sees <= 2 labels, seeded', () => {
  const labels = balancedLabels(); // 10 classes of 100: 5 clients x 2 shards of 100
  const parts = shardPartition(labels, 5, { seed: 9 });
  checkPartition(parts, 1000);
  for (const p of parts) {
    assert.equal(p.length, 200);
    assert.ok(labelsOf(p, labels).size <= 2);
  }
  assert.ok(same(parts, shardPartition(labels, 5, { seed: 9 })));
  assert.ok(!same(parts, shardPartition(labels, 5, { seed: 10 })));
  // MNIST's layout in miniature: 100 clients, 200 shards of 30 over 6000 balanced rows.
  const big = balancedLabels(600, 10, 3);
  const many = shardPartition(big, 100, { seed: 1 });
  checkPartition(many, 6000);
  assert.ok(many.every((p) => p.length === 60 && labelsOf(p, big).size <= 2));
});

test('label shards: uneven sizes still cover every row; bad arguments are typed errors', () => {
  const labels = balancedLabels(101, 10);
  const parts = shardPartition(labels, 7, { seed: 2, shardsPerClient: 3 });
  checkPartition(parts, 1010);
  assert.throws(() => shardPartition(labels, 600, { seed: 1 }), (e: unknown) => e instanceof DataError && e.code === 'DATA_ARGUMENT');
  assert.throws(() => iidPartition(10, 0, 1), (e: unknown) => e instanceof DataError && e.code === 'DATA_ARGUMENT');
});

test('checkPartition: catches overlap and missing rows', () => {
  assert.throws(() => checkPartition([Uint32Array.of(0, 1), Uint32Array.of(1, 2)], 3), /more than one/);
  assert.throws(() => checkPartition([Uint32Array.of(0, 1)], 3), /2 of 3/);
});
