/**
 * JSON-schema pieces of the strategies' config sections (ajv strict mode compatible), so a
 * section is written the same way in a run file and in a scenario.
 */

/** A strategy's config section: an object with `kind` and that kind's keys, nothing else. */
export interface SectionSchema {
  readonly type: 'object';
  readonly additionalProperties: false;
  readonly required: readonly string[];
  readonly properties: Readonly<Record<string, unknown>>;
}

export const num = { type: 'number' } as const;
export const pos = { type: 'number', exclusiveMinimum: 0 } as const;
export const nonNegative = { type: 'number', minimum: 0 } as const;
export const int = (minimum: number) => ({ type: 'integer', minimum }) as const;
export const prob = { type: 'number', minimum: 0, maximum: 1 } as const;
export const obj = (required: string[], properties: Record<string, unknown>): SectionSchema => ({ type: 'object', additionalProperties: false, required, properties });

export const SERVER_SCHEMA = obj(['kind'], { kind: { enum: ['sgd', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'diloco'] }, lr: pos, momentum: num, beta1: num, beta2: num, tau: num, v0: num });
export const GUARDS_SCHEMA = { normBound: pos, clipNorm: pos } as const;

/** A kind's section: `kind` fixed to it, `required` besides it, and its keys. */
export function section(kind: string, required: string[], properties: Record<string, unknown>): SectionSchema {
  return obj(['kind', ...required], { kind: { const: kind }, ...properties });
}
