import type { ParamSet } from '@fednode/core';
import { AggregatorError } from '../errors.js';
import { FedAvg, type FedAvgConfig } from './fedavg.js';

export interface FedProxConfig extends FedAvgConfig {
  /** μ of the proximal term (μ/2)·‖w − w_global‖² each trainer adds to its local loss. */
  readonly mu: number;
  /** Trainers send the partial work done by the deadline instead of missing the round (see LocalTraining). */
  readonly partialWork?: boolean;
}

/**
 * FedProx (Li et al., 2020): FedAvg on the server; the difference is in the trainers' local
 * loss, which reaches them through the registry's `localTraining` ({ proximalMu: mu }).
 * Saved as kind "fedprox" with μ in its config, so a restored run keeps telling trainers μ.
 */
export class FedProx extends FedAvg {
  readonly mu: number;

  constructor(global: ParamSet, config: FedProxConfig, start: { version?: number; round?: number } = {}) {
    if (!(Number.isFinite(config.mu) && config.mu >= 0)) throw new AggregatorError('AGG_CONFIG', `mu is ${config.mu}, expected a finite number >= 0`);
    super(global, config, start, 'fedprox');
    this.mu = config.mu;
  }

  static override restore(bytes: Uint8Array, timing?: Pick<FedAvgConfig, 'deadlineS'>): FedProx {
    // Its saved config is a FedProxConfig: FedProx saved it, with its μ.
    return FedAvg.restoreAs(bytes, 'fedprox', timing, (g, c, st) => new FedProx(g, c as FedProxConfig, st));
  }
}
