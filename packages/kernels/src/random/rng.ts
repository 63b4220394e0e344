import { KernelError, expectFinite, expectIntInRange, expectLength } from '../errors.js';

/** Any indexable, writable sequence: arrays and every typed array (BigInt ones too). */
export interface Indexable<T> {
  readonly length: number;
  [index: number]: T;
}

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;

/** splitmix32's output function: a bijective 32-bit avalanche mix (returns int32). */
function mix32(z: number): number {
  z ^= z >>> 16;
  z = Math.imul(z, 0x21f0aaad);
  z ^= z >>> 15;
  z = Math.imul(z, 0x735a2d97);
  return z ^ (z >>> 15);
}

/** Golden-ratio increment of splitmix32. */
const GOLDEN = 0x9e3779b9 | 0;

// State words are serialised little-endian regardless of the platform's byte order.
const spareView = new DataView(new ArrayBuffer(8));

/**
 * Seeded pseudo-random generator: xoshiro128** (Blackman & Vigna) on 32-bit integer
 * arithmetic only (Math.imul, shifts), seeded by four splitmix32 outputs of a 32-bit
 * seed. The same seed gives the same stream on every platform.
 *
 * Floating-point derived draws use only IEEE-exact operations plus Math.log, Math.exp
 * and Math.sqrt. V8 implements Math.log/Math.exp (and the trig functions) with its port
 * of fdlibm rather than the C library, so they give the same bits on every platform
 * running Node; sqrt is correctly rounded by IEEE 754. Math.pow is avoided.
 *
 * Not cryptographically secure: use it for sampling and partitioning, never for keys or
 * secure-aggregation masks.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Second value of the last Marsaglia polar pair, served by the next normal draw. */
  private spare = 0;
  private hasSpare = false;

  /** A generator seeded from `seed`, an integer in [0, 2^32 − 1]. */
  constructor(seed: number) {
    expectIntInRange('seed', seed, 0, 0xffffffff);
    let x = seed | 0;
    x = (x + GOLDEN) | 0;
    this.s0 = mix32(x);
    x = (x + GOLDEN) | 0;
    this.s1 = mix32(x);
    x = (x + GOLDEN) | 0;
    this.s2 = mix32(x);
    x = (x + GOLDEN) | 0;
    this.s3 = mix32(x);
    // mix32 is a bijection and the four inputs differ, so at most one word is zero:
    // the all-zero state (a fixed point of xoshiro) cannot occur.
  }

  /**
   * A child generator for `(seed, ...labels)`, e.g. `Rng.derive(seed, round, client)`:
   * deterministic, and for practical purposes independent of the parent stream and of
   * every other label path. Each label (an integer in [0, 2^53 − 1]) is absorbed by
   * drawing four words from the current generator and mixing each with a hash of the
   * label into a fresh 128-bit state. With no labels this equals `new Rng(seed)`.
   */
  static derive(seed: number, ...labels: number[]): Rng {
    const r = new Rng(seed);
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      expectIntInRange(`labels[${i}]`, label, 0, Number.MAX_SAFE_INTEGER);
      // Both halves of the label feed a splitmix32 sequence of its own.
      let h = mix32(((label >>> 0) ^ 0x5bd1e995) | 0) ^ Math.floor(label / TWO_32);
      h = (h + GOLDEN) | 0;
      const a = mix32(r.nextU32() ^ mix32(h));
      h = (h + GOLDEN) | 0;
      const b = mix32(r.nextU32() ^ mix32(h));
      h = (h + GOLDEN) | 0;
      const c = mix32(r.nextU32() ^ mix32(h));
      h = (h + GOLDEN) | 0;
      const d = mix32(r.nextU32() ^ mix32(h));
      r.s0 = a;
      r.s1 = b;
      r.s2 = c;
      r.s3 = d;
      if ((a | b | c | d) === 0) r.s0 = GOLDEN; // probability 2^-128, but never all-zero
      r.hasSpare = false;
      r.spare = 0;
    }
    return r;
  }

  /**
   * The full generator state, to save and later resume with {@link Rng.fromState}:
   * `[s0, s1, s2, s3, hasSpare, spareLo, spareHi]`, where the last two words are the
   * little-endian float64 bits of a cached normal draw.
   */
  state(): Uint32Array {
    spareView.setFloat64(0, this.spare, true);
    return Uint32Array.of(
      this.s0 >>> 0,
      this.s1 >>> 0,
      this.s2 >>> 0,
      this.s3 >>> 0,
      this.hasSpare ? 1 : 0,
      spareView.getUint32(0, true),
      spareView.getUint32(4, true),
    );
  }

  /**
   * A generator resuming exactly where {@link Rng.state} was taken. Accepts the
   * 7-word form, or just the 4 xoshiro words (no cached normal draw).
   */
  static fromState(state: ArrayLike<number>): Rng {
    if (state.length !== 4 && state.length !== 7) {
      throw new KernelError('KERNEL_LENGTH_MISMATCH', `state: length ${state.length}, expected 7 (or 4)`);
    }
    for (let i = 0; i < state.length; i++) expectIntInRange(`state[${i}]`, state[i], 0, 0xffffffff);
    if ((state[0] | state[1] | state[2] | state[3]) === 0) {
      throw new KernelError('KERNEL_BAD_ARGUMENT', 'state: the xoshiro words are all zero');
    }
    const r = new Rng(0);
    r.s0 = state[0] | 0;
    r.s1 = state[1] | 0;
    r.s2 = state[2] | 0;
    r.s3 = state[3] | 0;
    if (state.length === 7) {
      expectIntInRange('state[4]', state[4], 0, 1);
      r.hasSpare = state[4] === 1;
      spareView.setUint32(0, state[5], true);
      spareView.setUint32(4, state[6], true);
      r.spare = r.hasSpare ? spareView.getFloat64(0, true) : 0;
      if (!Number.isFinite(r.spare)) {
        throw new KernelError('KERNEL_NON_FINITE', 'state: the cached normal draw is not finite');
      }
    }
    return r;
  }

  /** The next 32 random bits as an unsigned integer in [0, 2^32). */
  nextU32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9);
    const t = s1 << 9;
    const s2 = this.s2 ^ s0;
    const s3 = this.s3 ^ s1;
    this.s1 = s1 ^ s2;
    this.s0 = s0 ^ s3;
    this.s2 = s2 ^ t;
    this.s3 = (s3 << 11) | (s3 >>> 21);
    return result >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits (27 from one word, 26 from the next). */
  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / TWO_53;
  }

  /**
   * A uniform integer in [0, n), unbiased, by Lemire's multiply-and-reject method: the
   * high word of the 64-bit product x·n (x a random word) is the result, and products
   * whose low word is below 2^32 mod n are redrawn. `n` is an integer in [1, 2^32].
   */
  uniformInt(n: number): number {
    expectIntInRange('n', n, 1, TWO_32);
    return this.uniformIntUnchecked(n);
  }

  private uniformIntUnchecked(n: number): number {
    for (;;) {
      const x = this.nextU32();
      // x·n can reach 2^64, beyond exact doubles: split x into 16-bit halves, whose
      // products with n stay below 2^48, and carry between them exactly.
      const p1 = (x >>> 16) * n;
      const a = Math.floor(p1 / 65536);
      const mid = (p1 - a * 65536) * 65536 + (x & 0xffff) * n;
      const c = Math.floor(mid / TWO_32);
      const lo = mid - c * TWO_32;
      // Only when lo < n can the product fall in the rejected region, so the slow
      // modulo runs with probability n / 2^32.
      if (lo >= n || lo >= (TWO_32 - n) % n) return a + c;
    }
  }

  /** A normal draw N(mean, std²) by the Marsaglia polar method (pairs; the spare is cached). */
  normal(mean = 0, std = 1): number {
    expectFinite('mean', mean);
    expectStd(std);
    return mean + std * this.standardNormal();
  }

  private standardNormal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    this.hasSpare = true;
    return u * f;
  }

  /**
   * A Gamma(shape, scale) draw (mean shape·scale) by Marsaglia and Tsang's method; for
   * shape < 1 a Gamma(shape + 1) draw is multiplied by u^(1/shape), u uniform in (0, 1].
   * For very small shapes that factor can underflow to 0; {@link Rng.dirichlet} works in
   * log space to avoid this.
   */
  gamma(shape: number, scale = 1): number {
    expectPositive('shape', shape);
    expectPositive('scale', scale);
    if (shape >= 1) return scale * this.gammaAtLeastOne(shape);
    const boost = Math.exp(Math.log(1 - this.uniform()) / shape);
    return scale * this.gammaAtLeastOne(shape + 1) * boost;
  }

  /** log of a Gamma(shape, 1) draw; finite even where the draw itself underflows. */
  private logGamma(shape: number): number {
    if (shape >= 1) return Math.log(this.gammaAtLeastOne(shape));
    const logBoost = Math.log(1 - this.uniform()) / shape;
    return Math.log(this.gammaAtLeastOne(shape + 1)) + logBoost;
  }

  private gammaAtLeastOne(a: number): number {
    const d = a - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.standardNormal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /**
   * A Dirichlet(alpha) draw into `out` (same length as `alpha`, at least 1): normalised
   * Gamma(alpha_i) draws, as the spec's Dirichlet partitioner (section 10) needs.
   * Computed from log-gamma draws and normalised by their maximum, so that small alphas
   * (e.g. 0.01), whose gamma draws underflow, still give a valid point of the simplex.
   * Every alpha_i must be finite and > 0. `out` sums to 1 up to rounding.
   */
  dirichlet(alpha: ArrayLike<number>, out: Float64Array): Float64Array {
    const k = alpha.length;
    expectLength('out', out.length, k);
    if (k === 0) throw new KernelError('KERNEL_BAD_ARGUMENT', 'alpha is empty, expected at least one component');
    for (let i = 0; i < k; i++) expectPositive(`alpha[${i}]`, alpha[i]);
    let max = -Infinity;
    for (let i = 0; i < k; i++) {
      const l = this.logGamma(alpha[i]);
      out[i] = l;
      if (l > max) max = l;
    }
    let sum = 0;
    for (let i = 0; i < k; i++) {
      const w = Math.exp(out[i] - max);
      out[i] = w;
      sum += w;
    }
    for (let i = 0; i < k; i++) out[i] /= sum;
    return out;
  }

  /** Shuffles `array` in place (Fisher–Yates, from the end) and returns it. */
  shuffle<A extends Indexable<unknown>>(array: A): A {
    const n = array.length;
    if (n > TWO_32) throw new KernelError('KERNEL_BAD_ARGUMENT', `array length ${n} exceeds 2^32`);
    for (let i = n - 1; i > 0; i--) {
      const j = this.uniformIntUnchecked(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /**
   * Fills `out` with uniform draws lo + (hi − lo)·u, u in [0, 1), one {@link Rng.uniform}
   * per element. Needs finite lo <= hi. In a Float32Array the rounding can yield `hi`.
   */
  fillUniform<A extends Float32Array | Float64Array>(out: A, lo: number, hi: number): A {
    expectFinite('lo', lo);
    expectFinite('hi', hi);
    if (lo > hi) throw new KernelError('KERNEL_BAD_ARGUMENT', `lo (${lo}) is greater than hi (${hi})`);
    const span = hi - lo;
    expectFinite('hi - lo', span);
    const n = out.length;
    for (let i = 0; i < n; i++) out[i] = lo + span * this.uniform();
    return out;
  }

  /**
   * Fills `out` with N(mean, std²) draws. Consumes the stream exactly as `out.length`
   * calls to {@link Rng.normal} would (a pending spare is used first, and a spare left
   * over at the end is kept for the next draw).
   */
  fillNormal<A extends Float32Array | Float64Array>(out: A, mean: number, std: number): A {
    expectFinite('mean', mean);
    expectStd(std);
    const n = out.length;
    let i = 0;
    if (n > 0 && this.hasSpare) {
      this.hasSpare = false;
      out[i++] = mean + std * this.spare;
    }
    for (; i + 1 < n; i += 2) {
      let u: number;
      let v: number;
      let s: number;
      do {
        u = 2 * this.uniform() - 1;
        v = 2 * this.uniform() - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      out[i] = mean + std * (u * f);
      out[i + 1] = mean + std * (v * f);
    }
    if (i < n) out[i] = mean + std * this.standardNormal();
    return out;
  }
}

function expectPositive(what: string, value: number): void {
  expectFinite(what, value);
  if (!(value > 0)) throw new KernelError('KERNEL_BAD_ARGUMENT', `${what} is ${value}, expected a value > 0`);
}

function expectStd(std: number): void {
  expectFinite('std', std);
  if (std < 0) throw new KernelError('KERNEL_BAD_ARGUMENT', `std is ${std}, expected a value >= 0`);
}
