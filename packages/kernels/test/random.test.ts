import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KernelError } from '../src/errors.js';
import { Rng } from '../src/random/index.js';

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof KernelError && e.code === code);
}

// Independent reference: splitmix32 seeding and xoshiro128** written with BigInt, so it
// shares no 32-bit tricks (Math.imul, |0, >>>) with the implementation under test.
const M32 = 0xffffffffn;
function refMix(z: bigint): bigint {
  z ^= z >> 16n;
  z = (z * 0x21f0aaadn) & M32;
  z ^= z >> 15n;
  z = (z * 0x735a2d97n) & M32;
  return z ^ (z >> 15n);
}
function rotl(x: bigint, k: bigint): bigint {
  return ((x << k) | (x >> (32n - k))) & M32;
}
class RefXoshiro {
  s: bigint[] = [];
  constructor(seed: number) {
    let x = BigInt(seed);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9n) & M32;
      this.s.push(refMix(x));
    }
  }
  next(): bigint {
    const s = this.s;
    const result = (rotl((s[1] * 5n) & M32, 7n) * 9n) & M32;
    const t = (s[1] << 9n) & M32;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    return result;
  }
  // Lemire's method on exact 64-bit products.
  uniformInt(n: number): number {
    const N = BigInt(n);
    const threshold = (2n ** 32n) % N;
    for (;;) {
      const m = this.next() * N;
      if ((m & M32) >= threshold) return Number(m >> 32n);
    }
  }
  uniform(): number {
    const a = this.next() >> 5n;
    const b = this.next() >> 6n;
    return Number((a << 26n) | b) / 2 ** 53;
  }
  // Marsaglia polar, returning both values of each pair in order.
  normals(count: number): number[] {
    const out: number[] = [];
    while (out.length < count) {
      let u: number, v: number, s: number;
      do {
        u = 2 * this.uniform() - 1;
        v = 2 * this.uniform() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      out.push(u * f, v * f);
    }
    return out.slice(0, count);
  }
}

describe('Rng golden values', () => {
  it('pins the first nextU32/uniform/normal outputs for seed 42', () => {
    const r = new Rng(42);
    assert.deepEqual(
      [0, 1, 2, 3, 4].map(() => r.nextU32()),
      [660444221, 3652823732, 77672526, 910233633, 2297337756],
    );
    const u = new Rng(42);
    assert.deepEqual(
      [0, 1, 2].map(() => u.uniform()),
      [0.15377165265745885, 0.018084542542176507, 0.5348906284683476],
    );
    const z = new Rng(42);
    assert.deepEqual(
      [0, 1, 2, 3].map(() => z.normal()),
      [0.26752683279886763, 1.7424408507579792, 0.5813902645846303, -1.6928022796929545],
    );
    const d = Rng.derive(42, 3, 7);
    assert.deepEqual(
      [0, 1, 2].map(() => d.nextU32()),
      [2950923888, 880475276, 599817240],
    );
  });

  it('matches a BigInt re-implementation of splitmix32 + xoshiro128**', () => {
    for (const seed of [0, 1, 42, 0x9e3779b9, 0xffffffff]) {
      const r = new Rng(seed);
      const ref = new RefXoshiro(seed);
      for (let i = 0; i < 2000; i++) assert.equal(r.nextU32(), Number(ref.next()), `seed ${seed}, draw ${i}`);
    }
  });

  it('uniform and normal match the reference built on the BigInt words', () => {
    const r = new Rng(7);
    const ref = new RefXoshiro(7);
    for (let i = 0; i < 500; i++) assert.equal(r.uniform(), ref.uniform());
    const n = new Rng(8);
    const refN = new RefXoshiro(8).normals(501);
    for (let i = 0; i < 501; i++) assert.equal(n.normal(), refN[i]);
  });
});

