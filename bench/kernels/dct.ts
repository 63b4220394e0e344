import { againstCopy, fillSignal, type Bench } from '../harness.js';
import { dctForward1d, dctForward2d, dctInverse1d, topkChunks, topkIndexArray } from '@fednode/kernels';

const N = 16 * 1024 * 1024; // 16M floats, 4096×4096 for the 2-D case
const SIDE = 4096;

/** Buffers are made on first use so other benchmark groups do not pay for 128 MB. */
let bufs: { src: Float32Array; dst: Float32Array } | null = null;
function buffers(): { src: Float32Array; dst: Float32Array } {
  if (bufs === null) bufs = { src: fillSignal(new Float32Array(N), 7), dst: new Float32Array(N) };
  return bufs;
}

export const dctBenches: Bench[] = [
  {
    group: 'kernels',
    name: 'kernels.dct64.forward',
    run: () => {
      const { src, dst } = buffers();
      return againstCopy('kernels.dct64.forward', N * 4, () => dctForward1d(src, 64, dst), { elements: N, chunk: 64 });
    },
  },
  {
    group: 'kernels',
    name: 'kernels.dct64.inverse',
    run: () => {
      const { src, dst } = buffers();
      return againstCopy('kernels.dct64.inverse', N * 4, () => dctInverse1d(src, 64, dst), { elements: N, chunk: 64 });
    },
  },
  {
    group: 'kernels',
    name: 'kernels.dct64x64.forward',
    run: () => {
      const { src, dst } = buffers();
      return againstCopy('kernels.dct64x64.forward', N * 4, () => dctForward2d(src, SIDE, SIDE, 64, 64, dst), {
        rows: SIDE,
        cols: SIDE,
        tile: '64x64',
      });
    },
  },
  {
    group: 'kernels',
    name: 'kernels.topk64',
    run: () => {
      const { src } = buffers();
      const k = 8;
      const idx = topkIndexArray(64, (N / 64) * k);
      const val = new Float32Array((N / 64) * k);
      return againstCopy('kernels.topk64', N * 4, () => topkChunks(src, 64, k, idx, val), { elements: N, chunk: 64, k });
    },
  },
];
