/**
 * @fednode/kernels: numeric kernels on typed arrays. No dependencies, no I/O.
 * Every kernel writes into caller-provided buffers and allocates nothing in its loops.
 */
export { KernelError, type KernelErrorCode } from './errors.js';
export * from './quant/index.js';
export * from './dct/index.js';
export * from './reduce/index.js';
export * from './optim/index.js';
export * from './random/index.js';
