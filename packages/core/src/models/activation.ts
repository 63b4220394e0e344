import { gelu, relu, tanh, type Value } from '../engine/index.js';

/**
 * Feed-forward activations. GELU is the transformer's; onnxruntime's CPU provider has Erf only
 * in float32, so float64 gradient checks of a feed-forward use tanh or ReLU instead.
 */
export type Activation = 'gelu' | 'relu' | 'tanh';

export function activate(x: Value, act: Activation): Value {
  switch (act) {
    case 'gelu':
      return gelu(x);
    case 'relu':
      return relu(x);
    case 'tanh':
      return tanh(x);
  }
}
