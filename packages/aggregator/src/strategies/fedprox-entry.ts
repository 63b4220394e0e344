import { FedProx, type FedProxConfig } from './fedprox.js';
import { FEDAVG_PROPERTIES, checkFedAvgSection, fedAvgConfigOf, fedAvgForTrainers, fedAvgWarnings } from './fedavg-entry.js';
import { defineStrategy } from './entry.js';
import { nonNegative, section } from './schema.js';

export type FedProxSection = { readonly kind: 'fedprox' } & Omit<FedProxConfig, 'runId'>;

/** FedAvg's section plus μ; on the server it is FedAvg, for trainers a proximal term. */
export const FEDPROX_ENTRY = defineStrategy<FedProxSection>({
  kind: 'fedprox',
  pacing: 'rounds',
  schema: section('fedprox', ['mu'], { ...FEDAVG_PROPERTIES, mu: nonNegative, partialWork: { type: 'boolean' } }),
  create: (global, s, ctx) => new FedProx(global, fedAvgConfigOf(s, ctx.runId)),
  // partialWork asks for a deadline: without one there is nothing to stop early for.
  check: (s, ctx) => [...checkFedAvgSection(s, ctx), ...(s.partialWork === true && s.deadlineS === undefined ? [`${ctx.path}.partialWork needs ${ctx.path}.deadlineS: trainers stop their local work at the round's deadline`] : [])],
  restore: (bytes, s) => FedProx.restore(bytes, s === undefined ? undefined : { deadlineS: s.deadlineS }),
  localTraining: (s) => ({ proximalMu: s.mu, ...(s.partialWork === true ? { partialWork: true } : {}) }),
  forTrainers: fedAvgForTrainers,
  waitS: (s) => s.deadlineS,
  warnings: fedAvgWarnings,
});
