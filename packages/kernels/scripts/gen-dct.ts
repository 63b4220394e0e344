/**
 * Generates packages/kernels/src/dct/unrolled.ts: straight-line orthonormal DCT-II and
 * DCT-III kernels for the power-of-two chunk sizes 2..256.
 *
 * Run: node --import tsx packages/kernels/scripts/gen-dct.ts
 *
 * The factorisation is Byeong Gi Lee's (1984) recursive split, as in Nayuki's
 * "fast discrete cosine transform" pages: one size-n transform becomes two size-n/2
 * transforms plus n/2 multiplications, so a chunk costs O(c log c) operations instead of
 * the c² of a matrix-vector product. Loops and tables are 8-10x slower in V8 than
 * straight-line code with the constants inlined, which is why we unroll.
 *
 * Orthonormal scaling is folded into the constants rather than applied as a final pass:
 * every output of a Lee stage except output 0 comes through a "beta" branch that already
 * multiplies by 1/(2cos θ), so the uniform √(2/c) factor rides on those constants for free
 * and only coefficient 0 needs one extra multiplication by √(1/c).
 *
 * Constants come from Math.cos, which V8 implements with its own fdlibm port, so the
 * emitted text is identical on every platform (a test regenerates and compares).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Chunk sizes that get a generated kernel. */
export const UNROLLED_SIZES: readonly number[] = [2, 4, 8, 16, 32, 64, 128, 256];

/** Shortest round-trip text of a double, so the literal is exactly the computed constant. */
function lit(x: number): string {
  const s = String(x);
  return x < 0 ? `(${s})` : s;
}

class Emitter {
  readonly lines: string[] = [];
  private next = 0;
  fresh(expr: string): string {
    const name = `t${this.next++}`;
    this.lines.push(`  const ${name} = ${expr};`);
    return name;
  }
}

/**
 * Lee's DCT-II on named inputs. Output 0 is scaled by s0 and every other output by s.
 * The unscaled stage computes X[k] = Σ x[i]·cos(π(i+½)k/n).
 */
function forward(e: Emitter, x: readonly string[], s0: number, s: number): string[] {
  const n = x.length;
  if (n === 1) return s0 === 1 ? [x[0]] : [e.fresh(`${x[0]} * ${lit(s0)}`)];
  const half = n / 2;
  const alpha: string[] = [];
  const beta: string[] = [];
  for (let i = 0; i < half; i++) {
    alpha.push(e.fresh(`${x[i]} + ${x[n - 1 - i]}`));
    const k = s / (2 * Math.cos(((i + 0.5) * Math.PI) / n));
    beta.push(e.fresh(`(${x[i]} - ${x[n - 1 - i]}) * ${lit(k)}`));
  }
  // Even outputs keep this stage's scales; the odd outputs' scale s is already in beta.
  const a = forward(e, alpha, s0, s);
  const b = forward(e, beta, 1, 1);
  const out: string[] = new Array<string>(n);
  for (let i = 0; i < half - 1; i++) {
    out[2 * i] = a[i];
    out[2 * i + 1] = e.fresh(`${b[i]} + ${b[i + 1]}`);
  }
  out[n - 2] = a[half - 1];
  out[n - 1] = b[half - 1];
  return out;
}

/**
 * Lee's DCT-III on named inputs, with input 0 scaled by t0 and every other input by t.
 * The unscaled stage computes y[i] = Σ X[k]·cos(π(i+½)k/n) (X[0] at full weight).
 */
function inverse(e: Emitter, X: readonly string[], t0: number, t: number): string[] {
  const n = X.length;
  if (n === 1) return t0 === 1 ? [X[0]] : [e.fresh(`${X[0]} * ${lit(t0)}`)];
  const half = n / 2;
  const alpha: string[] = [X[0]];
  const beta: string[] = [X[1]];
  for (let i = 1; i < half; i++) {
    alpha.push(X[2 * i]);
    beta.push(e.fresh(`${X[2 * i - 1]} + ${X[2 * i + 1]}`));
  }
  const a = inverse(e, alpha, t0, t);
  // Every beta input has scale t, so it rides on the 1/(2cos θ) constant below.
  const b = inverse(e, beta, 1, 1);
  const out: string[] = new Array<string>(n);
  for (let i = 0; i < half; i++) {
    const k = t / (2 * Math.cos(((i + 0.5) * Math.PI) / n));
    const y = e.fresh(`${b[i]} * ${lit(k)}`);
    out[i] = e.fresh(`${a[i]} + ${y}`);
    out[n - 1 - i] = e.fresh(`${a[i]} - ${y}`);
  }
  return out;
}

