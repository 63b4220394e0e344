import { attr, type BuiltModel } from './graph.js';
import type { ModelGraph } from './models.js';
import { OPSET } from './graph.js';
import type { FloatArray, Value } from './graph.js';

/**
 * Forward-only models cut from a model graph: the evaluation model (mean loss, the number of
 * correct predictions and the logits, parameters as inputs) and the standalone inference export
 * (logits only, parameters baked in as initializers).
 */

/** A classifier's evaluation values: its mean loss and the count of argmax == label (a float). */
export function classifierEvaluation(model: ModelGraph): { loss: Value; correct: Value } {
  const g = model.graph;
  const pred = g.emit1('ArgMax', [model.logits], { axis: attr.int(1), keepdims: attr.int(0) }, 'int64', [model.logits.shape[0]]);
  const hit = g.emit1('Equal', [pred, model.y], {}, 'bool', pred.shape);
  const hits = g.emit1('Cast', [hit], { to: attr.int(1) }, 'float32', pred.shape);
  const correct = g.emit1('ReduceSum', [hits, g.ints([0])], { keepdims: attr.int(0) }, 'float32', []);
  return { loss: model.loss, correct };
}

/** Outputs: `loss` (mean cross-entropy), `correct` (count of argmax == label, a float), `logits`. */
export function buildEvalModel(model: ModelGraph): BuiltModel {
  const g = model.graph;
  const { correct } = classifierEvaluation(model);
  return g.toModel({
    outputs: [
      ['loss', model.loss],
      ['correct', correct],
      ['logits', model.logits],
    ],
    metadata: { 'fednode.kind': 'evaluation' },
  });
}

export interface ExportOptions {
  /** Extra metadata_props (model name, input normalisation, dataset). */
  metadata?: Record<string, string>;
}

/**
 * A plain ONNX inference model at the pinned opset: input `x` [N, features], output `logits`
 * [N, classes], every parameter an initializer. Any onnxruntime (or other ONNX runtime that
 * reads opset 17) loads it with no fednode code.
 */
export function exportInferenceModel(model: ModelGraph, params: ReadonlyMap<string, FloatArray>, opts: ExportOptions = {}): Uint8Array {
  const built = model.graph.toModel({
    outputs: [['logits', model.logits]],
    initializers: params,
    metadata: { 'fednode.kind': 'inference', 'fednode.opset': String(OPSET), ...opts.metadata },
  });
  return built.bytes;
}
