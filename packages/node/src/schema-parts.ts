/**
 * JSON-schema pieces that scenarios (sim/scenario.ts) and run files (daemon/run-file.ts)
 * share, so a strategy or codec is written the same way in both.
 */
import { int, obj, strategyEntry, strategyKinds, type SectionSchema } from '@fednode/aggregator';

// The generic pieces are the strategies' own, so a section reads the same everywhere.
export { int, num, obj, pos, prob } from '@fednode/aggregator';

/**
 * The `strategy` section's schema, built from the aggregator's registry: `kind` is checked
 * first (an unknown one is named with the known kinds), then that kind's section alone (ajv's
 * discriminator), so a mistake inside one kind's section is not also reported against every
 * other kind's required keys. `extra`: keys every section also takes in this file; `more`:
 * sections this file reads its own way, each replacing the registry's section of its kind (the
 * simulator's oneshot, which compares every merge method). Needs an Ajv with `discriminator: true`.
 */
export function strategySchema(extra: Record<string, unknown> = {}, more: readonly SectionSchema[] = []) {
  const kindOf = (s: SectionSchema): string => (s.properties.kind as { const: string }).const;
  const own = new Map(more.map((s) => [kindOf(s), s]));
  const registered = strategyKinds().map((k) => own.get(k) ?? strategyEntry(k).schema);
  const sections = [...registered, ...more.filter((s) => !strategyKinds().includes(kindOf(s)))].map((s) => ({ ...s, properties: { ...s.properties, ...extra } }));
  const kinds = sections.map(kindOf);
  return { type: 'object', required: ['kind'], properties: { kind: { enum: kinds } }, discriminator: { propertyName: 'kind' }, oneOf: sections };
}

/** Codec options (`@fednode/core` CodecOptions) plus error feedback. */
export const CODEC_SCHEMA = obj(['codec'], {
  codec: { enum: ['fp32', 'fp16', 'bf16', 'int8', 'int4', 'demo', 'auto'] },
  blockSize: int(32),
  chunk: int(1),
  topk: int(1),
  values: { enum: ['fp16', 'sign'] },
  dense: { enum: ['fp32', 'fp16', 'bf16', 'int8', 'int4'] },
  minDemoElements: int(1),
  errorFeedback: { type: 'boolean' },
});