/**
 * Largest chunk emitted as one straight-line body. TurboFan declines to optimise the
 * 256-point body (it stays in the interpreter, ~20x slower), so bigger chunks run one Lee
 * stage as a loop and hand both halves to straight-line helpers.
 */
const MAX_STRAIGHT = 128;

type Dir = 'Forward' | 'Inverse';

const KERNEL_PARAMS =
  'src: Float32Array, srcOff: number, srcStride: number, dst: Float32Array, dstOff: number, dstStride: number';

/** Straight-line body: reads n inputs into locals, runs the Lee recursion, writes n outputs. */
function straightBody(
  n: number,
  dir: Dir,
  s0: number,
  s: number,
  read: (i: number) => string[],
  write: (i: number, v: string) => string[],
): string[] {
  const e = new Emitter();
  const lines: string[] = [];
  const inputs: string[] = [];
  // Every input is read before any output is written, so dst may alias src.
  for (let i = 0; i < n; i++) {
    inputs.push(`x${i}`);
    lines.push(...read(i));
  }
  const out = dir === 'Forward' ? forward(e, inputs, s0, s) : inverse(e, inputs, s0, s);
  lines.push(...e.lines);
  for (let i = 0; i < n; i++) lines.push(...write(i, out[i]));
  return lines;
}

/** Reads and writes through running pointers: one add per access instead of a multiply. */
function stridedBody(n: number, dir: Dir, s0: number, s: number): string[] {
  return [
    '  let p = srcOff;',
    ...straightBody(
      n,
      dir,
      s0,
      s,
      (i) => [`  const x${i} = src[p];`, ...(i < n - 1 ? ['  p += srcStride;'] : [])],
      (i, v) => [...(i === 0 ? ['  let q = dstOff;'] : []), `  dst[q] = ${v};`, ...(i < n - 1 ? ['  q += dstStride;'] : [])],
    ),
  ];
}

function doc(n: number, dir: Dir): string {
  return `/** Orthonormal ${dir === 'Forward' ? 'DCT-II' : 'DCT-III (inverse DCT-II)'} of one ${n}-point chunk. */`;
}

function constTable(name: string, xs: number[]): string {
  return `const ${name} = new Float64Array([\n${xs.map((x) => `  ${String(x)},`).join('\n')}\n]);`;
}

/** A public chunk kernel small enough to be one straight-line body. */
function emitStraightKernel(n: number, dir: Dir): string {
  return [
    doc(n, dir),
    `export function dct${n}${dir}(${KERNEL_PARAMS}): void {`,
    ...stridedBody(n, dir, Math.sqrt(1 / n), Math.sqrt(2 / n)),
    '}',
  ].join('\n');
}

/** An in-place helper on float64 scratch, with output (forward) or input (inverse) scales s0, s. */
function emitHelper(name: string, n: number, dir: Dir, s0: number, s: number): string {
  return [
    `function ${name}(S: Float64Array, off: number): void {`,
    ...straightBody(
      n,
      dir,
      s0,
      s,
      (i) => [`  const x${i} = S[off + ${i}];`],
      (i, v) => [`  S[off + ${i}] = ${v};`],
    ),
    '}',
  ].join('\n');
}

/**
 * A public kernel for n > MAX_STRAIGHT: the top Lee stage as loops over a float64 scratch
 * (so intermediates keep double precision), the two halves as straight-line helpers.
 */