describe('Rng uniformInt exactness', () => {
  it('matches a BigInt reference of Lemire multiply-and-reject, rejections included', () => {
    // Sizes near 2^32 make rejections frequent (n = 3·2^30 rejects a quarter of the words).
    for (const n of [1, 2, 3, 10, 1000, 2 ** 16 + 1, 2 ** 31, 2 ** 31 + 1, 3 * 2 ** 30, 2 ** 32 - 1, 2 ** 32]) {
      const r = new Rng(17);
      const ref = new RefXoshiro(17);
      for (let i = 0; i < 3000; i++) assert.equal(r.uniformInt(n), ref.uniformInt(n), `n = ${n}, draw ${i}`);
      assert.equal(r.nextU32(), Number(ref.next()), `n = ${n}: same number of words consumed`);
    }
  });
});

describe('Rng streams', () => {
  it('same seed gives the same stream, different seeds differ', () => {
    const a = new Rng(123);
    const b = new Rng(123);
    for (let i = 0; i < 100; i++) assert.equal(a.nextU32(), b.nextU32());
    const firsts = new Set<string>();
    for (let seed = 0; seed < 1000; seed++) {
      const r = new Rng(seed);
      firsts.add(`${r.nextU32()},${r.nextU32()}`);
    }
    assert.equal(firsts.size, 1000);
  });

  it('state() and fromState() resume exactly, including a cached normal', () => {
    const r = new Rng(99);
    r.nextU32();
    r.normal(); // leaves the pair's second value cached
    const saved = r.state();
    assert.equal(saved.length, 7);
    assert.equal(saved[4], 1);
    const draw = (g: Rng) => [g.normal(), g.uniform(), g.nextU32(), g.uniformInt(17), g.gamma(0.7), g.normal()];
    const expected = draw(r);
    saved[0] ^= 0; // the returned array is a copy; reading it again must give the same stream
    assert.deepEqual(draw(Rng.fromState(saved)), expected);
    assert.deepEqual(draw(Rng.fromState(Array.from(saved))), expected);
    // Mutating the saved copy does not touch the generator it came from.
    const before = r.state();
    saved[0] = 1;
    assert.deepEqual(r.state(), before);
  });

  it('the 4-word state form resumes a stream without a cached normal', () => {
    const r = new Rng(5);
    r.uniform();
    const s4 = r.state().subarray(0, 4);
    const expected = [r.nextU32(), r.normal(), r.normal()];
    const q = Rng.fromState(s4);
    assert.deepEqual([q.nextU32(), q.normal(), q.normal()], expected);
  });

  it('derive() is deterministic and separates label paths', () => {
    const take = (r: Rng) => [r.nextU32(), r.nextU32(), r.nextU32(), r.nextU32()].join(',');
    assert.equal(take(Rng.derive(1, 2, 3)), take(Rng.derive(1, 2, 3)));
    assert.equal(take(Rng.derive(1)), take(new Rng(1)));
    const seen = new Set<string>();
    for (let round = 0; round < 20; round++) {
      for (let client = 0; client < 50; client++) seen.add(take(Rng.derive(7, round, client)));
    }
    seen.add(take(Rng.derive(7, 1)));
    seen.add(take(Rng.derive(8, 0, 0)));
    seen.add(take(Rng.derive(7, 2 ** 40, 0)));
    seen.add(take(new Rng(7)));
    assert.equal(seen.size, 1000 + 4);
    assert.notEqual(take(Rng.derive(7, 1, 2)), take(Rng.derive(7, 2, 1)));
  });

  it('derived child streams are uncorrelated with their parent and siblings', () => {
    const n = 20000;
    const corr = (a: Rng, b: Rng) => {
      let sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
      for (let i = 0; i < n; i++) {
        const x = a.uniform();
        const y = b.uniform();
        sa += x; sb += y; sab += x * y; saa += x * x; sbb += y * y;
      }
      const cov = sab / n - (sa / n) * (sb / n);
      return cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
    };
    // 4/sqrt(n) ≈ 0.028: a four-sigma bound for independent streams.
    assert.ok(Math.abs(corr(new Rng(3), Rng.derive(3, 0))) < 0.03);
    assert.ok(Math.abs(corr(Rng.derive(3, 0), Rng.derive(3, 1))) < 0.03);
    assert.ok(Math.abs(corr(Rng.derive(3, 5, 0), Rng.derive(3, 5, 1))) < 0.03);
  });
});

