import type { ParamSet } from '@fednode/core';
import type { AssemblyMethod } from '../merge/method-options.js';
import type { MoeMethod } from './oneshot-merge.js';

/** An assembly method with its options, as a one-shot section spells it. */
export type AssemblyRequest = MoeMethod;

/**
 * Builds a one-shot run's model from the received models when weight arithmetic is not
 * enough: Branch-Train-MiX makes the specialists the experts of a mixture (a model of another
 * task) and trains its routers. The strategy only decides when and with what; the runtime
 * supplies the assembler because it owns the engine and the data.
 */
export interface ModelAssembler {
  /** The methods this assembler builds. */
  readonly methods: readonly AssemblyMethod[];
  /**
   * `inputs`: the models in merge order; `weights`: their example counts (or 1 each), for an
   * assembler that weighs them. `signal`: stop early (rejecting) when it aborts.
   */
  assemble(method: AssemblyRequest, inputs: readonly ParamSet[], weights: readonly number[], signal?: AbortSignal): Promise<ParamSet>;
}
