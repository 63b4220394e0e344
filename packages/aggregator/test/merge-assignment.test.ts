import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@fednode/kernels';
import { MergeError, linearAssignment } from '../src/merge/index.js';

/** The best value over all n! permutations (Heap's algorithm). */
function bruteForce(m: Float64Array, n: number, maximize: boolean): number {
  const p = Array.from({ length: n }, (_, i) => i);
  const value = (): number => p.reduce((s, c, i) => s + m[i * n + c], 0);
  let best = value();
  const c = new Array<number>(n).fill(0);
  let i = 0;
  while (i < n) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      [p[j], p[i]] = [p[i], p[j]];
      const v = value();
      if (maximize ? v > best : v < best) best = v;
      c[i]++;
      i = 0;
    } else {
      c[i] = 0;
      i++;
    }
  }
  return best;
}

function isPermutation(cols: Int32Array): boolean {
  const seen = new Set(cols);
  return seen.size === cols.length && [...cols].every((c) => c >= 0 && c < cols.length);
}

describe('merge: linear assignment', () => {
  it('matches brute force on small random matrices (min and max, with and without ties)', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + (trial % 7);
      const m = new Float64Array(n * n);
      const integer = trial % 3 === 0; // small integers: many equal optima
      for (let k = 0; k < m.length; k++) m[k] = integer ? rng.uniformInt(4) : rng.normal() * 10;
      for (const maximize of [false, true]) {
        const got = linearAssignment(m, n, { maximize });
        assert.ok(isPermutation(got.cols), `trial ${trial}`);
        const v = [...got.cols].reduce((s, c, i) => s + m[i * n + c], 0);
        assert.equal(got.value, v);
        assert.ok(Math.abs(v - bruteForce(m, n, maximize)) < 1e-9, `trial ${trial} n ${n} maximize ${maximize}`);
      }
    }
  });

  it('recovers a hidden permutation and is deterministic', () => {
    const rng = new Rng(2);
    const n = 300;
    const truth = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    const m = new Float64Array(n * n);
    for (let k = 0; k < m.length; k++) m[k] = rng.uniform();
    for (let i = 0; i < n; i++) m[i * n + truth[i]] = 2;
    const a = linearAssignment(m, n, { maximize: true });
    assert.deepEqual(a.cols, truth);
    assert.deepEqual(linearAssignment(m, n, { maximize: true }).cols, a.cols);
  });

  it('solves n = 1024 in reasonable time', () => {
    const rng = new Rng(3);
    const n = 1024;
    const m = new Float64Array(n * n);
    for (let k = 0; k < m.length; k++) m[k] = rng.normal();
    const t0 = performance.now();
    const a = linearAssignment(m, n, { maximize: true });
    const ms = performance.now() - t0;
    assert.ok(isPermutation(a.cols));
    // Random Gaussian scores: the optimum is near n·E[max row entry], far above a random pairing.
    assert.ok(a.value > 2 * n, `value ${a.value}`);
    assert.ok(ms < 20000, `${ms} ms`);
  });

  it('handles n = 0 and n = 1, and rejects bad input', () => {
    assert.deepEqual(linearAssignment(new Float64Array(0), 0).cols, new Int32Array(0));
    assert.deepEqual(linearAssignment(Float64Array.of(5), 1).cols, Int32Array.of(0));
    const bad = (e: unknown): boolean => e instanceof MergeError && e.code === 'MERGE_ARGUMENT';
    assert.throws(() => linearAssignment(Float64Array.of(1, 2, 3), 2), bad);
    assert.throws(() => linearAssignment(Float64Array.of(1, NaN, 3, 4), 2), (e: unknown) => bad(e) && /\(0, 1\) is NaN/.test(String(e)));
  });
});
