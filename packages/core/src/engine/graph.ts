import { ONNX_TYPE, type DType, type FloatType } from './dtype.js';
import { EngineError } from './errors.js';
import {
  ATTR_TYPE,
  encodeModel,
  type AttributeObject,
  type ModelObject,
  type NodeObject,
  type TensorObject,
  type ValueInfoObject,
} from './onnx-proto.js';
import { shapeStr, type Dim, type Shape } from './shape.js';

/**
 * The pinned ONNX opset. 17 is the newest opset that older runtimes and tools still accept
 * (Debian's python3-onnx 1.12 checks up to 17), and it has every op the training graphs need:
 * LayerNormalization (17), ScatterND/ScatterElements with reduction='add' (16). Ops from later
 * opsets (Gelu at 20) are written as compositions instead, so exported models stay portable.
 * Note: at 17, ReduceSum takes `axes` as an input while ReduceMean/ReduceSumSquare still take
 * it as an attribute.
 */
export const OPSET = 17;
/** IR version 8 is the one that goes with opset 17. */
export const IR_VERSION = 8;

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; dtype: DType; shape: readonly number[]; data: readonly number[] };

/** Typed attribute constructors: ONNX tells INT from FLOAT, JavaScript numbers do not. */
export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (dtype: DType, shape: readonly number[], data: readonly number[]): Attr => ({ kind: 'tensor', dtype, shape, data }),
};
export type Attrs = Record<string, Attr>;

export type ValueKind = 'input' | 'param' | 'const' | 'node';

