import { CoreError } from '../errors.js';
import { ParamSet, type TensorSpec } from '../tensor/paramset.js';
import { resolveSlice, type ResolvedSlice, type Slice } from '../slice/slice.js';
import { codecFor, resolveCodec } from '../codecs/registry.js';
import type { CodecOptions } from '../codecs/types.js';
import type { ErrorFeedback } from '../codecs/error-feedback.js';
import type { Update } from './update.js';

export interface UpdateFields {
  readonly runId: string;
  readonly sender: string;
  readonly baseVersion: number;
  readonly round: number;
  readonly sequence: number;
  readonly examples: number;
  readonly metrics?: Readonly<Record<string, number>>;
}

/**
 * Encodes a local delta (laid out as the slice's local specs) into an update. With `feedback`
 * the residual of each lossy codec carries over to the next call.
 */
export function encodeUpdate(fields: UpdateFields, slice: Slice, delta: ParamSet, codec: CodecOptions, feedback?: ErrorFeedback): Update {
  const tensors = feedback
    ? feedback.encode(delta, codec)
    : delta.specs.map((s) => {
        const params = resolveCodec(codec, s.shape);
        return { name: s.name, shape: s.shape, params, payload: codecFor(params).encode(delta.tensor(s.name), s.shape, params) };
      });
  return { ...fields, metrics: fields.metrics ?? {}, slice, tensors };
}

/**
 * Checks an update against the model (its slice resolves, its tensors are the slice's, in
 * order, with the slice's local shapes) and decodes every payload, refusing non-finite values
 * and bad indices. Returns the local delta and the resolved slice to scatter it with.
 */
export function decodeUpdateTensors(update: Update, model: readonly TensorSpec[]): { delta: ParamSet; resolved: ResolvedSlice } {
  const resolved = resolveSlice(update.slice, model);
  if (update.tensors.length !== resolved.tensors.length) {
    throw new CoreError('UPDATE_SHAPE', `${update.tensors.length} tensors, the slice holds ${resolved.tensors.length}`, 'tensors');
  }
  const delta = ParamSet.zeros(resolved.localSpecs);
  update.tensors.forEach((t, i) => {
    const want = resolved.tensors[i];
    const field = `tensors[${i}]`;
    if (t.name !== want.name) throw new CoreError('UPDATE_SHAPE', `is "${t.name}", the slice has "${want.name}" here`, `${field}.name`);
    if (t.shape.length !== want.localShape.length || t.shape.some((d, a) => d !== want.localShape[a])) {
      throw new CoreError('UPDATE_SHAPE', `shape [${t.shape.join(', ')}], the slice gives [${want.localShape.join(', ')}]`, `${field}.shape`);
    }
    const codec = codecFor(t.params);
    const bytes = codec.payloadBytes(t.shape, t.params);
    if (t.payload.byteLength !== bytes) {
      throw new CoreError('WIRE_LENGTH', `payload has ${t.payload.byteLength} bytes, expected ${bytes}`, `${field}.payload`);
    }
    codec.decode(t.payload, t.shape, t.params, delta.tensor(t.name), `${field}(${t.name})`);
  });
  return { delta, resolved };
}
