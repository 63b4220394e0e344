import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blockMajorIndex,
  dctForward1d,
  dctForward2d,
  dctInverse1d,
  dctInverse2d,
  demoChunkSize,
} from '../src/dct/index.js';
import { UNROLLED_FORWARD, UNROLLED_INVERSE } from '../src/dct/unrolled.js';
import { KernelError } from '../src/errors.js';

const GENERATED = [2, 4, 8, 16, 32, 64, 128, 256];
const TABLE = [1, 3, 5, 29, 48, 50];

function code(c: string) {
  return (e: unknown) => e instanceof KernelError && e.code === c;
}

/** Deterministic pseudo-random values in [-scale, scale). */
function signal(n: number, seed = 1, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2147483648 - 1) * scale;
  }
  return a;
}

/** Direct O(c²) float64 orthonormal DCT-II of one chunk: the spec's definition. */
function refDct(x: ArrayLike<number>, off: number, c: number): Float64Array {
  const out = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let i = 0; i < c; i++) s += x[off + i] * Math.cos((Math.PI * (2 * i + 1) * k) / (2 * c));
    out[k] = s * Math.sqrt((k === 0 ? 1 : 2) / c);
  }
  return out;
}

/** Direct float64 DCT-III (orthonormal inverse) of one chunk. */
function refIdct(X: ArrayLike<number>, off: number, c: number): Float64Array {
  const out = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.sqrt((k === 0 ? 1 : 2) / c) * X[off + k] * Math.cos((Math.PI * (2 * i + 1) * k) / (2 * c));
    out[i] = s;
  }
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('demoChunkSize: spec examples', () => {
  assert.equal(demoChunkSize(768, 64), 64);
  assert.equal(demoChunkSize(100, 64), 50);
  assert.equal(demoChunkSize(50257, 64), 29);
  assert.equal(demoChunkSize(48, 64), 48);
});

test('demoChunkSize: largest divisor not above the request, by brute force', () => {
  for (let n = 1; n <= 300; n++) {
    for (const r of [1, 2, 7, 16, 64, 1000]) {
      let want = 1;
      for (let d = 1; d <= Math.min(n, r); d++) if (n % d === 0) want = d;
      assert.equal(demoChunkSize(n, r), want, `n=${n} r=${r}`);
    }
  }
  assert.equal(demoChunkSize(1, 64), 1);
  assert.equal(demoChunkSize(97, 64), 1); // prime above the request
});

test('demoChunkSize: bad arguments throw KERNEL_BAD_ARGUMENT', () => {
  for (const [n, r] of [
    [768, 0],
    [768, -1],
    [0, 64],
    [-5, 64],
    [768, 1.5],
    [NaN, 64],
    [768, Infinity],
  ]) {
    assert.throws(() => demoChunkSize(n, r), code('KERNEL_BAD_ARGUMENT'), `${n}, ${r}`);
  }
});

test('spec vector: orthonormal DCT of [1,2,3,4] is [5, -2.230442, 0, -0.158513]', () => {
  const y = new Float32Array(4);
  dctForward1d(Float32Array.of(1, 2, 3, 4), 4, y);
  const want = [5, -2.230442, 0, -0.158513];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(y[i] - want[i]) < 1e-6, `X[${i}] = ${y[i]}`);
  const back = new Float32Array(4);
  dctInverse1d(y, 4, back);
  assert.ok(maxDiff(back, [1, 2, 3, 4]) < 1e-6);
});

test('table path (chunk 3): [1,2,3] matches the formula', () => {
  const y = new Float32Array(3);
  dctForward1d(Float32Array.of(1, 2, 3), 3, y);
  const r = refDct([1, 2, 3], 0, 3);
  assert.ok(maxDiff(y, r) < 1e-6);
  assert.ok(Math.abs(y[0] - 6 / Math.sqrt(3)) < 1e-6);
  assert.ok(Math.abs(y[2]) < 1e-6); // symmetric ramp has no second harmonic
});