/** A tensor in a graph under construction: a name, an element type and a static shape. */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: ValueKind,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}${shapeStr(this.shape)}`;
  }
}

/** How a parameter's first values are drawn (see initParams). */
export type ParamInit =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; limit: number };

/** One application of a registry op, kept so autodiff can walk it backwards. */
export interface TapeEntry {
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** Emits the gradient nodes: grads of the outputs in, grads of the inputs out. */
  readonly backward: (grads: readonly (Value | null)[], needs: readonly boolean[]) => (Value | null)[];
}

interface RawNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attrs;
}

type ConstData = Float32Array | Float64Array | BigInt64Array | Uint8Array;
interface ConstEntry {
  readonly value: Value;
  readonly data: ConstData;
}

export type FloatArray = Float32Array | Float64Array;

export interface ModelOptions {
  /** Graph outputs, in order, by the name they get in the model. */
  outputs: ReadonlyArray<readonly [string, Value]>;
  /** Parameters to bake in as initializers (an inference export); the rest stay inputs. */
  initializers?: ReadonlyMap<string, FloatArray>;
  /** Written into the model's metadata_props. */
  metadata?: Record<string, string>;
  docString?: string;
}

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface BuiltModel {
  readonly bytes: Uint8Array;
  /** The inputs the model needs, in declaration order (unused ones are left out). */
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

/**
 * A graph builder. Ops append ONNX nodes with static shape inference; registry ops also
 * append a tape entry so `gradients` can differentiate them. `toModel` keeps only what the
 * requested outputs need, so one graph yields a training step, an evaluation model and an
 * inference export.
 */
export class Graph {
  readonly dtype: FloatType;
  readonly name: string;
  readonly inputs: Value[] = [];
  readonly params: Value[] = [];
  readonly paramInit = new Map<string, ParamInit>();
  readonly tape: TapeEntry[] = [];
  private readonly nodes: RawNode[] = [];
  private readonly consts = new Map<string, ConstEntry>();
  private readonly constCache = new Map<string, Value>();
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(opts: { dtype?: FloatType; name?: string } = {}) {
    this.dtype = opts.dtype ?? 'float32';
    this.name = opts.name ?? 'fednode';
  }

  /** A batch or other run-time input. Float inputs default to the graph's float type. */
  input(name: string, shape: Shape, dtype: DType = this.dtype): Value {
    const v = new Value(this, this.claim(name), dtype, [...shape], 'input');
    this.inputs.push(v);
    return v;
  }

  /** A trainable parameter: an input of the training graph, an initializer of an export. */
  param(name: string, shape: readonly number[], init: ParamInit = { kind: 'zeros' }): Value {
    const v = new Value(this, this.claim(name), this.dtype, [...shape], 'param');
    this.inputs.push(v);
    this.params.push(v);
    this.paramInit.set(name, init);
    return v;
  }

  /** A constant tensor (an initializer) in the graph's float type unless told otherwise. */
  constant(data: ArrayLike<number>, shape: readonly number[], dtype: DType = this.dtype): Value {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new EngineError('ENGINE_SHAPE', `constant: ${data.length} values for shape ${shapeStr(shape)}`);
    const v = new Value(this, this.fresh('const'), dtype, [...shape], 'const');
    this.consts.set(v.name, { value: v, data: toTyped(data, dtype) });
    return v;
  }

  /** A scalar constant (shape []), shared between uses of the same value and type. */
  scalar(x: number, dtype: DType = this.dtype): Value {
    return this.cached(`s:${dtype}:${x}`, () => this.constant([x], [], dtype));
  }

  /** A 1-D int64 constant (axes, shapes, pads), shared between uses. */
  ints(xs: readonly number[]): Value {
    return this.cached(`i:${xs.join(',')}`, () => this.constant(xs, [xs.length], 'int64'));
  }

  /** A 1-D float32 constant (Resize's scales are float32 whatever the data type). */
  floats32(xs: readonly number[]): Value {
    return this.cached(`f32:${xs.join(',')}`, () => this.constant(xs, [xs.length], 'float32'));
  }

  /**
   * Appends one ONNX node. `null` inputs become empty names (an omitted optional input).
   * The caller states each output's type and shape: that is the static shape inference.
   */
  emit(opType: string, inputs: readonly (Value | null)[], attrs: Attrs, outs: readonly { dtype: DType; shape: Shape }[]): Value[] {
    for (const v of inputs) {
      if (v !== null && v.graph !== this) throw new EngineError('ENGINE_GRAPH', `${opType}: input ${v.name} belongs to another graph`);
    }
    const outputs = outs.map((o) => new Value(this, this.fresh(opType.toLowerCase()), o.dtype, [...o.shape], 'node'));
    this.nodes.push({ opType, inputs: inputs.map((v) => (v === null ? '' : v.name)), outputs: outputs.map((v) => v.name), attrs });
    return outputs;
  }

  emit1(opType: string, inputs: readonly (Value | null)[], attrs: Attrs, dtype: DType, shape: Shape): Value {
    return this.emit(opType, inputs, attrs, [{ dtype, shape }])[0];
  }

  record(entry: TapeEntry): void {
    this.tape.push(entry);
  }

  /** Serialises the part of the graph that the outputs need. */
  toModel(opts: ModelOptions): BuiltModel {
    const inits = opts.initializers ?? new Map<string, FloatArray>();
    for (const name of inits.keys()) {
      if (!this.params.some((p) => p.name === name)) throw new EngineError('ENGINE_GRAPH', `initializer ${name} is not a parameter of the graph`);
    }
    // Rename an output's producing node output in place; an input, constant or a value that
    // is already an output gets an Identity instead (a value has one name).
    const rename = new Map<string, string>();
    const extra: RawNode[] = [];
    const outNames = new Set<string>();
    const outputs: TensorInfo[] = [];
    for (const [name, v] of opts.outputs) {
      if (v.graph !== this) throw new EngineError('ENGINE_GRAPH', `output ${name} belongs to another graph`);
      if (outNames.has(name)) throw new EngineError('ENGINE_GRAPH', `duplicate output name ${name}`);
      if (name !== v.name && this.names.has(name)) throw new EngineError('ENGINE_GRAPH', `output name ${name} is already a value of the graph`);
      outNames.add(name);
      if (v.kind === 'node' && !rename.has(v.name)) rename.set(v.name, name);
      else if (name !== v.name || v.kind !== 'node') extra.push({ opType: 'Identity', inputs: [v.name], outputs: [name], attrs: {} });
      outputs.push({ name, dtype: v.dtype, shape: v.shape });
    }
    const nameOf = (n: string): string => rename.get(n) ?? n;

    // Keep the nodes the outputs depend on, walking backwards from them.
    const all = [...this.nodes, ...extra];
    const needed = new Set<string>(opts.outputs.map(([, v]) => v.name));
    const keep: RawNode[] = [];
    for (let i = all.length - 1; i >= 0; i--) {
      const node = all[i];
      if (!node.outputs.some((o) => needed.has(o)) && !extra.includes(node)) continue;
      keep.push(node);
      for (const inp of node.inputs) if (inp !== '') needed.add(inp);
    }
    keep.reverse();

    const nodes: NodeObject[] = keep.map((n, i) => ({
      name: `n${i}_${n.opType}`,
      opType: n.opType,
      input: n.inputs.map(nameOf),
      output: n.outputs.map(nameOf),
      attribute: Object.entries(n.attrs).map(([k, a]) => attrObject(k, a)),
    }));
    const initializer: TensorObject[] = [];
    for (const { value, data } of this.consts.values()) {
      if (needed.has(value.name)) initializer.push(tensorObject(value.name, value.dtype, value.shape as number[], data));
    }
    const inputs: TensorInfo[] = [];
    for (const v of this.inputs) {
      if (!needed.has(v.name)) continue;
      const data = inits.get(v.name);
      if (data === undefined) {
        inputs.push({ name: v.name, dtype: v.dtype, shape: v.shape });
        continue;
      }
      const want = v.shape.reduce<number>((a, b) => a * (b as number), 1);
      if (data.length !== want) throw new EngineError('ENGINE_SHAPE', `initializer ${v.name}: ${data.length} values, shape ${shapeStr(v.shape)} needs ${want}`);
      initializer.push(tensorObject(v.name, v.dtype, v.shape as number[], toTyped(data, v.dtype)));
    }
    const model: ModelObject = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'fednode',
      producerVersion: '0.1.0',
      graph: {
        name: this.name,
        node: nodes,
        initializer,
        input: inputs.map(valueInfo),
        output: outputs.map(valueInfo),
      },
    };
    if (opts.metadata !== undefined) model.metadataProps = Object.entries(opts.metadata).map(([key, value]) => ({ key, value }));
    return { bytes: encodeModel(model), inputs, outputs };
  }

  /** Number of nodes emitted so far (before pruning); for tests and diagnostics. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  private claim(name: string): string {
    if (name === '' || this.names.has(name)) throw new EngineError('ENGINE_GRAPH', `value name ${JSON.stringify(name)} is empty or already used`);
    this.names.add(name);
    return name;
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private cached(key: string, make: () => Value): Value {
    let v = this.constCache.get(key);
    if (v === undefined) {
      v = make();
      this.constCache.set(key, v);
    }
    return v;
  }
}

function toTyped(data: ArrayLike<number>, dtype: DType): ConstData {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'float64':
      return Float64Array.from(data);
    case 'int64':
      return BigInt64Array.from(Array.from(data), (x) => BigInt(x));
    case 'bool':
      return Uint8Array.from(data, (x) => (x !== 0 ? 1 : 0));
  }
}

function tensorObject(name: string, dtype: DType, dims: readonly number[], data: ConstData): TensorObject {
  // raw_data is little-endian, which is the byte order of typed arrays on every platform we run on.
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dims: [...dims], dataType: ONNX_TYPE[dtype], rawData };
}

function dimObject(d: Dim): { dimValue?: number; dimParam?: string } {
  return typeof d === 'number' ? { dimValue: d } : { dimParam: d };
}

function valueInfo(t: TensorInfo): ValueInfoObject {
  return { name: t.name, type: { tensorType: { elemType: ONNX_TYPE[t.dtype], shape: { dim: t.shape.map(dimObject) } } } };
}

function attrObject(name: string, a: Attr): AttributeObject {
  switch (a.kind) {
    case 'int':
      return { name, type: ATTR_TYPE.INT, i: a.value };
    case 'float':
      return { name, type: ATTR_TYPE.FLOAT, f: a.value };
    case 'ints':
      return { name, type: ATTR_TYPE.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: ATTR_TYPE.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: ATTR_TYPE.TENSOR, t: tensorObject('', a.dtype, a.shape, toTyped(a.data, a.dtype)) };
  }
}