function emitSplitKernel(n: number, dir: Dir): string {
  const half = n / 2;
  const s0 = Math.sqrt(1 / n);
  const s = Math.sqrt(2 / n);
  const ks: number[] = [];
  for (let i = 0; i < half; i++) ks.push(s / (2 * Math.cos(((i + 0.5) * Math.PI) / n)));
  const tag = `${n}${dir}`;
  const parts: string[] = [];
  parts.push(`const SCRATCH_${tag} = new Float64Array(${n});`);
  parts.push(constTable(`K_${tag}`, ks));
  // The even half keeps this stage's scales (s0, s); the odd half's s rides on K.
  parts.push(emitHelper(`half${tag}Even`, half, dir, s0, s));
  parts.push(emitHelper(`half${tag}Odd`, half, dir, 1, 1));
  const body: string[] = [doc(n, dir), `export function dct${tag}(${KERNEL_PARAMS}): void {`];
  body.push(`  const S = SCRATCH_${tag};`);
  body.push(`  const K = K_${tag};`);
  if (dir === 'Forward') {
    body.push(
      `  for (let i = 0, p = srcOff, r = srcOff + ${n - 1} * srcStride; i < ${half}; i++, p += srcStride, r -= srcStride) {`,
      '    const x = src[p];',
      '    const y = src[r];',
      '    S[i] = x + y;',
      `    S[${half} + i] = (x - y) * K[i];`,
      '  }',
      `  half${tag}Even(S, 0);`,
      `  half${tag}Odd(S, ${half});`,
      `  for (let i = 0, q = dstOff; i < ${half - 1}; i++, q += 2 * dstStride) {`,
      '    dst[q] = S[i];',
      `    dst[q + dstStride] = S[${half} + i] + S[${half + 1} + i];`,
      '  }',
      `  dst[dstOff + ${n - 2} * dstStride] = S[${half - 1}];`,
      `  dst[dstOff + ${n - 1} * dstStride] = S[${n - 1}];`,
    );
  } else {
    body.push(
      `  S[0] = src[srcOff];`,
      `  S[${half}] = src[srcOff + srcStride];`,
      `  for (let i = 1, p = srcOff + 2 * srcStride; i < ${half}; i++, p += 2 * srcStride) {`,
      '    S[i] = src[p];',
      `    S[${half} + i] = src[p - srcStride] + src[p + srcStride];`,
      '  }',
      `  half${tag}Even(S, 0);`,
      `  half${tag}Odd(S, ${half});`,
      `  for (let i = 0, q = dstOff, r = dstOff + ${n - 1} * dstStride; i < ${half}; i++, q += dstStride, r -= dstStride) {`,
      '    const x = S[i];',
      `    const y = S[${half} + i] * K[i];`,
      '    dst[q] = x + y;',
      '    dst[r] = x - y;',
      '  }',
    );
  }
  body.push('}');
  parts.push(body.join('\n'));
  return parts.join('\n\n');
}

function emitKernel(n: number, dir: Dir): string {
  return n <= MAX_STRAIGHT ? emitStraightKernel(n, dir) : emitSplitKernel(n, dir);
}

/** The full text of src/dct/unrolled.ts. */
export function emitDctModule(): string {
  const parts: string[] = [];
  parts.push(
    [
      '// GENERATED FILE: do not edit by hand.',
      '// Produced by packages/kernels/scripts/gen-dct.ts; regenerate with',
      '//   node --import tsx packages/kernels/scripts/gen-dct.ts',
      '// packages/kernels/test/dct-generated.test.ts fails if this file differs from the generator output.',
      '/* eslint-disable */',
      "import type { ChunkKernel } from './chunk-kernel.js';",
      '',
    ].join('\n'),
  );
  for (const n of UNROLLED_SIZES) {
    parts.push(emitKernel(n, 'Forward'));
    parts.push('');
    parts.push(emitKernel(n, 'Inverse'));
    parts.push('');
  }
  parts.push('/** Generated forward kernels by chunk size. */');
  parts.push('export const UNROLLED_FORWARD: ReadonlyMap<number, ChunkKernel> = new Map<number, ChunkKernel>([');
  for (const n of UNROLLED_SIZES) parts.push(`  [${n}, dct${n}Forward],`);
  parts.push(']);');
  parts.push('');
  parts.push('/** Generated inverse kernels by chunk size. */');
  parts.push('export const UNROLLED_INVERSE: ReadonlyMap<number, ChunkKernel> = new Map<number, ChunkKernel>([');
  for (const n of UNROLLED_SIZES) parts.push(`  [${n}, dct${n}Inverse],`);
  parts.push(']);');
  parts.push('');
  return parts.join('\n');
}

/** Where the generated module lives, relative to this script. */
export const UNROLLED_PATH = fileURLToPath(new URL('../src/dct/unrolled.ts', import.meta.url));

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(UNROLLED_PATH, emitDctModule());
  console.log(`wrote ${UNROLLED_PATH}`);
}
