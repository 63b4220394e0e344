/**
 * JSON-schema pieces that scenarios (sim/scenario.ts) and run files (daemon/run-file.ts)
 * share, so a strategy or codec is written the same way in both.
 */
export const num = { type: 'number' } as const;
export const pos = { type: 'number', exclusiveMinimum: 0 } as const;
export const int = (minimum: number) => ({ type: 'integer', minimum }) as const;
export const prob = { type: 'number', minimum: 0, maximum: 1 } as const;
export const obj = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties });

const SERVER = obj(['kind'], { kind: { enum: ['sgd', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'diloco'] }, lr: pos, momentum: num, beta1: num, beta2: num, tau: num, v0: num });
const GUARDS = { normBound: pos, clipNorm: pos };

/** FedAvg's options (`@fednode/aggregator` FedAvgConfig plus a deadline); `extra` adds keys. */
export function fedavgSchema(extra: Record<string, unknown> = {}) {
  return obj(['kind'], {
    kind: { const: 'fedavg' },
    deadlineS: pos,
    cohort: int(1),
    backupWorkers: int(0),
    minParticipants: int(1),
    weighting: { enum: ['examples', 'uniform'] },
    server: SERVER,
    robust: obj(['kind'], { kind: { enum: ['median', 'trimmed-mean', 'krum', 'multi-krum'] }, beta: num, f: int(0), m: int(1) }),
    dp: obj(['noiseMultiplier', 'clipNorm', 'seed'], { noiseMultiplier: { type: 'number', minimum: 0 }, clipNorm: pos, seed: { type: 'integer' } }),
    ...GUARDS,
    ...extra,
  });
}

/** FedBuff's options (`@fednode/aggregator` FedBuffConfig); `extra` adds keys. */
export function fedbuffSchema(extra: Record<string, unknown> = {}) {
  return obj(['kind', 'k'], {
    kind: { const: 'fedbuff' },
    k: int(1),
    staleness: obj(['kind'], { kind: { enum: ['constant', 'polynomial', 'hinge', 'threshold'] }, a: num, b: num, cutoff: num, value: num }),
    stalenessNormalizeAt: int(0),
    exampleWeight: { enum: ['one', 'n', 'sqrt', 'log'] },
    maxStaleness: int(0),
    mean: { enum: ['count', 'weights'] },
    server: SERVER,
    fedAsync: obj(['alpha'], { alpha: prob }),
    ...GUARDS,
    ...extra,
  });
}

/** Codec options (`@fednode/core` CodecOptions) plus error feedback. */
export const CODEC_SCHEMA = obj(['codec'], {
  codec: { enum: ['fp32', 'fp16', 'bf16', 'int8', 'demo', 'auto'] },
  blockSize: int(32),
  chunk: int(1),
  topk: int(1),
  values: { enum: ['fp16', 'sign'] },
  dense: { enum: ['fp32', 'fp16', 'bf16', 'int8'] },
  minDemoElements: int(1),
  errorFeedback: { type: 'boolean' },
});
