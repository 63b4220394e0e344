import { OPSET, type FloatArray, type Graph, type Value } from '../engine/index.js';
import { ParamSet } from '../tensor/paramset.js';
import { ModelError } from './errors.js';

/**
 * Standalone ONNX inference files: the model's forward up to its logits, every parameter baked
 * in as an initializer, at the engine's pinned opset 17. The loss, labels, teacher inputs and
 * load-balancing counts are pruned away, so a plain onnxruntime InferenceSession (or any
 * runtime reading opset 17) runs it with the model's data input only (`x`).
 */
export interface ExportableModel {
  readonly graph: Graph;
  readonly logits: Value;
}

export function exportOnnx(model: ExportableModel, params: ParamSet | ReadonlyMap<string, FloatArray>, metadata: Record<string, string> = {}): Uint8Array {
  const g = model.graph;
  const byName = new Map<string, FloatArray>();
  for (const p of g.params) {
    const data = params instanceof ParamSet ? (params.has(p.name) ? params.tensor(p.name) : undefined) : params.get(p.name);
    if (data === undefined) throw new ModelError('MODEL_SLICE', `export: no value for parameter ${p.name}`);
    const want = p.shape.reduce<number>((a, d) => a * (d as number), 1);
    if (data.length !== want) throw new ModelError('MODEL_SLICE', `export: ${p.name} has ${data.length} values, shape needs ${want}`);
    byName.set(p.name, g.dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data));
  }
  const built = g.toModel({
    outputs: [['logits', model.logits]],
    initializers: byName,
    metadata: { 'fednode.kind': 'inference', 'fednode.opset': String(OPSET), 'fednode.model': g.name, ...metadata },
  });
  const extra = built.inputs.filter((i) => i.name !== 'x');
  if (extra.length > 0) throw new ModelError('MODEL_SLICE', `export: the inference graph still needs ${extra.map((i) => i.name).join(', ')}`);
  return built.bytes;
}
