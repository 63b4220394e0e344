import { FedAvg, type FedAvgConfig } from './fedavg.js';
import { defineStrategy, type CheckContext, type FittedSection } from './entry.js';
import { GUARDS_SCHEMA, SERVER_SCHEMA, int, nonNegative, num, obj, pos, section } from './schema.js';

export type FedAvgSection = { readonly kind: 'fedavg' } & Omit<FedAvgConfig, 'runId'>;

/** FedAvg's keys (also FedProx's, which is FedAvg on the server). */
export const FEDAVG_PROPERTIES = {
  deadlineS: pos,
  cohort: int(1),
  backupWorkers: int(0),
  minParticipants: int(1),
  weighting: { enum: ['examples', 'uniform'] },
  server: SERVER_SCHEMA,
  robust: obj(['kind'], { kind: { enum: ['median', 'trimmed-mean', 'krum', 'multi-krum'] }, beta: num, f: int(0), m: int(1) }),
  dp: obj(['noiseMultiplier', 'clipNorm'], { noiseMultiplier: nonNegative, clipNorm: pos, testSeed: { type: 'integer' } }),
  ...GUARDS_SCHEMA,
} as const;

type FedAvgLike = { readonly kind: string } & Omit<FedAvgConfig, 'runId'>;

/** FedAvg's cross-field rules (FedProx's too). */
export function checkFedAvgSection(s: FedAvgLike, ctx: CheckContext): string[] {
  const p = ctx.path;
  const out: string[] = [];
  const b = s.backupWorkers ?? 0;
  if (ctx.perEpoch === undefined) {
    // Daemons: trainers come as they will, so only the section says when a round ends.
    if (b > 0 && s.cohort === undefined) out.push(`${p}.backupWorkers needs ${p}.cohort`);
    if (s.cohort === undefined && s.deadlineS === undefined) out.push(`${p}: ${s.kind} needs a cohort or a deadlineS to know when a round ends`);
  } else if (b >= ctx.perEpoch.count) {
    out.push(`${p}.backupWorkers ${b} leaves nobody of ${ctx.perEpoch.setting} ${ctx.perEpoch.count}`);
  }
  if (s.cohort !== undefined && b >= s.cohort) out.push(`${p}.backupWorkers ${b} leaves nobody of a cohort of ${s.cohort}`);
  if (s.cohort !== undefined && s.minParticipants !== undefined && s.minParticipants > s.cohort) out.push(`${p}.minParticipants ${s.minParticipants} is more than ${p}.cohort ${s.cohort}`);
  if (s.robust !== undefined && s.dp !== undefined) out.push(`${p}: choose robust or dp, not both`);
  return out;
}

/** A FedAvg section for a few real trainers: the cohort is the simulated one, capped at the trainers there are. */
export function fedAvgForTrainers<S extends FedAvgLike>(s: S, o: { readonly trainers: number; readonly perEpoch: number }): FittedSection {
  const { runId: _runId, ...rest } = s as S & { readonly runId?: string };
  const cohort = Math.min(s.cohort ?? o.perEpoch, o.trainers);
  const backupWorkers = s.backupWorkers === undefined ? undefined : Math.min(s.backupWorkers, cohort - 1);
  const minParticipants = s.minParticipants === undefined ? undefined : Math.min(s.minParticipants, cohort);
  // Without a deadline a round waits for its whole cohort (a trainer that dies stalls the run:
  // the caller's stall timeout catches that).
  const section = { ...rest, cohort, ...(backupWorkers === undefined ? {} : { backupWorkers }), ...(minParticipants === undefined ? {} : { minParticipants }) };
  const notes = s.deadlineS === undefined ? [] : [`strategy.deadlineS ${s.deadlineS} is wall seconds here, not virtual`];
  return { section, notes };
}

/** The FedAvg config of a section (its keys less `kind`), guarding `runId` when the runtime names one. */
/** DP with a seeded noise source is a test setting: the noise can be recomputed and subtracted. */
export function fedAvgWarnings<S extends FedAvgLike>(s: S): string[] {
  const dp = (s as { readonly dp?: { readonly testSeed?: number } }).dp;
  return dp?.testSeed === undefined ? [] : ['strategy.dp.testSeed is set: the DP noise comes from a seed, not a cryptographic source, so anyone who knows the seed can remove it; this run has NO differential privacy (tests only)'];
}

export function fedAvgConfigOf<S extends FedAvgLike>(s: S, runId: string | undefined): Omit<S, 'kind'> & { runId?: string } {
  const { kind: _kind, ...config } = s;
  return runId === undefined ? config : { ...config, runId };
}

export const FEDAVG_ENTRY = defineStrategy<FedAvgSection>({
  kind: 'fedavg',
  pacing: 'rounds',
  schema: section('fedavg', [], FEDAVG_PROPERTIES),
  check: checkFedAvgSection,
  create: (global, s, ctx) => new FedAvg(global, fedAvgConfigOf(s, ctx.runId)),
  restore: (bytes, s) => FedAvg.restore(bytes, s === undefined ? undefined : { deadlineS: s.deadlineS }),
  localTraining: () => ({}),
  forTrainers: fedAvgForTrainers,
  waitS: (s) => s.deadlineS,
  warnings: fedAvgWarnings,
});