test('every generated size matches the direct float64 formula (forward and inverse)', () => {
  for (const c of GENERATED) {
    const x = signal(c * 5, c, 3);
    const y = new Float32Array(x.length);
    dctForward1d(x, c, y);
    const z = new Float32Array(x.length);
    dctInverse1d(x, c, z);
    for (let off = 0; off < x.length; off += c) {
      const fw = refDct(x, off, c);
      const iv = refIdct(x, off, c);
      const fe = maxDiff(y.subarray(off, off + c), fw) / maxAbs(fw);
      const ie = maxDiff(z.subarray(off, off + c), iv) / maxAbs(iv);
      assert.ok(fe < 1e-6, `forward c=${c}: relative error ${fe}`);
      assert.ok(ie < 1e-6, `inverse c=${c}: relative error ${ie}`);
    }
  }
});

test('generated kernels honour offsets and strides and leave other elements alone', () => {
  for (const c of GENERATED) {
    const fwd = UNROLLED_FORWARD.get(c)!;
    const inv = UNROLLED_INVERSE.get(c)!;
    const stride = 3;
    const src = signal(c * stride + 7, 11);
    const dst = new Float32Array(c * stride + 7).fill(42);
    fwd(src, 2, stride, dst, 5, 1);
    const col: number[] = [];
    for (let i = 0; i < c; i++) col.push(src[2 + i * stride]);
    const want = refDct(col, 0, c);
    assert.ok(maxDiff(dst.subarray(5, 5 + c), want) / maxAbs(want) < 1e-6, `c=${c}`);
    assert.equal(dst[4], 42);
    assert.equal(dst[5 + c], 42);
    const back = new Float32Array(c * stride + 7);
    inv(dst, 5, 1, back, 2, stride);
    for (let i = 0; i < c; i++) assert.ok(Math.abs(back[2 + i * stride] - col[i]) < 1e-5, `c=${c} i=${i}`);
    assert.equal(back[3], 0);
  }
});

test('table sizes match the direct formula', () => {
  for (const c of TABLE) {
    const x = signal(c * 4, c + 100, 2);
    const y = new Float32Array(x.length);
    dctForward1d(x, c, y);
    for (let off = 0; off < x.length; off += c) {
      const fw = refDct(x, off, c);
      assert.ok(maxDiff(y.subarray(off, off + c), fw) / maxAbs(fw) < 1e-6, `c=${c}`);
    }
  }
});

test('1-D forward then inverse is the identity to 1e-6, generated and table sizes, out of place and in place', () => {
  for (const c of [...GENERATED, ...TABLE]) {
    const x = signal(c * 6, 7 * c);
    const y = new Float32Array(x.length);
    const z = new Float32Array(x.length);
    dctForward1d(x, c, y);
    dctInverse1d(y, c, z);
    assert.ok(maxDiff(z, x) < 1e-6, `c=${c} out of place: ${maxDiff(z, x)}`);
    const w = x.slice();
    dctForward1d(w, c, w);
    assert.deepEqual(w, y, `c=${c}: in place gives the same bits`);
    dctInverse1d(w, c, w);
    assert.ok(maxDiff(w, x) < 1e-6, `c=${c} in place: ${maxDiff(w, x)}`);
  }
});

test('forward DCT preserves the energy of each chunk (orthonormality)', () => {
  for (const c of [8, 64, 50]) {
    const x = signal(c * 3, 5);
    const y = new Float32Array(x.length);
    dctForward1d(x, c, y);
    let ex = 0;
    let ey = 0;
    for (let i = 0; i < x.length; i++) {
      ex += x[i] * x[i];
      ey += y[i] * y[i];
    }
    assert.ok(Math.abs(ex - ey) / ex < 1e-6, `c=${c}`);
  }
});

test('determinism: the same input gives the same bits', () => {
  const x = signal(64 * 100, 3);
  const a = new Float32Array(x.length);
  const b = new Float32Array(x.length);
  dctForward1d(x, 64, a);
  dctForward1d(x, 64, b);
  assert.deepEqual(a, b);
});

