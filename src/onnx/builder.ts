import {
  AttributeType,
  DataType,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js';

/** `{ float }` keeps a float attribute whose value happens to be whole (alpha = 1) typed as a float. */
export type AttributeValue = number | number[] | string | { float: number };

/** Builds ONNX graphs node by node, with the same protobuf schema the engine reads. */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private counter = 0;

  /** `prefix` keeps the names of nodes and constants apart from those of a graph this one is merged into. */
  constructor(private readonly prefix = '') {}

  /** A fresh tensor name. */
  fresh(stem: string): string {
    return `${this.prefix}${stem}_${this.counter++}`;
  }

  input(name: string, elemType: number, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** A graph output; without `dims` its shape is left to the runtime. */
  output(name: string, elemType: number, dims?: (number | string)[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /**
   * A float32 initializer from a flat array or a matrix given row by row. A Float32Array is taken as it
   * is, not copied (the caller hands it over): a dequantized weight matrix never passes through an array
   * of doubles.
   */
  floats(name: string, values: ArrayLike<number> | number[][], dims: number[]): string {
    const data =
      values instanceof Float32Array
        ? values
        : new Float32Array(
            Array.isArray(values) && Array.isArray(values[0])
              ? (values as number[][]).flat()
              : Array.from(values as ArrayLike<number>),
          );
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims}]`);
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData });
    return name;
  }

  int64s(name: string, values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims, dataType: DataType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  scalar(value: number): string {
    return this.floats(this.fresh('const'), [value], []);
  }

  /** An auto-named int64 constant (1-D by default, [] for a scalar). */
  ints(values: number[], dims: number[] = [values.length]): string {
    return this.int64s(this.fresh('ints'), values, dims);
  }

  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputCount = 1): string[] {
    const id = this.counter++;
    const outputs = Array.from(
      { length: outputCount },
      (_, i) => `${this.prefix}${opType.toLowerCase()}_${id}${outputCount > 1 ? `_${i}` : ''}`,
    );
    this.nodes.push({
      input: inputs,
      output: outputs,
      name: `${this.prefix}${opType}_${id}`,
      opType,
      domain: '',
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return outputs;
  }

  /** Single-output node. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}): string {
    return this.node(opType, inputs, attributes)[0];
  }

  /** Rename the most recent node's output (to give graph outputs their public names). */
  rename(tensor: string, name: string): string {
    for (const n of this.nodes) {
      n.output = n.output.map((o) => (o === tensor ? name : o));
      n.input = n.input.map((i) => (i === tensor ? name : i));
    }
    return name;
  }

  /** The nodes and initializers built so far, to merge into another graph. */
  parts(): { nodes: NodeProto[]; initializers: TensorProto[] } {
    return { nodes: this.nodes, initializers: this.initializers };
  }

  build(producerName = 'interp', opset = 17): ModelProto {
    return {
      irVersion: 8,
      opsetImport: [{ domain: '', version: opset }],
      producerName,
      graph: {
        node: this.nodes,
        name: producerName,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
        valueInfo: [],
      },
    };
  }
}

/** A typed graph input or output; numbers are fixed dims, strings symbolic ones, and no dims leaves the shape open. */
export function valueInfo(name: string, elemType: number, dims?: (number | string)[]): ValueInfoProto {
  if (!dims) return { name, type: { tensorType: { elemType } } };
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'object' && !Array.isArray(value)) return { name, type: AttributeType.FLOAT, f: value.float };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  return Number.isInteger(value)
    ? { name, type: AttributeType.INT, i: value }
    : { name, type: AttributeType.FLOAT, f: value };
}
