import { axpy } from '@fednode/kernels';
import { ParamSet } from '../tensor/paramset.js';
import { encodeSafetensorsBytes, parseSafetensors, float32Bytes, float32FromBytes } from '../checkpoint/safetensors.js';
import { CoreError } from '../errors.js';
import type { CodecOptions, EncodedTensor } from './types.js';
import { codecFor, resolveCodec } from './registry.js';

/**
 * Error feedback: what a lossy codec drops from one delta is kept per tensor and added to
 * the next one, so over rounds the sum sent equals the sum of deltas (EF-SGD, spec 5).
 */
export class ErrorFeedback {
  private readonly residuals = new Map<string, Float32Array>();

  /** Encodes every tensor of `delta` (a local parameter set) with residual carry-over. */
  encode(delta: ParamSet, options: CodecOptions): EncodedTensor[] {
    return delta.specs.map((spec) => {
      const p = this.carry(spec.name, delta.tensor(spec.name));
      const params = resolveCodec(options, spec.shape);
      const payload = codecFor(params).encode(p, spec.shape, params, this.residuals.get(spec.name));
      return { name: spec.name, shape: spec.shape, params, payload };
    });
  }

  /**
   * p = delta + the residual carried for `name`: what to encode this time (a new array).
   * The encoder then writes p − decode(encode(p)) into `residual(name)` (or `setResidual`).
   */
  carry(name: string, delta: Float32Array): Float32Array {
    let r = this.residuals.get(name);
    if (r === undefined || r.length !== delta.length) {
      r = new Float32Array(delta.length);
      this.residuals.set(name, r);
    }
    const p = r.slice();
    axpy(1, delta, p);
    return p;
  }

  setResidual(name: string, r: Float32Array): void {
    this.residuals.set(name, r);
  }

  residual(name: string): Float32Array | undefined {
    return this.residuals.get(name);
  }

  /** Forgets every residual (e.g. after the slice changed shape). */
  reset(): void {
    this.residuals.clear();
  }

  /** The residuals as a safetensors blob, to save beside the trainer's state. */
  save(): Uint8Array {
    return encodeSafetensorsBytes(
      [...this.residuals].map(([name, r]) => ({ name, dtype: 'F32' as const, shape: [r.length], bytes: float32Bytes(r) })),
      { 'fednode.kind': 'error-feedback' },
    );
  }

  static restore(bytes: Uint8Array): ErrorFeedback {
    const file = parseSafetensors(bytes);
    if (file.metadata['fednode.kind'] !== 'error-feedback') {
      throw new CoreError('CHECKPOINT_CORRUPT', 'not an error-feedback state', '__metadata__');
    }
    const ef = new ErrorFeedback();
    for (const t of file.tensors) {
      if (t.dtype !== 'F32') throw new CoreError('CHECKPOINT_CORRUPT', `dtype ${t.dtype}, expected F32`, t.name);
      ef.residuals.set(t.name, float32FromBytes(t.bytes));
    }
    return ef;
  }
}
