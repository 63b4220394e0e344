import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KernelError } from '../src/errors.js';
import {
  DILOCO_OUTER_LR,
  DILOCO_OUTER_MOMENTUM,
  adamwStep,
  clipGradNorm,
  fedOptStep,
  momentumStep,
  sgdStep,
  signStep,
} from '../src/optim/index.js';

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof KernelError && e.code === code);
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ''): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Small deterministic test data (an LCG; the random module is tested separately). */
function data(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

describe('FedAvgM through momentumStep (spec 1)', () => {
  it('η_s = 1, β = 0.9, x = 1, client average x − 0.1 every round → 0.9, then 0.71', () => {
    const x = new Float32Array([1]);
    const v = new Float32Array(1);
    const g = new Float32Array(1);
    const expected = [0.9, 0.71];
    for (let round = 1; round <= 2; round++) {
      const avg = x[0] - 0.1;
      g[0] = x[0] - avg; // pseudo-gradient x_t − x̄
      momentumStep(x, g, v, { lr: 1, momentum: 0.9, first: round === 1 });
      close(x, [expected[round - 1]], 1e-6, `round ${round}`);
    }
  });

  it('β = 0 equals FedAvg with a server learning rate: x + η_s·(x̄ − x)', () => {
    const n = 257;
    const x = data(n, 1);
    const ref = Float64Array.from(x);
    const v = new Float32Array(n);
    const g = new Float32Array(n);
    for (let round = 1; round <= 4; round++) {
      const avg = data(n, 100 + round);
      for (let i = 0; i < n; i++) g[i] = x[i] - avg[i];
      for (let i = 0; i < n; i++) ref[i] = Math.fround(ref[i] + 0.7 * (avg[i] - ref[i]));
      momentumStep(x, g, v, { lr: 0.7, momentum: 0, first: round === 1 });
      close(x, ref, 1e-6, `round ${round}`);
    }
  });
});

describe('DiLoCo outer Nesterov step (spec 3)', () => {
  it('θ = 1, ḡ = 0.1 twice with the default lr 0.7 and μ 0.9 → 0.867, then 0.6773', () => {
    assert.equal(DILOCO_OUTER_LR, 0.7);
    assert.equal(DILOCO_OUTER_MOMENTUM, 0.9);
    const theta = new Float32Array([1]);
    const b = new Float32Array(1);
    const g = new Float32Array([0.1]);
    const opts = { lr: DILOCO_OUTER_LR, momentum: DILOCO_OUTER_MOMENTUM, nesterov: true };
    momentumStep(theta, g, b, { ...opts, first: true });
    close(theta, [0.867], 1e-6);
    close(b, [0.1], 1e-7);
    momentumStep(theta, g, b, { ...opts, first: false });
    close(theta, [0.6773], 1e-6);
    close(b, [0.19], 1e-7);
  });

  it('M = 1, H = 1, inner SGD lr γ, η_out = 1, μ = 0 is plain SGD (property)', () => {
    // f(θ) = ½ Σ a_i (θ_i − c_i)², ∇f = a·(θ − c).
    const n = 300;
    const a = data(n, 2);
    for (let i = 0; i < n; i++) a[i] = Math.abs(a[i]) + 0.1;
    const c = data(n, 3);
    const grad = (theta: Float32Array, out: Float32Array) => {
      for (let i = 0; i < n; i++) out[i] = a[i] * (theta[i] - c[i]);
    };
    const gamma = 0.3;
    const theta = data(n, 4);
    const plain = Float32Array.from(theta);
    const worker = new Float32Array(n);
    const gbuf = new Float32Array(n);
    const pseudo = new Float32Array(n);
    const b = new Float32Array(n);
    for (let outer = 0; outer < 5; outer++) {
      worker.set(theta);
      grad(worker, gbuf);
      sgdStep(worker, gbuf, { lr: gamma });
      for (let i = 0; i < n; i++) pseudo[i] = theta[i] - worker[i];
      momentumStep(theta, pseudo, b, { lr: 1, momentum: 0, first: outer === 0 });
      grad(plain, gbuf);
      sgdStep(plain, gbuf, { lr: gamma });
      close(theta, plain, 1e-6, `outer ${outer}`);
    }
  });
});

describe('momentumStep against a float64 reference of torch.optim.SGD', () => {
  for (const cfg of [
    { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
    { momentum: 0.9, dampening: 0.5, nesterov: false, weightDecay: 0.01 },
    { momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 0.05 },
  ]) {
    it(JSON.stringify(cfg), () => {
      const n = 101;
      const lr = 0.05;
      const p = data(n, 5);
      const buf = new Float32Array(n).fill(123); // stale contents must be ignored on the first step
      const rp = Float64Array.from(p);
      const rb = new Float64Array(n);
      for (let t = 0; t < 6; t++) {
        const g = data(n, 10 + t);
        for (let i = 0; i < n; i++) {
          const d = g[i] + cfg.weightDecay * rp[i];
          rb[i] = t === 0 ? d : cfg.momentum * rb[i] + (1 - cfg.dampening) * d;
          rp[i] -= lr * (cfg.nesterov ? d + cfg.momentum * rb[i] : rb[i]);
        }
        momentumStep(p, g, buf, { lr, ...cfg, first: t === 0 });
        close(p, rp, 1e-5, `p step ${t}`);
        close(buf, rb, 1e-5, `buf step ${t}`);
      }
    });
  }
});

describe('sgdStep', () => {
  it('p -= lr·(g + wd·p)', () => {
    const p = new Float32Array([1, -2, 0.5]);
    sgdStep(p, new Float32Array([0.5, 1, 0]), { lr: 0.1, weightDecay: 0.2 });
    close(p, [1 - 0.1 * (0.5 + 0.2), -2 - 0.1 * (1 - 0.4), 0.5 - 0.1 * 0.1], 1e-7);
    const q = new Float32Array([1, 2]);
    sgdStep(q, new Float32Array([10, -10]), { lr: 0.01 });
    close(q, [0.9, 2.1], 1e-7);
  });
});

describe('adamwStep', () => {
  it('step 1 by hand: p(1 − lr·wd) − lr·g/(|g| + eps)', () => {
    const p = new Float32Array([1, -1, 2, 0]);
    const g = new Float32Array([0.5, 0.25, -4, 0]);
    const m = new Float32Array(4);
    const v = new Float32Array(4);
    adamwStep(p, g, m, v, { lr: 0.01, weightDecay: 0.1, step: 1 });
    const decay = 1 - 0.01 * 0.1;
    close(p, [decay - 0.01, -decay - 0.01, 2 * decay + 0.01, 0], 1e-7);
    close(m, [0.05, 0.025, -0.4, 0], 1e-7);
    close(v, [0.00025, 0.0000625, 0.016, 0], 1e-7);
  });

  it('matches a float64 reference over several steps, weight decay included', () => {
    const n = 64;
    const lr = 0.003;
    const b1 = 0.9;
    const b2 = 0.95;
    const eps = 1e-6;
    const wd = 0.1;
    const p = data(n, 7);
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    const rp = Float64Array.from(p);
    const rm = new Float64Array(n);
    const rv = new Float64Array(n);
    for (let t = 1; t <= 8; t++) {
      const g = data(n, 40 + t, 0.1);
      for (let i = 0; i < n; i++) {
        rp[i] *= 1 - lr * wd;
        rm[i] = b1 * rm[i] + (1 - b1) * g[i];
        rv[i] = b2 * rv[i] + (1 - b2) * g[i] * g[i];
        const mHat = rm[i] / (1 - b1 ** t);
        const vHat = rv[i] / (1 - b2 ** t);
        rp[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
      adamwStep(p, g, m, v, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step: t });
      close(p, rp, 1e-5, `p step ${t}`);
      close(m, rm, 1e-5, `m step ${t}`);
      close(v, rv, 1e-5, `v step ${t}`);
    }
  });

  it('uses the PyTorch defaults (β 0.9/0.999, eps 1e-8, wd 0.01)', () => {
    const run = (opts: Parameters<typeof adamwStep>[4]) => {
      const p = data(16, 9);
      const m = new Float32Array(16);
      const v = new Float32Array(16);
      for (let t = 1; t <= 3; t++) adamwStep(p, data(16, 60 + t), m, v, { ...opts, step: t });
      return p;
    };
    assert.deepEqual(run({ lr: 0.01, step: 1 }), run({ lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 }));
    assert.notDeepEqual(run({ lr: 0.01, step: 1 }), run({ lr: 0.01, weightDecay: 0, step: 1 }));
  });
});

describe('signStep (DeMo step 8, sign-SGD)', () => {
  it('p -= lr·sign(g) with sign(0) = 0', () => {
    const p = new Float32Array([1, 1, 1, 1, -0.5]);
    signStep(p, new Float32Array([0.3, 0, -1e-30, -0, 7]), 0.25);
    assert.deepEqual(p, new Float32Array([0.75, 1, 1.25, 1, -0.75]));
  });

  it('matches Math.sign on many values (both zeros, subnormals, infinities) and propagates NaN', () => {
    const g = new Float32Array([0, -0, 1e-45, -1e-45, Infinity, -Infinity, 3.5, -3.5, NaN, 2 ** 100, -(2 ** -126)]);
    const p = new Float32Array(g.length).fill(1);
    signStep(p, g, 0.5);
    for (let i = 0; i < g.length; i++) {
      const expected = Number.isNaN(g[i]) ? NaN : Math.fround(1 - 0.5 * Math.sign(g[i]));
      assert.ok(Object.is(p[i], expected) || (p[i] === expected), `g = ${g[i]}: ${p[i]}`);
    }
    const big = new Float32Array(1000);
    for (let i = 0; i < big.length; i++) big[i] = Math.sin(i) * (i % 7 === 0 ? 0 : 1);
    const q = new Float32Array(1000);
    signStep(q, big, 1);
    for (let i = 0; i < big.length; i++) assert.equal(q[i], 0 - Math.sign(big[i]));
  });

  it('DeMo-style update with an exact decode (W = 1, all coefficients kept) is p − η·sign(δ)', () => {
    const delta = new Float32Array([0.2, -0.001, 0, 5, -3]);
    const p = new Float32Array([0, 0, 0, 0, 0]);
    signStep(p, delta, 4e-4);
    const e = Math.fround(4e-4);
    assert.deepEqual(p, new Float32Array([-e, e, 0, -e, e]));
  });
});

describe('fedOptStep (spec 1, update convention Δ̄ = x̄ − x_t)', () => {
  const spec = { lr: 0.1, tau: 1e-3 };
  it('FedAdam from x = 0 with Δ̄ = [1, −2], η = 0.1, τ = 1e-3 → [0.0990099, −0.0995025]', () => {
    const x = new Float32Array(2);
    const m = new Float32Array(2);
    const v = new Float32Array(2);
    fedOptStep(x, new Float32Array([1, -2]), m, v, { variant: 'adam', ...spec });
    close(x, [0.0990099, -0.0995025], 1e-6);
    close(m, [0.1, -0.2], 1e-7);
    close(v, [0.01, 0.04], 1e-7);
  });

  it('FedAdagrad step 1 → [0.00999, −0.009995]', () => {
    const x = new Float32Array(2);
    const m = new Float32Array(2);
    const v = new Float32Array(2);
    fedOptStep(x, new Float32Array([1, -2]), m, v, { variant: 'adagrad', ...spec });
    close(x, [0.00999, -0.009995], 1e-6);
    close(v, [1, 4], 0);
  });

  it('FedYogi step 1 from v = 0 equals FedAdam step 1; later steps differ', () => {
    const n = 50;
    const state = () => ({ x: data(n, 20), m: new Float32Array(n), v: new Float32Array(n) });
    const adam = state();
    const yogi = state();
    const d1 = data(n, 21);
    fedOptStep(adam.x, d1, adam.m, adam.v, { variant: 'adam' });
    fedOptStep(yogi.x, d1, yogi.m, yogi.v, { variant: 'yogi' });
    assert.deepEqual(yogi, adam);
    const d2 = data(n, 22, 3);
    fedOptStep(adam.x, d2, adam.m, adam.v, { variant: 'adam' });
    fedOptStep(yogi.x, d2, yogi.m, yogi.v, { variant: 'yogi' });
    assert.notDeepEqual(yogi.x, adam.x);
    // Yogi's v moves additively toward Δ̄² by (1 − β2)·Δ̄².
    const ref = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const vOld = 0.01 * d1[i] * d1[i];
      const dd = d2[i] * d2[i];
      ref[i] = vOld - 0.01 * dd * Math.sign(vOld - dd);
    }
    close(yogi.v, ref, 1e-6);
  });

  it('a v0 > 0 start and the Flower defaults match a float64 reference over rounds', () => {
    const n = 40;
    const x = data(n, 30);
    const m = new Float32Array(n);
    const v = new Float32Array(n).fill(1e-6);
    const rx = Float64Array.from(x);
    const rm = new Float64Array(n);
    const rv = new Float64Array(n).fill(Math.fround(1e-6));
    for (let r = 0; r < 5; r++) {
      const d = data(n, 31 + r, 0.01);
      for (let i = 0; i < n; i++) {
        rm[i] = 0.9 * rm[i] + 0.1 * d[i];
        rv[i] = 0.99 * rv[i] + 0.01 * d[i] * d[i];
        rx[i] += (0.1 * rm[i]) / (Math.sqrt(rv[i]) + 1e-9);
      }
      fedOptStep(x, d, m, v, { variant: 'adam' });
      close(x, rx, 1e-5, `round ${r}`);
    }
  });
});

describe('clipGradNorm', () => {
  it('scales to maxNorm and returns the norm before clipping', () => {
    const g = new Float32Array([3, 4]);
    assert.equal(clipGradNorm(g, 1), 5);
    close(g, [0.6, 0.8], 1e-6);
    const h = new Float32Array([0.3, 0.4]);
    assert.ok(Math.abs(clipGradNorm(h, 1) - 0.5) < 1e-7);
    assert.deepEqual(h, new Float32Array([0.3, 0.4]));
  });

  it('throws on a non-finite norm and leaves g untouched', () => {
    const g = new Float32Array([1, NaN, 2]);
    throwsCode(() => clipGradNorm(g, 1), 'KERNEL_NON_FINITE');
    assert.equal(g[0], 1);
    throwsCode(() => clipGradNorm(new Float32Array(2), -1), 'KERNEL_BAD_ARGUMENT');
  });
});

describe('optimiser argument checks', () => {
  const p = () => new Float32Array(4);
  it('length mismatches', () => {
    throwsCode(() => sgdStep(p(), new Float32Array(3), { lr: 1 }), 'KERNEL_LENGTH_MISMATCH');
    throwsCode(() => momentumStep(p(), p(), new Float32Array(5), { lr: 1, momentum: 0.5, first: true }), 'KERNEL_LENGTH_MISMATCH');
    throwsCode(() => adamwStep(p(), p(), p(), new Float32Array(3), { lr: 1, step: 1 }), 'KERNEL_LENGTH_MISMATCH');
    throwsCode(() => fedOptStep(p(), new Float32Array(2), p(), p(), { variant: 'adam' }), 'KERNEL_LENGTH_MISMATCH');
    throwsCode(() => signStep(p(), new Float32Array(1), 1), 'KERNEL_LENGTH_MISMATCH');
  });

  it('non-finite hyper-parameters', () => {
    throwsCode(() => sgdStep(p(), p(), { lr: NaN }), 'KERNEL_NON_FINITE');
    throwsCode(() => signStep(p(), p(), Infinity), 'KERNEL_NON_FINITE');
    throwsCode(() => momentumStep(p(), p(), p(), { lr: 1, momentum: NaN, first: true }), 'KERNEL_NON_FINITE');
    throwsCode(() => adamwStep(p(), p(), p(), p(), { lr: 1, eps: NaN, step: 1 }), 'KERNEL_NON_FINITE');
    throwsCode(() => adamwStep(p(), p(), p(), p(), { lr: 1, beta2: Infinity, step: 1 }), 'KERNEL_NON_FINITE');
    throwsCode(() => fedOptStep(p(), p(), p(), p(), { variant: 'yogi', tau: NaN }), 'KERNEL_NON_FINITE');
  });

  it('out-of-range hyper-parameters', () => {
    throwsCode(() => sgdStep(p(), p(), { lr: -0.1 }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => sgdStep(p(), p(), { lr: 0.1, weightDecay: -1 }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => momentumStep(p(), p(), p(), { lr: 1, momentum: 1, first: true }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => momentumStep(p(), p(), p(), { lr: 1, momentum: -0.1, first: true }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => momentumStep(p(), p(), p(), { lr: 1, momentum: 0.5, dampening: 1.5, first: true }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => momentumStep(p(), p(), p(), { lr: 1, momentum: 0, nesterov: true, first: true }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => momentumStep(p(), p(), p(), { lr: 1, momentum: 0.9, dampening: 0.1, nesterov: true, first: true }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => momentumStep(p(), p(), p(), { lr: 1, momentum: 0.9 } as never), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => adamwStep(p(), p(), p(), p(), { lr: 1, step: 0 }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => adamwStep(p(), p(), p(), p(), { lr: 1, step: 1.5 }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => adamwStep(p(), p(), p(), p(), { lr: 1, beta1: 1, step: 1 }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => adamwStep(p(), p(), p(), p(), { lr: 1, eps: -1, step: 1 }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => fedOptStep(p(), p(), p(), p(), { variant: 'adam', beta2: 1 }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => fedOptStep(p(), p(), p(), p(), { variant: 'sgd' as never }), 'KERNEL_BAD_ARGUMENT');
  });

  it('aliased state buffers', () => {
    const x = p();
    const s = p();
    throwsCode(() => momentumStep(x, p(), x, { lr: 1, momentum: 0.5, first: true }), 'KERNEL_BAD_ARGUMENT');
    throwsCode(() => adamwStep(x, p(), s, s, { lr: 1, step: 1 }), 'KERNEL_BAD_ARGUMENT');
    const g = p();
    throwsCode(() => fedOptStep(x, g, g, p(), { variant: 'adam' }), 'KERNEL_BAD_ARGUMENT');
  });

  it('a rejected call leaves the parameters and state untouched', () => {
    const x = new Float32Array([1, 2, 3, 4]);
    const m = new Float32Array(4);
    throwsCode(() => fedOptStep(x, new Float32Array([1, 1, 1, 1]), m, new Float32Array(4), { variant: 'adam', lr: -1 }), 'KERNEL_BAD_ARGUMENT');
    assert.deepEqual(x, new Float32Array([1, 2, 3, 4]));
    assert.deepEqual(m, new Float32Array(4));
  });
});
