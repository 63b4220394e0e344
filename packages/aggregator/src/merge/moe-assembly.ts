import { ParamSet, type TensorSpec } from '@fednode/core';
import { Rng } from '@fednode/kernels';
import { mergeAverage } from './average.js';
import { expectModels } from './checks.js';
import { MergeError } from './errors.js';

export interface ExpertAssemblyOptions {
  /** Seed of the router's initial weights (normal, `routerStd`), default 0. */
  seed?: number;
  /** Standard deviation of the router's initial weights, default 0.02 (the transformer's init). */
  routerStd?: number;
}

/** Per MoE tensor, the dense tensor each expert comes from. */
const EXPERT_SOURCES: readonly [string, string][] = [
  ['moe.fc1.weight', 'ff.fc1.weight'],
  ['moe.fc1.bias', 'ff.fc1.bias'],
  ['moe.fc2.weight', 'ff.fc2.weight'],
  ['moe.fc2.bias', 'ff.fc2.bias'],
];

/**
 * Branch-Train-MiX's assembly step: dense specialists, each trained on its own domain from
 * one dense base, become the experts of a mixture-of-experts transformer laid out as
 * `moeSpecs`. Expert e of every block's feed-forward is specialist e's feed-forward
 * (`blocks.l.ff.*` → index e of `blocks.l.moe.*`); every other tensor (embeddings,
 * attention, LayerNorms, head) is the specialists' plain average; the routers start from a
 * small seeded normal and are meant to be trained afterwards on mixed data.
 *
 * @throws MergeError MERGE_ARGUMENT unless there are as many specialists as experts;
 *   MERGE_LAYOUT if the specialists' layouts differ, or a tensor of `moeSpecs` has no
 *   source of its shape in them.
 */
export function assembleExperts(specialists: readonly ParamSet[], moeSpecs: readonly TensorSpec[], opts: ExpertAssemblyOptions = {}): ParamSet {
  expectModels(specialists, 'specialists');
  const shared = mergeAverage(specialists);
  const out = ParamSet.zeros(moeSpecs);
  const rng = new Rng(opts.seed ?? 0);
  const std = opts.routerStd ?? 0.02;
  for (const spec of moeSpecs) {
    const dst = out.tensor(spec.name);
    if (/\.moe\.router\.weight$/.test(spec.name)) {
      const experts = spec.shape[spec.shape.length - 1];
      if (experts !== specialists.length) {
        throw new MergeError('MERGE_ARGUMENT', `the mixture has ${experts} experts, but ${specialists.length} specialists were given`, 'specialists');
      }
      rng.fillNormal(dst, 0, std);
      continue;
    }
    const expert = EXPERT_SOURCES.find(([moe]) => spec.name.endsWith(`.${moe}`));
    if (expert !== undefined) {
      const source = spec.name.slice(0, -expert[0].length) + expert[1];
      expectSource(shared, source, spec.shape.slice(1), spec.name);
      if (spec.shape[0] !== specialists.length) {
        throw new MergeError('MERGE_ARGUMENT', `"${spec.name}" holds ${spec.shape[0]} experts, but ${specialists.length} specialists were given`, 'specialists');
      }
      const size = dst.length / spec.shape[0];
      specialists.forEach((m, e) => dst.set(m.tensor(source), e * size));
      continue;
    }
    expectSource(shared, spec.name, spec.shape, spec.name);
    dst.set(shared.tensor(spec.name));
  }
  return out;
}

function expectSource(dense: ParamSet, name: string, shape: readonly number[], target: string): void {
  if (!dense.has(name)) throw new MergeError('MERGE_LAYOUT', `the specialists have no tensor "${name}" to fill "${target}" (are they dense transformers?)`, target);
  const got = dense.spec(name).shape;
  if (got.join(',') !== shape.join(',')) {
    throw new MergeError('MERGE_LAYOUT', `"${name}" has shape [${got.join(', ')}], "${target}" needs [${shape.join(', ')}]`, target);
  }
}
