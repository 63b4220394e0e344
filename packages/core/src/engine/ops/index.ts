/**
 * The op registry's public functions. Importing this module registers every op (each module
 * calls defineOp at load), so registeredOps() lists them all.
 */
export { add, sub, mul, div, relu, gelu, tanh, sigmoid, exp, log, where, dropout, fillDropoutMask } from './elementwise.js';
export { matmul, gemm, type GemmAttrs } from './linalg.js';
export { reduceSum, reduceMean, softmax, logSoftmax, softmaxCrossEntropy, layerNorm } from './reduce.js';
export { reshape, flatten, transpose, concat, slice, gather } from './shape-ops.js';
export { conv2d, maxPool2d, avgPool2d, globalAvgPool, type Conv2dOptions, type PoolOptions, type MaxPoolGradient } from './conv.js';
