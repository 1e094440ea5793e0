import { GraphBuilder, valueInfo } from './builder.js';
import { GRADIENT_RULES, UnsupportedOperatorError, type RuleContext, type RuleTable } from './gradRules.js';
import { DataType, toNumber, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';
import { findGelus, geluBackward, type GeluInGraph } from './gelu.js';
import { GraphIndex } from './graph.js';
import { readTensorNumbers } from './tensor.js';
import type { Shape, TensorFacts } from './tensorFacts.js';

export { UnsupportedOperatorError };
export type { Shape, TensorFacts };

/** Operators whose outputs carry no gradient (integer or boolean results, shapes, constants). */
const NO_GRADIENT = new Set([
  'Shape',
  'Size',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'And',
  'Or',
  'Not',
  'Xor',
  'NonZero',
  'ArgMax',
  'ArgMin',
  'ConstantOfShape',
  'Range',
  'OneHot',
  'IsNaN',
  'IsInf',
  'Sign',
  'Floor',
  'Ceil',
  'Round',
  'EyeLike',
  'Constant',
  'RandomNormalLike',
  'RandomUniformLike',
  'Bernoulli',
  'TopK',
]);
const FLOAT_TYPES: ReadonlySet<number> = new Set([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.DOUBLE,
  DataType.BFLOAT16,
]);

function carriesGradient(node: NodeProto): boolean {
  if (NO_GRADIENT.has(node.opType)) return false;
  if (node.opType === 'Cast') {
    const to = node.attribute.find((a) => a.name === 'to');
    return FLOAT_TYPES.has(toNumber(to?.i));
  }
  return true;
}

export interface GradientRequest {
  /** The tensor differentiated; its upstream gradient (the "seed") is fed as input `interp.seed`. */
  of: string;
  /** Tensors to return gradients for: graph inputs or internal tensors. */
  wrt: string[];
  /**
   * Stop-gradients: tensors held constant in the backward pass. Each still receives its gradient (and
   * returns it when it is in `wrt`), but that gradient is not propagated to its producers.
   */
  constants?: readonly string[];
}

/** The nodes between the `wrt` tensors and `of`, in topological order, and the tensors that carry gradient. */
export interface GradientPath {
  nodes: NodeProto[];
  carries: Set<string>;
}

export function gradientPath(model: ModelProto, request: GradientRequest): GradientPath {
  const index = new GraphIndex(model.graph);
  const reached = new Set(request.wrt);
  for (const node of index.order) {
    if (carriesGradient(node) && node.input.some((i) => i && reached.has(i)))
      for (const o of node.output) if (o) reached.add(o);
  }
  if (!reached.has(request.of)) throw new Error(`${request.of} does not depend on ${request.wrt.join(', ')}`);
  const carries = new Set<string>([request.of]);
  const constants = new Set(request.constants ?? []);
  const nodes: NodeProto[] = [];
  for (let k = index.order.length - 1; k >= 0; k--) {
    const node = index.order[k];
    if (!carriesGradient(node) || !node.output.some((o) => o && carries.has(o) && !constants.has(o))) continue;
    const inputs = node.input.filter((i) => i && reached.has(i));
    if (!inputs.length) continue;
    for (const i of inputs) carries.add(i);
    nodes.push(node);
  }
  return { nodes: nodes.reverse(), carries };
}

/** Every tensor whose shape and type the backward pass needs: all inputs and outputs of the path's nodes. */
export function tensorsNeedingFacts(path: GradientPath, request: GradientRequest): string[] {
  const names = new Set<string>([request.of, ...request.wrt]);
  for (const node of path.nodes) for (const t of [...node.input, ...node.output]) if (t) names.add(t);
  return [...names];
}

export interface BackwardResult {
  model: ModelProto;
  /** Input fed with the upstream gradient of `of` (same shape). */
  seed: string;
  /** Output name of each requested gradient, by `wrt` tensor. */
  gradients: Record<string, string>;
}

export const SEED_INPUT = 'interp.seed';

/** The gradient contributions that reach each tensor, summed into one on the first read. */
class Contributions {
  private readonly byTensor = new Map<string, string[]>();
  constructor(private readonly b: GraphBuilder) {}

  add(tensor: string, grad: string): void {
    const list = this.byTensor.get(tensor);
    if (list) list.push(grad);
    else this.byTensor.set(tensor, [grad]);
  }

  total(tensor: string): string | null {
    const list = this.byTensor.get(tensor);
    if (!list || list.length === 0) return null;
    if (list.length > 1) this.byTensor.set(tensor, [this.b.op('Sum', list)]);
    return this.byTensor.get(tensor)![0];
  }
}

/** Initializers and Constant node values, by tensor name. */
function constantTensors(graph: ModelProto['graph']): Map<string, TensorProto> {
  const constants = new Map<string, TensorProto>();
  for (const t of graph.initializer) constants.set(t.name, t);
  for (const n of graph.node) {
    const value = n.opType === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (value && n.output[0]) constants.set(n.output[0], value);
  }
  return constants;
}

/**
 * Reverse-mode automatic differentiation over an ONNX graph: append to `model` the nodes that compute
 * the vector–Jacobian product of `of` with respect to each `wrt` tensor, for an upstream gradient fed
 * as `interp.seed`. The forward graph stays as it is, so one session run gives outputs and gradients.
 * `facts` holds the shape and type of every tensor that `tensorsNeedingFacts` lists (see probeFacts);
 * pass the `path` those facts were gathered for, so that it is not traced twice.
 */
export function backward(
  model: ModelProto,
  request: GradientRequest,
  facts: ReadonlyMap<string, TensorFacts>,
  rules: RuleTable = GRADIENT_RULES,
  path: GradientPath = gradientPath(model, request),
): BackwardResult {
  const opset = toNumber(model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  if (opset < 13) throw new Error(`gradients need opset 13 or later; this graph is opset ${opset}`);
  // Clone the nodes: rules may ask a forward node for optional outputs (LayerNormalization's statistics).
  const clones = new Map(model.graph.node.map((n) => [n, { ...n, input: [...n.input], output: [...n.output] }]));
  const nodes = [...clones.values()];
  const constants = constantTensors(model.graph);
  const index = new GraphIndex(model.graph);
  const b = new GraphBuilder('interp.g/');
  const contributions = new Contributions(b);
  const gradientOf = (tensor: string) => contributions.total(tensor);
  const factsOf = (tensor: string): TensorFacts => {
    const f = facts.get(tensor);
    if (!f) throw new Error(`no shape known for tensor ${tensor}`);
    return f;
  };
  const seedFacts = factsOf(request.of);
  contributions.add(request.of, SEED_INPUT);
  const gelus = standardGelus(model, request, path, index, constants, rules);
  const stopped = new Set(request.constants ?? []);

  for (let k = path.nodes.length - 1; k >= 0; k--) {
    const gelu = gelus.get(path.nodes[k]);
    if (gelu) {
      const g = stopped.has(gelu.y) ? null : gradientOf(gelu.y);
      if (g) contributions.add(gelu.x, geluBackward(b, gelu, g));
      continue; // its inner nodes get no gradient, so the loop passes them by
    }
    const node = clones.get(path.nodes[k])!;
    const outputGrads = node.output.map((o) => (o && !stopped.has(o) ? gradientOf(o) : null));
    if (outputGrads.every((g) => g === null)) continue;
    const rule = rules[node.opType];
    if (!rule || (node.domain && node.domain !== 'ai.onnx'))
      throw new UnsupportedOperatorError(node.opType, node.domain);
    const ctx: RuleContext = {
      node,
      b,
      opset,
      g: (i) => outputGrads[i] ?? null,
      needs: (i) => Boolean(node.input[i] && path.carries.has(node.input[i])),
      facts: factsOf,
      constant: (tensor) => {
        const t = constants.get(tensor);
        return t ? readTensorNumbers(t) : null;
      },
      consumers: (tensor) => index.consumersOf(tensor),
      forwardOutput: (i, stem) => {
        while (node.output.length <= i) node.output.push('');
        if (!node.output[i]) node.output[i] = b.fresh(stem);
        return node.output[i];
      },
    };
    const inputGrads = rule(ctx);
    inputGrads.forEach((grad, i) => {
      if (grad && ctx.needs(i)) contributions.add(node.input[i], grad);
    });
  }

  const { gradients, outputs } = gradientOutputs(b, request.wrt, gradientOf, factsOf);
  const parts = b.parts();
  return {
    seed: SEED_INPUT,
    gradients,
    model: {
      ...model,
      graph: {
        ...model.graph,
        node: [...nodes, ...parts.nodes],
        initializer: [...model.graph.initializer, ...parts.initializers],
        input: [...model.graph.input, probedValueInfo(SEED_INPUT, seedFacts)],
        output: [...model.graph.output, ...outputs],
        valueInfo: [],
      },
    },
  };
}

/** Each `wrt` tensor's gradient as a graph output `interp.grad.i`. */
function gradientOutputs(
  b: GraphBuilder,
  wrt: readonly string[],
  gradientOf: (tensor: string) => string | null,
  factsOf: (tensor: string) => TensorFacts,
): { gradients: Record<string, string>; outputs: ValueInfoProto[] } {
  const gradients: Record<string, string> = {};
  const outputs = wrt.map((tensor, i) => {
    const name = `interp.grad.${i}`;
    // A tensor that `of` does not depend on has a zero gradient.
    const source = gradientOf(tensor) ?? b.op('Mul', [tensor, b.scalar(0)]);
    b.rename(b.op('Identity', [source]), name);
    gradients[tensor] = name;
    return probedValueInfo(name, factsOf(tensor));
  });
  return { gradients, outputs };
}

/** The GELUs on the path, where their ops keep the standard rules (LRP's overrides keep them op by op). */
function standardGelus(
  model: ModelProto,
  request: GradientRequest,
  path: GradientPath,
  index: GraphIndex,
  constants: ReadonlyMap<string, TensorProto>,
  rules: RuleTable,
): Map<NodeProto, GeluInGraph> {
  const scalar = (tensor: string) => {
    const t = constants.get(tensor);
    const values = t ? readTensorNumbers(t) : null;
    return values && values.length === 1 ? values[0] : null;
  };
  const outputs = new Set(model.graph.output.map((o) => o.name));
  const wrt = new Set(request.wrt);
  const found = findGelus(path.nodes, index, scalar, outputs);
  for (const [node, gelu] of found) {
    const opByOp = [...gelu.nodes].some((n) => rules[n.opType] !== GRADIENT_RULES[n.opType]);
    // A gradient asked of one of its inner values needs them differentiated one by one.
    const asked = [...gelu.nodes].some((n) => n.output[0] !== gelu.y && wrt.has(n.output[0]));
    if (opByOp || asked) found.delete(node);
  }
  return found;
}

/** A probed shape as declared dims: each dynamic dim gets a symbol of its own. */
function probedValueInfo(name: string, facts: TensorFacts): ValueInfoProto {
  return valueInfo(
    name,
    facts.type,
    facts.shape.map((d, i) => d ?? `${name}.d${i}`),
  );
}