describe('Rng distributions (loose statistical bounds)', () => {
  const N = 100000;

  it('uniform: in [0, 1), mean ≈ 0.5, variance ≈ 1/12', () => {
    const r = new Rng(11);
    let s = 0, s2 = 0;
    for (let i = 0; i < N; i++) {
      const u = r.uniform();
      assert.ok(u >= 0 && u < 1);
      s += u;
      s2 += u * u;
    }
    const mean = s / N;
    assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
    assert.ok(Math.abs(s2 / N - mean * mean - 1 / 12) < 0.003);
  });

  it('normal: mean ≈ 0, variance ≈ 1; mean/std are applied', () => {
    const r = new Rng(12);
    let s = 0, s2 = 0;
    for (let i = 0; i < N; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    assert.ok(Math.abs(s / N) < 0.02, `mean ${s / N}`);
    assert.ok(Math.abs(s2 / N - 1) < 0.03, `variance ${s2 / N}`);
    const a = new Rng(13);
    const b = new Rng(13);
    for (let i = 0; i < 10; i++) assert.equal(a.normal(3, 2), 3 + 2 * b.normal());
  });

  for (const [shape, scale] of [
    [0.5, 1],
    [0.5, 2],
    [3, 1],
    [3, 0.5],
    [1, 1],
  ] as const) {
    it(`gamma(${shape}, ${scale}): mean ≈ shape·scale, variance ≈ shape·scale²`, () => {
      const r = new Rng(Math.round(20 + shape * 10 + scale * 100));
      let s = 0, s2 = 0;
      for (let i = 0; i < N; i++) {
        const x = r.gamma(shape, scale);
        assert.ok(x >= 0 && Number.isFinite(x));
        s += x;
        s2 += x * x;
      }
      const mean = s / N;
      const variance = s2 / N - mean * mean;
      assert.ok(Math.abs(mean / (shape * scale) - 1) < 0.02, `mean ${mean}`);
      assert.ok(Math.abs(variance / (shape * scale * scale) - 1) < 0.06, `variance ${variance}`);
    });
  }

  it('dirichlet: rows sum to 1 and component means are alpha_i / Σalpha', () => {
    const r = new Rng(31);
    const alpha = [0.5, 1, 2, 3.5];
    const total = 7;
    const out = new Float64Array(4);
    const sums = [0, 0, 0, 0];
    const rows = 20000;
    for (let k = 0; k < rows; k++) {
      r.dirichlet(alpha, out);
      let s = 0;
      for (let i = 0; i < 4; i++) {
        assert.ok(out[i] >= 0);
        s += out[i];
        sums[i] += out[i];
      }
      assert.ok(Math.abs(s - 1) < 1e-12);
    }
    for (let i = 0; i < 4; i++) {
      assert.ok(Math.abs(sums[i] / rows - alpha[i] / total) < 0.01, `component ${i}: ${sums[i] / rows}`);
    }
  });

  it('dirichlet with the partitioner default beta = 0.5 over 5 clients has mean 1/5', () => {
    const r = new Rng(32);
    const alpha = new Float64Array(5).fill(0.5);
    const out = new Float64Array(5);
    let first = 0;
    for (let k = 0; k < 20000; k++) first += r.dirichlet(alpha, out)[0];
    assert.ok(Math.abs(first / 20000 - 0.2) < 0.01);
  });

  it('dirichlet with tiny alpha stays on the simplex (gamma draws would underflow)', () => {
    // At alpha = 2e-4 every u^(1/alpha) factor with u < 0.86 underflows, so naive
    // normalised gamma draws would give 0/0 in about 22% of rows.
    const r = new Rng(33);
    const alpha = new Float64Array(10).fill(2e-4);
    const out = new Float64Array(10);
    for (let k = 0; k < 1000; k++) {
      r.dirichlet(alpha, out);
      let s = 0;
      for (const x of out) {
        assert.ok(Number.isFinite(x) && x >= 0);
        s += x;
      }
      assert.ok(Math.abs(s - 1) < 1e-12);
    }
  });

  it('dirichlet agrees with normalised gamma draws where those do not underflow', () => {
    const alpha = new Float64Array(10).fill(0.05);
    const out = new Float64Array(10);
    const rows = 4000;
    const a = new Rng(34);
    const b = new Rng(35);
    let viaDirichlet = 0;
    let viaGamma = 0;
    for (let k = 0; k < rows; k++) {
      if (Math.max(...a.dirichlet(alpha, out)) > 0.99) viaDirichlet++;
      let s = 0;
      for (let i = 0; i < 10; i++) s += out[i] = b.gamma(0.05);
      if (Math.max(...out) / s > 0.99) viaGamma++;
    }
    // Each fraction has a standard error below 0.008.
    assert.ok(viaDirichlet > rows * 0.1 && viaDirichlet < rows * 0.9);
    assert.ok(Math.abs(viaDirichlet - viaGamma) / rows < 0.04, `${viaDirichlet} vs ${viaGamma}`);
  });

  it('uniformInt: histogram roughly flat, edge sizes, and no modulo bias', () => {
    const r = new Rng(41);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < N; i++) counts[r.uniformInt(10)]++;
    let chi2 = 0;
    for (const c of counts) chi2 += (c - N / 10) ** 2 / (N / 10);
    assert.ok(chi2 < 40, `chi2 ${chi2}`); // 9 dof: p < 1e-5 beyond 40
    for (let i = 0; i < 100; i++) assert.equal(r.uniformInt(1), 0);
    for (let i = 0; i < 100; i++) {
      const x = r.uniformInt(2 ** 32);
      assert.ok(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
    }
    // n = 3·2^30: plain `u32 % n` would put half the mass below 2^30; unbiased puts a third.
    let low = 0;
    for (let i = 0; i < 30000; i++) if (r.uniformInt(3 * 2 ** 30) < 2 ** 30) low++;
    assert.ok(Math.abs(low / 30000 - 1 / 3) < 0.02, `fraction below 2^30: ${low / 30000}`);
  });

  it('shuffle: a permutation, deterministic per seed, uniform over small permutations', () => {
    const a = Int32Array.from({ length: 1000 }, (_, i) => i);
    const b = Int32Array.from(a);
    new Rng(50).shuffle(a);
    new Rng(50).shuffle(b);
    assert.deepEqual(a, b);
    assert.deepEqual(Int32Array.from(a).sort(), Int32Array.from({ length: 1000 }, (_, i) => i));
    const c = new Rng(51).shuffle(Int32Array.from({ length: 1000 }, (_, i) => i));
    assert.notDeepEqual(a, c);
    const arr = new Rng(52).shuffle(['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual([...arr].sort(), ['a', 'b', 'c', 'd', 'e']);
    // All 24 orders of 4 items, each ≈ 1/24 of the time.
    const r = new Rng(53);
    const hist = new Map<string, number>();
    for (let i = 0; i < 24000; i++) {
      const key = r.shuffle([0, 1, 2, 3]).join('');
      hist.set(key, (hist.get(key) ?? 0) + 1);
    }
    assert.equal(hist.size, 24);
    for (const [k, c] of hist) assert.ok(Math.abs(c - 1000) < 160, `${k}: ${c}`);
    assert.deepEqual(new Rng(1).shuffle([]), []);
    assert.deepEqual(new Rng(1).shuffle([9]), [9]);
  });

  it('fillUniform equals successive uniform() calls, scaled into [lo, hi)', () => {
    const out = new Float64Array(1001);
    new Rng(60).fillUniform(out, -2, 3);
    const r = new Rng(60);
    for (let i = 0; i < out.length; i++) {
      assert.equal(out[i], -2 + 5 * r.uniform());
      assert.ok(out[i] >= -2 && out[i] < 3);
    }
    const f = new Rng(60).fillUniform(new Float32Array(1001), -2, 3);
    for (let i = 0; i < f.length; i++) assert.equal(f[i], Math.fround(out[i]));
    assert.deepEqual(new Rng(1).fillUniform(new Float64Array(3), 4, 4), new Float64Array([4, 4, 4]));
  });

  it('fillNormal equals successive normal() calls, odd lengths and a pending spare included', () => {
    for (const [len, pre] of [
      [0, 1],
      [1, 0],
      [7, 0],
      [8, 1],
      [9, 1],
    ] as const) {
      const a = new Rng(70);
      const b = new Rng(70);
      for (let i = 0; i < pre; i++) assert.equal(a.normal(), b.normal());
      const out = a.fillNormal(new Float64Array(len), 1.5, 0.25);
      for (let i = 0; i < len; i++) assert.equal(out[i], 1.5 + 0.25 * b.normal());
      assert.equal(a.normal(), b.normal()); // streams still in step afterwards
      assert.deepEqual(a.state(), b.state());
    }
    const big = new Rng(71).fillNormal(new Float32Array(100000), 0, 2);
    let s2 = 0;
    for (const x of big) s2 += x * x;
    assert.ok(Math.abs(s2 / big.length - 4) < 0.12);
  });
});

describe('Rng argument checks', () => {
  it('rejects bad seeds, labels and states', () => {
    throwsCode(() => new Rng(-1), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => new Rng(1.5), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => new Rng(2 ** 32), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => new Rng(NaN), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => Rng.derive(1, -1), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => Rng.derive(1, 0, 0.5), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => Rng.fromState([1, 2, 3]), 'KERNEL_LENGTH_MISMATCH');
    throwsCode(() => Rng.fromState([0, 0, 0, 0]), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => Rng.fromState([1, 2, 3, 2 ** 32]), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => Rng.fromState([1, 2, 3, 4, 2, 0, 0]), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => Rng.fromState([1, 2, 3, 4, 1, 0, 0x7ff00000]), 'KERNEL_NON_FINITE');
  });

  it('rejects bad distribution parameters', () => {
    const r = new Rng(1);
    throwsCode(() => r.uniformInt(0), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.uniformInt(2.5), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.uniformInt(2 ** 32 + 1), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.uniformInt(Infinity), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.normal(NaN), 'KERNEL_NON_FINITE');
    throwsCode(() => r.normal(0, Infinity), 'KERNEL_NON_FINITE');
    throwsCode(() => r.normal(0, -1), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.gamma(0), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.gamma(-2), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.gamma(NaN), 'KERNEL_NON_FINITE');
    throwsCode(() => r.gamma(1, 0), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.gamma(1, Infinity), 'KERNEL_NON_FINITE');
    throwsCode(() => r.dirichlet([1, 1], new Float64Array(3)), 'KERNEL_LENGTH_MISMATCH');
    throwsCode(() => r.dirichlet([], new Float64Array(0)), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.dirichlet([1, 0], new Float64Array(2)), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.dirichlet([1, NaN], new Float64Array(2)), 'KERNEL_NON_FINITE');
    throwsCode(() => r.fillUniform(new Float32Array(2), 1, 0), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.fillUniform(new Float32Array(2), 0, Infinity), 'KERNEL_NON_FINITE');
    throwsCode(() => r.fillUniform(new Float64Array(2), -1e308, 1e308), 'KERNEL_NON_FINITE');
    throwsCode(() => r.fillNormal(new Float32Array(2), 0, -1), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => r.fillNormal(new Float32Array(2), NaN, 1), 'KERNEL_NON_FINITE');
  });

  it('a rejected call does not advance the stream', () => {
    const a = new Rng(2);
    const b = new Rng(2);
    assert.throws(() => a.gamma(-1));
    assert.throws(() => a.dirichlet([1, -1], new Float64Array(2)));
    assert.equal(a.nextU32(), b.nextU32());
  });
});
