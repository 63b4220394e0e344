/**
 * Side-by-side benchmark helpers. A benchmark times our code and a baseline on the same
 * bytes in the same run, alternating the two so both see the same machine noise, and
 * reports the ratio. Timing is the median of the repeats after one warm-up each.
 */
export interface Measure {
  name: string;
  value: number;
  unit: string;
}

export interface BenchResult extends Measure {
  baseline: Measure;
  /** value / baseline.value, both in the same unit. */
  ratio: number;
  /** Free-form context (sizes, milliseconds) for humans reading results.json. */
  detail?: Record<string, number | string>;
}

export interface Bench {
  /** Group used by `--only` (kernels, codec, aggregate, train, ...). */
  group: string;
  name: string;
  /** Why it cannot run on this machine (it is then skipped, with the reason), or null. */
  skip?: () => string | null;
  run(): BenchResult | Promise<BenchResult>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Median seconds of `fn` and of `baseline`, run alternately `repeats` times after a warm-up. */
export function timePair(fn: () => void, baseline: () => void, repeats = 7): { s: number; baseS: number } {
  fn();
  baseline();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < repeats; i++) {
    a.push(seconds(fn));
    b.push(seconds(baseline));
  }
  return { s: median(a), baseS: median(b) };
}

/**
 * Throughput of `fn` over `bytes` input bytes against a plain copy of a buffer of the same
 * size (`Float32Array.prototype.set`), both in GB/s.
 */
export function againstCopy(
  name: string,
  bytes: number,
  fn: () => void,
  detail: Record<string, number | string> = {},
  repeats = 7,
): BenchResult {
  const src = new Uint8Array(bytes);
  const dst = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) src[i] = i & 0xff; // touch every page
  const { s, baseS } = timePair(fn, () => dst.set(src), repeats);
  const gbps = bytes / s / 1e9;
  const baseGbps = bytes / baseS / 1e9;
  return {
    name,
    value: round(gbps),
    unit: 'GB/s',
    baseline: { name: 'copy', value: round(baseGbps), unit: 'GB/s' },
    ratio: round(gbps / baseGbps),
    detail: { ...detail, ms: round(s * 1e3), copy_ms: round(baseS * 1e3), bytes },
  };
}

/** As `againstCopy`, for work that completes asynchronously (worker threads, sockets). */
export async function againstCopyAsync(
  name: string,
  bytes: number,
  fn: () => Promise<unknown>,
  detail: Record<string, number | string> = {},
  repeats = 7,
): Promise<BenchResult> {
  const src = new Uint8Array(bytes);
  const dst = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) src[i] = i & 0xff;
  await fn();
  dst.set(src);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < repeats; i++) {
    let t0 = process.hrtime.bigint();
    await fn();
    a.push(Number(process.hrtime.bigint() - t0) / 1e9);
    t0 = process.hrtime.bigint();
    dst.set(src);
    b.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const s = median(a);
  const baseS = median(b);
  return {
    name,
    value: round(bytes / s / 1e9),
    unit: 'GB/s',
    baseline: { name: 'copy', value: round(bytes / baseS / 1e9), unit: 'GB/s' },
    ratio: round(baseS / s),
    detail: { ...detail, ms: round(s * 1e3), copy_ms: round(baseS * 1e3), bytes },
  };
}

export function round(x: number, digits = 4): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const p = Math.pow(10, digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return Math.round(x * p) / p;
}

/** Deterministic fill with values in [-1, 1) (a tiny LCG; benchmarks need no quality). */
export function fillSignal(a: Float32Array, seed = 1): Float32Array {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}
