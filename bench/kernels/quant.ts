import { againstCopy, fillSignal, type Bench } from '../harness.js';
import {
  INT8_DEFAULT_BLOCK,
  int8ScaleCount,
  quantiseInt8,
  dequantiseInt8,
  packFloat16,
} from '@fednode/kernels';

const N = 64 * 1024 * 1024; // 64M float32 elements = 256 MB
const BLOCK = INT8_DEFAULT_BLOCK;

interface Buffers {
  x: Float32Array;
  q: Int8Array;
  scales: Float32Array;
  out: Float32Array;
  half: Uint16Array;
}

/** Made on first use so other benchmark groups do not pay for ~700 MB of buffers. */
let bufs: Buffers | null = null;
function buffers(): Buffers {
  if (bufs === null) {
    const x = fillSignal(new Float32Array(N), 3);
    const q = new Int8Array(N);
    const scales = new Float32Array(int8ScaleCount(N, BLOCK));
    quantiseInt8(x, BLOCK, q, scales); // decode needs real codes
    bufs = { x, q, scales, out: new Float32Array(N), half: new Uint16Array(N) };
  }
  return bufs;
}

export const quantBenches: Bench[] = [
  {
    group: 'kernels',
    name: 'kernels.int8.encode',
    run: () => {
      const { x, q, scales } = buffers();
      return againstCopy('kernels.int8.encode', N * 4, () => quantiseInt8(x, BLOCK, q, scales), {
        elements: N,
        block: BLOCK,
        target_ratio: 0.12,
      });
    },
  },
  {
    group: 'kernels',
    name: 'kernels.int8.decode',
    run: () => {
      const { q, scales, out } = buffers();
      return againstCopy('kernels.int8.decode', N * 4, () => dequantiseInt8(q, scales, BLOCK, out), {
        elements: N,
        block: BLOCK,
        target_ratio: 0.25,
      });
    },
  },
  {
    group: 'kernels',
    name: 'kernels.fp16.encode',
    run: () => {
      const { x, half } = buffers();
      const r = againstCopy('kernels.fp16.encode', N * 4, () => packFloat16(x, half), { elements: N });
      bufs = null; // last quant bench: let the buffers go
      return r;
    },
  },
];
