import type { ParamSet } from '@fednode/core';
import { DeltaAccumulator } from '../accumulator.js';
import { newServerOptimizerState, serverStep, type ServerOptimizerConfig, type ServerOptimizerState } from '../server-optimizer.js';
import { paramsFromState, paramsToArrays, requireArray, type SavedState } from '../state.js';

/** What FedAvg and FedBuff share: the global model, the running sums, the server optimiser. */
export class ServerModel {
  readonly params: ParamSet;
  readonly acc: DeltaAccumulator;
  readonly opt: ServerOptimizerState;
  private readonly server: ServerOptimizerConfig;

  constructor(global: ParamSet, server: ServerOptimizerConfig = { kind: 'sgd' }) {
    this.params = global.clone();
    this.server = server;
    this.acc = new DeltaAccumulator(this.params);
    this.opt = newServerOptimizerState(server, global.size);
  }

  /** One server step with a mean delta; `covered` null when every element was covered. */
  apply(mean: Float32Array, covered: Uint8Array | null): void {
    serverStep(this.server, this.opt, this.params.data, mean, covered);
  }

  /** The slice-aware mean of the accumulated deltas through the server step; returns the covered fraction. */
  applyAccumulated(): number {
    const mean = new Float32Array(this.params.size);
    const { covered, mask } = this.acc.mean(mean);
    this.apply(mean, mask);
    return covered / mean.length;
  }

  arrays(): [string, Float32Array][] {
    const a: [string, Float32Array][] = [
      ...paramsToArrays(this.params, 'global.'),
      ['acc.sum', this.acc.sum],
      ['acc.cover', this.acc.cover],
      ['acc.tensorCover', this.acc.tensorCover],
    ];
    if (this.opt.m) a.push(['opt.m', this.opt.m]);
    if (this.opt.v) a.push(['opt.v', this.opt.v]);
    return a;
  }

  json(): ModelJson {
    return { specs: this.params.specs, count: this.acc.count, optSteps: this.opt.steps };
  }

  static restore(s: SavedState, j: ModelJson, server: ServerOptimizerConfig | undefined): ServerModel {
    const m = new ServerModel(paramsFromState(s, j.specs, 'global.'), server);
    const n = m.params.size;
    m.acc.sum.set(requireArray(s, 'acc.sum', n));
    m.acc.cover.set(requireArray(s, 'acc.cover', n));
    m.acc.tensorCover.set(requireArray(s, 'acc.tensorCover', j.specs.length));
    m.acc.count = j.count;
    if (m.opt.m) m.opt.m.set(requireArray(s, 'opt.m', n));
    if (m.opt.v) m.opt.v.set(requireArray(s, 'opt.v', n));
    m.opt.steps = j.optSteps;
    return m;
  }
}

export interface ModelJson {
  readonly specs: ParamSet['specs'];
  readonly count: number;
  readonly optSteps: number;
}