test('1-D bad arguments', () => {
  const x = new Float32Array(12);
  assert.throws(() => dctForward1d(x, 5, new Float32Array(12)), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => dctForward1d(x, 0, new Float32Array(12)), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => dctInverse1d(x, 2.5, new Float32Array(12)), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => dctInverse1d(x, -4, new Float32Array(12)), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => dctForward1d(x, 4, new Float32Array(8)), code('KERNEL_LENGTH_MISMATCH'));
  assert.throws(() => dctInverse1d(x, 4, new Float32Array(13)), code('KERNEL_LENGTH_MISMATCH'));
  // A shifted view of the same memory would let chunk j's output clobber chunk j+1's input.
  const mem = new Float32Array(16);
  assert.throws(() => dctForward1d(mem.subarray(0, 8), 4, mem.subarray(4, 12)), code('KERNEL_BAD_ARGUMENT'));
  // Disjoint views of one buffer are fine.
  dctForward1d(mem.subarray(0, 8), 4, mem.subarray(8, 16));
});

/** Direct float64 X = D₁·B·D₂ᵀ for every tile, returned in block-major layout. */
function refDct2d(x: Float32Array, rows: number, cols: number, c1: number, c2: number): Float64Array {
  const out = new Float64Array(rows * cols);
  const a = (k: number, c: number) => Math.sqrt((k === 0 ? 1 : 2) / c);
  for (let tr = 0; tr < rows; tr += c1) {
    for (let tc = 0; tc < cols; tc += c2) {
      for (let k1 = 0; k1 < c1; k1++) {
        for (let k2 = 0; k2 < c2; k2++) {
          let s = 0;
          for (let i = 0; i < c1; i++) {
            for (let j = 0; j < c2; j++) {
              s +=
                a(k1, c1) *
                Math.cos((Math.PI * (2 * i + 1) * k1) / (2 * c1)) *
                a(k2, c2) *
                Math.cos((Math.PI * (2 * j + 1) * k2) / (2 * c2)) *
                x[(tr + i) * cols + tc + j];
            }
          }
          out[blockMajorIndex(tr + k1, tc + k2, cols, c1, c2)] = s;
        }
      }
    }
  }
  return out;
}

const SHAPES_2D: [number, number, number, number][] = [
  [8, 12, 4, 4],
  [16, 16, 8, 8],
  [12, 20, 4, 5],
  [10, 6, 5, 3],
  [64, 32, 16, 32],
  [4, 8, 4, 8], // one tile row, so block-major equals row-major
  [6, 4, 1, 2],
];

test('2-D matches D₁·B·D₂ᵀ per tile, in block-major layout', () => {
  for (const [rows, cols, c1, c2] of SHAPES_2D) {
    const x = signal(rows * cols, rows * 31 + cols);
    const y = new Float32Array(rows * cols);
    dctForward2d(x, rows, cols, c1, c2, y);
    const want = refDct2d(x, rows, cols, c1, c2);
    const err = maxDiff(y, want) / maxAbs(want);
    assert.ok(err < 1e-6, `${rows}x${cols} tiles ${c1}x${c2}: relative error ${err}`);
  }
});

test('2-D of a constant tile puts everything in coefficient 0 of each tile', () => {
  const rows = 8;
  const cols = 16;
  const x = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) x[r * cols + c] = c < 8 ? 1 : -2;
  const y = new Float32Array(rows * cols);
  dctForward2d(x, rows, cols, 8, 8, y);
  assert.ok(Math.abs(y[0] - 8) < 1e-6); // √(1/8)·√(1/8)·64
  assert.ok(Math.abs(y[64] + 16) < 1e-6); // second tile starts at 64 in block-major order
  for (let i = 0; i < y.length; i++) if (i !== 0 && i !== 64) assert.ok(Math.abs(y[i]) < 1e-6, `y[${i}] = ${y[i]}`);
});

