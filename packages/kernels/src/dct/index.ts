/**
 * DeMo's transform and compression kernels (spec section 4): chunk-size rule, orthonormal
 * chunked DCT (1-D and separable 2-D, block-major), top-k by magnitude, and decoding.
 */
export { demoChunkSize } from './chunk-size.js';
export { dctForward1d, dctInverse1d } from './dct1d.js';
export { blockMajorIndex, dctForward2d, dctInverse2d } from './dct2d.js';
export { topkChunks, topkIndexArray } from './topk.js';
export { dctForward2dTopk } from './dct-topk.js';
export { accumulateChunks, meanOfSelected, scatterChunks } from './scatter.js';
