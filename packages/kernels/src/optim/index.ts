/**
 * Optimiser steps on flat Float32Array parameters, updated in place with caller-owned
 * state: local SGD/AdamW, FedAvgM and DiLoCo's outer Nesterov step, FedOpt server
 * updates, and sign descent (DeMo).
 */
export {
  sgdStep,
  momentumStep,
  DILOCO_OUTER_LR,
  DILOCO_OUTER_MOMENTUM,
  FEDAVGM_SERVER_LR,
  FEDAVGM_MOMENTUM,
  type SgdOptions,
  type MomentumOptions,
} from './sgd.js';
export { adamwStep, ADAMW_DEFAULTS, type AdamWOptions } from './adamw.js';
export { signStep } from './sign.js';
export { fedOptStep, FEDOPT_DEFAULTS, type FedOptOptions, type FedOptVariant } from './fedopt.js';
export { clipGradNorm } from './clip.js';