test('2-D forward then inverse is the identity to 1e-6, out of place and in place', () => {
  for (const [rows, cols, c1, c2] of [...SHAPES_2D, [128, 256, 64, 64] as [number, number, number, number], [96, 100, 48, 50] as [number, number, number, number]]) {
    const x = signal(rows * cols, rows + cols);
    const y = new Float32Array(x.length);
    const z = new Float32Array(x.length);
    dctForward2d(x, rows, cols, c1, c2, y);
    dctInverse2d(y, rows, cols, c1, c2, z);
    assert.ok(maxDiff(z, x) < 1e-6, `${rows}x${cols}/${c1}x${c2}: ${maxDiff(z, x)}`);
    const w = x.slice();
    dctForward2d(w, rows, cols, c1, c2, w);
    assert.deepEqual(w, y, 'in-place forward gives the same bits');
    dctInverse2d(w, rows, cols, c1, c2, w);
    assert.deepEqual(w, z, 'in-place inverse gives the same bits');
  }
});

test('2-D with a single row of tiles of height 1 equals the 1-D transform', () => {
  const x = signal(3 * 64, 9);
  const a = new Float32Array(x.length);
  const b = new Float32Array(x.length);
  dctForward2d(x, 1, 3 * 64, 1, 64, a);
  dctForward1d(x, 64, b);
  assert.deepEqual(a, b);
});

test('blockMajorIndex: tiles in row-major tile order, row-major within a tile, a bijection', () => {
  // 4×6 matrix, 2×3 tiles: tile (0,0) holds 0..5, tile (0,1) 6..11, tile (1,0) 12..17.
  assert.equal(blockMajorIndex(0, 0, 6, 2, 3), 0);
  assert.equal(blockMajorIndex(0, 2, 6, 2, 3), 2);
  assert.equal(blockMajorIndex(1, 0, 6, 2, 3), 3);
  assert.equal(blockMajorIndex(0, 3, 6, 2, 3), 6);
  assert.equal(blockMajorIndex(1, 5, 6, 2, 3), 11);
  assert.equal(blockMajorIndex(2, 0, 6, 2, 3), 12);
  assert.equal(blockMajorIndex(3, 5, 6, 2, 3), 23);
  const seen = new Set<number>();
  for (let r = 0; r < 12; r++) for (let c = 0; c < 20; c++) seen.add(blockMajorIndex(r, c, 20, 4, 5));
  assert.equal(seen.size, 240);
  assert.equal(Math.max(...seen), 239);
});

test('2-D bad arguments', () => {
  const x = new Float32Array(48);
  const y = new Float32Array(48);
  assert.throws(() => dctForward2d(x, 6, 8, 4, 4, y), code('KERNEL_BLOCK_SIZE')); // 4 ∤ 6
  assert.throws(() => dctForward2d(x, 6, 8, 3, 3, y), code('KERNEL_BLOCK_SIZE')); // 3 ∤ 8
  assert.throws(() => dctInverse2d(x, 6, 8, 0, 4, y), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => dctInverse2d(x, 6, 8, 3, 1.5, y), code('KERNEL_BLOCK_SIZE'));
  assert.throws(() => dctForward2d(x, 0, 8, 1, 4, y), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => dctForward2d(x, 6, -8, 3, 4, y), code('KERNEL_BAD_ARGUMENT'));
  assert.throws(() => dctForward2d(x, 6, 7, 3, 7, new Float32Array(42)), code('KERNEL_LENGTH_MISMATCH')); // src 48 ≠ 42
  assert.throws(() => dctInverse2d(x, 6, 8, 3, 4, new Float32Array(47)), code('KERNEL_LENGTH_MISMATCH'));
  const mem = new Float32Array(96);
  assert.throws(() => dctForward2d(mem.subarray(0, 48), 6, 8, 3, 4, mem.subarray(8, 56)), code('KERNEL_BAD_ARGUMENT'));
});
