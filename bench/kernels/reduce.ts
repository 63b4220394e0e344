import { againstCopy, fillSignal, type Bench } from '../harness.js';
import {
  weightedSum,
  coordinateMedian,
  trimmedMean,
  maskedAccumulate,
  coverageAverage,
  DEFAULT_TRIM_BETA,
} from '@fednode/kernels';

const M = 1024 * 1024;
const WSUM_ARRAYS = 10;
const WSUM_LEN = 4 * M;
const ROBUST_ARRAYS = 20;
const ROBUST_LEN = M;
const MASKED_UPDATES = 10;
const MASKED_LEN = 4 * M;

function signals(count: number, len: number, seed: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => fillSignal(new Float32Array(len), seed + i));
}

// Buffers are made on first use so other benchmark groups do not pay for them.
let wsum: { xs: Float32Array[]; w: Float64Array; out: Float32Array } | null = null;
let robust: { xs: Float32Array[]; out: Float32Array } | null = null;
let masked: {
  xs: Float32Array[];
  masks: Uint8Array[];
  sum: Float32Array;
  weightSum: Float32Array;
  fallback: Float32Array;
  out: Float32Array;
} | null = null;

function wsumBuffers(): NonNullable<typeof wsum> {
  if (wsum === null) {
    const w = new Float64Array(WSUM_ARRAYS);
    for (let i = 0; i < WSUM_ARRAYS; i++) w[i] = (i + 1) / ((WSUM_ARRAYS * (WSUM_ARRAYS + 1)) / 2);
    wsum = { xs: signals(WSUM_ARRAYS, WSUM_LEN, 11), w, out: new Float32Array(WSUM_LEN) };
  }
  return wsum;
}

function robustBuffers(): NonNullable<typeof robust> {
  if (robust === null) robust = { xs: signals(ROBUST_ARRAYS, ROBUST_LEN, 41), out: new Float32Array(ROBUST_LEN) };
  return robust;
}

function maskedBuffers(): NonNullable<typeof masked> {
  if (masked === null) {
    let s = 12345;
    const masks = Array.from({ length: MASKED_UPDATES }, () => {
      const m = new Uint8Array(MASKED_LEN);
      for (let j = 0; j < MASKED_LEN; j++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        m[j] = s >>> 31; // about half of the elements covered, in no pattern
      }
      return m;
    });
    masked = {
      xs: signals(MASKED_UPDATES, MASKED_LEN, 71),
      masks,
      sum: new Float32Array(MASKED_LEN),
      weightSum: new Float32Array(MASKED_LEN),
      fallback: fillSignal(new Float32Array(MASKED_LEN), 99),
      out: new Float32Array(MASKED_LEN),
    };
  }
  return masked;
}

export const reduceBenches: Bench[] = [
  {
    group: 'kernels',
    name: 'kernels.wsum',
    run: () => {
      const { xs, w, out } = wsumBuffers();
      return againstCopy('kernels.wsum', WSUM_ARRAYS * WSUM_LEN * 4, () => weightedSum(xs, w, out), {
        arrays: WSUM_ARRAYS,
        elements: WSUM_LEN,
        target_ratio: 0.4,
      });
    },
  },
  {
    group: 'kernels',
    name: 'kernels.median',
    run: () => {
      const { xs, out } = robustBuffers();
      return againstCopy('kernels.median', ROBUST_ARRAYS * ROBUST_LEN * 4, () => coordinateMedian(xs, out), {
        arrays: ROBUST_ARRAYS,
        elements: ROBUST_LEN,
      });
    },
  },
  {
    group: 'kernels',
    name: 'kernels.trimmed_mean',
    run: () => {
      const { xs, out } = robustBuffers();
      return againstCopy(
        'kernels.trimmed_mean',
        ROBUST_ARRAYS * ROBUST_LEN * 4,
        () => trimmedMean(xs, DEFAULT_TRIM_BETA, out),
        { arrays: ROBUST_ARRAYS, elements: ROBUST_LEN, beta: DEFAULT_TRIM_BETA },
      );
    },
  },
  {
    group: 'kernels',
    name: 'kernels.masked_avg',
    run: () => {
      const { xs, masks, sum, weightSum, fallback, out } = maskedBuffers();
      // Input bytes: each update's floats plus its mask bytes.
      return againstCopy(
        'kernels.masked_avg',
        MASKED_UPDATES * MASKED_LEN * 5,
        () => {
          sum.fill(0);
          weightSum.fill(0);
          for (let i = 0; i < MASKED_UPDATES; i++) maskedAccumulate(sum, weightSum, xs[i], i + 1, masks[i]);
          coverageAverage(sum, weightSum, fallback, out);
        },
        { updates: MASKED_UPDATES, elements: MASKED_LEN, mask_density: 0.5 },
      );
    },
  },
];
