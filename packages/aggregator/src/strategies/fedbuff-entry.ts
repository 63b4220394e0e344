import { FedBuff, type FedBuffConfig } from './fedbuff.js';
import { defineStrategy, type CheckContext } from './entry.js';
import { GUARDS_SCHEMA, SERVER_SCHEMA, int, num, obj, pos, prob, section } from './schema.js';

export type FedBuffSection = { readonly kind: 'fedbuff' } & Omit<FedBuffConfig, 'runId'>;

function checkFedBuffSection(s: FedBuffSection, ctx: CheckContext): string[] {
  const p = ctx.path;
  const out: string[] = [];
  if (s.fedAsync !== undefined && s.k !== 1) out.push(`${p}.fedAsync applies each update on arrival: ${p}.k must be 1`);
  if (ctx.perEpoch !== undefined && s.k > ctx.perEpoch.count) {
    out.push(`${p}.k ${s.k} is more than the ${ctx.perEpoch.count} clients in flight (${ctx.perEpoch.setting}): the buffer would never fill`);
  }
  return out;
}

export const FEDBUFF_ENTRY = defineStrategy<FedBuffSection>({
  kind: 'fedbuff',
  pacing: 'continuous',
  schema: section('fedbuff', ['k'], {
    k: int(1),
    flushS: pos,
    staleness: obj(['kind'], { kind: { enum: ['constant', 'polynomial', 'hinge', 'threshold'] }, a: num, b: num, cutoff: num, value: num }),
    stalenessNormalizeAt: int(0),
    exampleWeight: { enum: ['one', 'n', 'sqrt', 'log'] },
    maxStaleness: int(0),
    mean: { enum: ['count', 'weights'] },
    server: SERVER_SCHEMA,
    fedAsync: obj(['alpha'], { alpha: prob }),
    ...GUARDS_SCHEMA,
  }),
  check: checkFedBuffSection,
  create: (global, s, ctx) => {
    const { kind: _kind, ...config } = s;
    return new FedBuff(global, ctx.runId === undefined ? config : { ...config, runId: ctx.runId });
  },
  restore: (bytes, s) => FedBuff.restore(bytes, s === undefined ? undefined : { flushS: s.flushS }),
  localTraining: () => ({}),
  forTrainers: (s, o) => {
    const { runId: _runId, ...rest } = s as FedBuffSection & { readonly runId?: string };
    const k = Math.min(s.k, o.trainers);
    return { section: { ...rest, k }, notes: k === s.k ? [] : [`strategy.k ${s.k} capped at ${k} trainers`] };
  },
  waitS: (s) => s.flushS,
});
