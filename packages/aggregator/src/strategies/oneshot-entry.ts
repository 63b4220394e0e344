import { OneShot, type OneShotConfig, type OneShotRuntime } from './oneshot.js';
import { defineStrategy, type CreateContext } from './entry.js';
import { GUARDS_SCHEMA, int, obj, pos, section } from './schema.js';
import { ALIGNED_METHODS, ASSEMBLY_METHODS, MERGE_METHOD_PROPERTIES, MOE_METHOD_PROPERTIES, WEIGHT_SPACE_METHODS } from '../merge/method-options.js';

export type OneShotSection = { readonly kind: 'oneshot' } & Omit<OneShotConfig, 'runId'>;

/** `method`: `kind` picks the merge method, the other keys are that method's options. */
const METHOD_SCHEMA = {
  type: 'object',
  required: ['kind'],
  properties: { kind: { enum: [...WEIGHT_SPACE_METHODS, ...ASSEMBLY_METHODS] } },
  discriminator: { propertyName: 'kind' },
  oneOf: [
    ...WEIGHT_SPACE_METHODS.map((m) => obj(['kind'], { kind: { const: m }, ...MERGE_METHOD_PROPERTIES[m] })),
    obj(['kind'], { kind: { const: 'moe' }, ...MOE_METHOD_PROPERTIES }),
  ],
} as const;

/** The daemon's one-shot section (the simulator's scenario adds its comparison keys to it). */
export const ONESHOT_PROPERTIES = {
  method: METHOD_SCHEMA,
  deadlineS: pos,
  minParticipants: int(1),
  cohort: int(1),
  weighting: { enum: ['examples', 'uniform'] },
  differentInit: { type: 'boolean' },
  ...GUARDS_SCHEMA,
} as const;

function runtimeOf(ctx: CreateContext): OneShotRuntime {
  return { ...(ctx.assembler === undefined ? {} : { assembler: ctx.assembler }), ...(ctx.alignment === undefined ? {} : { alignment: ctx.alignment }) };
}

export const ONESHOT_ENTRY = defineStrategy<OneShotSection>({
  kind: 'oneshot',
  pacing: 'rounds',
  versions: 1,
  schema: section('oneshot', ['method', 'deadlineS'], ONESHOT_PROPERTIES),
  check: (s, ctx) => {
    const p = ctx.path;
    const out: string[] = [];
    const min = s.minParticipants ?? 1;
    if (s.cohort !== undefined && min > s.cohort) out.push(`${p}.minParticipants ${min} is more than ${p}.cohort ${s.cohort}`);
    if (s.method.kind === 'slerp' && (s.cohort !== 2 || min !== 2)) out.push(`${p}.method slerp interpolates two models: set ${p}.cohort and ${p}.minParticipants to 2`);
    if (s.method.kind === 'moe' && (s.cohort ?? 2) < 2) out.push(`${p}.method moe makes each model an expert of a mixture: ${p}.cohort must be at least 2`);
    if (s.method.kind === 'moe' && min < 2) out.push(`${p}.method moe makes each model an expert of a mixture: set ${p}.minParticipants to at least 2`);
    if (s.method.kind === 'moe' && s.method.topK !== undefined && s.method.topK > min) out.push(`${p}.method.topK ${s.method.topK} is more than ${p}.minParticipants ${min}: a mixture of ${min} models has ${min} experts`);
    if (s.differentInit === true && !(ALIGNED_METHODS as readonly string[]).includes(s.method.kind)) out.push(`${p}.differentInit merges models of different initialisations after weight matching: ${p}.method must be ${ALIGNED_METHODS.join(' or ')}, not ${s.method.kind} (it merges task vectors of one base)`);
    return out;
  },
  create: (global, s, ctx) => {
    const { kind: _kind, ...config } = s;
    return new OneShot(global, ctx.runId === undefined ? config : { ...config, runId: ctx.runId }, runtimeOf(ctx));
  },
  restore: (bytes, s, ctx) => OneShot.restore(bytes, s === undefined ? undefined : { deadlineS: s.deadlineS }, runtimeOf(ctx ?? {})),
  localTraining: (s) => (s.differentInit === true ? { ownInit: true } : {}),
  forTrainers: (s, o) => {
    const { runId: _runId, ...rest } = s as OneShotSection & { readonly runId?: string };
    const cohort = Math.min(s.cohort ?? o.trainers, o.trainers);
    return { section: { ...rest, cohort, minParticipants: Math.min(s.minParticipants ?? 1, cohort) }, notes: [`strategy.deadlineS ${s.deadlineS} is wall seconds here, not virtual`] };
  },
  waitS: (s) => s.deadlineS,
});
