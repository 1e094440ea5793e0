import type { GraphBuilder } from './builder.js';
import type { GraphIndex } from './graph.js';
import type { NodeProto } from './proto.js';

/**
 * GELU written out op by op in a graph (exports spell it a dozen ways: x·x·x or Pow, 0.5 first or
 * last, erf or tanh): the nodes that compute y = gelu(x) from x and scalar constants alone, none of
 * whose inner values leave them. Its backward is one closed-form expression of x, so the inner values
 * need not be kept for it (onnxruntime is then free to fuse the forward) and the five contributions
 * that reach x need no summing.
 */
export interface GeluInGraph {
  x: string;
  y: string;
  approximation: 'tanh' | 'erf';
  nodes: ReadonlySet<NodeProto>;
}

const POINTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Tanh', 'Erf', 'Sqrt', 'Neg']);
/** The most nodes one spelling of GELU takes (the longest export form has 9). */
const MAX_NODES = 16;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const TANH_CUBIC = 0.044715;

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x)));
const geluErf = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** Its Taylor series (Abramowitz–Stegun 7.1.26 is too coarse to tell GELU's two forms apart): within 1e-11 for |x| ≤ 4, and ±1 within 2e-8 beyond. */
function erf(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const next = term / (2 * n + 1);
    sum += next;
    if (Math.abs(next) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const SCALAR_OPS: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => Math.pow(a, b),
  Tanh: (a) => Math.tanh(a),
  Erf: (a) => erf(a),
  Sqrt: (a) => Math.sqrt(a),
  Neg: (a) => -a,
};

/**
 * Every GELU among `nodes` (a topologically ordered list, the gradient path), keyed by the node that
 * produces its output. `scalar` gives a constant's value where it is a single number.
 */
export function findGelus(
  nodes: readonly NodeProto[],
  index: GraphIndex,
  scalar: (tensor: string) => number | null,
  graphOutputs: ReadonlySet<string>,
): Map<NodeProto, GeluInGraph> {
  const found = new Map<NodeProto, GeluInGraph>();
  const taken = new Set<NodeProto>();
  const order = new Map(nodes.map((n, i) => [n, i]));
  for (const core of nodes) {
    if ((core.opType !== 'Tanh' && core.opType !== 'Erf') || taken.has(core)) continue;
    for (const x of candidateInputs(core, index, scalar)) {
      const gelu = closure(x, index, scalar, order, graphOutputs);
      if (!gelu || !gelu.nodes.has(core) || [...gelu.nodes].some((n) => taken.has(n))) continue;
      const approximation = identify(gelu.nodes, x, gelu.y, scalar, order);
      if (!approximation) continue;
      gelu.nodes.forEach((n) => taken.add(n));
      found.set(index.producer.get(gelu.y)!, { x, y: gelu.y, approximation, nodes: gelu.nodes });
      break;
    }
  }
  return found;
}

/** Tensors upstream of the core through pointwise ops: one of them is the GELU's input. */
function candidateInputs(core: NodeProto, index: GraphIndex, scalar: (t: string) => number | null): string[] {
  const out: string[] = [];
  const queue = core.input.filter((t) => t && scalar(t) === null);
  const seen = new Set<string>();
  while (queue.length && out.length < MAX_NODES) {
    const t = queue.shift()!;
    if (seen.has(t)) continue;
    seen.add(t);
    out.push(t);
    const producer = index.producer.get(t);
    if (producer && POINTWISE.has(producer.opType))
      for (const i of producer.input) if (i && scalar(i) === null) queue.push(i);
  }
  return out;
}

/** The pointwise nodes computed from x and scalars alone, if exactly one of their values leaves them. */
function closure(
  x: string,
  index: GraphIndex,
  scalar: (t: string) => number | null,
  order: ReadonlyMap<NodeProto, number>,
  graphOutputs: ReadonlySet<string>,
): { nodes: Set<NodeProto>; y: string } | null {
  const nodes = new Set<NodeProto>();
  const values = new Set([x]);
  const queue = [x];
  while (queue.length) {
    for (const n of index.consumersOf(queue.shift()!)) {
      if (nodes.has(n) || !POINTWISE.has(n.opType) || !order.has(n)) continue;
      if (!n.input.every((i) => values.has(i) || scalar(i) !== null)) continue;
      nodes.add(n);
      if (nodes.size > MAX_NODES) return null;
      values.add(n.output[0]);
      queue.push(n.output[0]);
    }
  }
  const exits = [...nodes]
    .map((n) => n.output[0])
    .filter((t) => graphOutputs.has(t) || index.consumersOf(t).some((c) => !nodes.has(c)));
  return exits.length === 1 ? { nodes, y: exits[0] } : null;
}

/** Which GELU the nodes compute, told apart by evaluating them (in float64) at points where the forms differ. */
function identify(
  nodes: ReadonlySet<NodeProto>,
  x: string,
  y: string,
  scalar: (t: string) => number | null,
  order: ReadonlyMap<NodeProto, number>,
): 'tanh' | 'erf' | null {
  const sorted = [...nodes].sort((a, b) => order.get(a)! - order.get(b)!);
  const evaluate = (v: number) => {
    const values = new Map([[x, v]]);
    for (const n of sorted) {
      const [a, b] = n.input.map((i) => values.get(i) ?? scalar(i)!);
      values.set(n.output[0], SCALAR_OPS[n.opType](a, b));
    }
    return values.get(y)!;
  };
  const points = [-5, -3.1, -2, -1.3, -0.7, -0.2, 0, 0.3, 0.9, 1.6, 2.4, 4.2];
  const matches = (f: (v: number) => number) =>
    points.every((v) => Math.abs(evaluate(v) - f(v)) <= 1e-6 * Math.max(1, Math.abs(f(v))));
  if (matches(geluTanh)) return 'tanh';
  if (matches(geluErf)) return 'erf';
  return null;
}

/** g · gelu′(x), from x alone. */
export function geluBackward(b: GraphBuilder, gelu: GeluInGraph, g: string): string {
  const { x } = gelu;
  const x2 = b.op('Mul', [x, x]);
  if (gelu.approximation === 'tanh') {
    // gelu′ = h + x·(1 − t²)·(c/2)(1 + 3a·x²), h = (1 + t)/2, t = tanh(c·x·(1 + a·x²)); 1 − t² = 4h(1 − h)
    const c = SQRT_2_OVER_PI;
    const t = b.op('Tanh', [b.op('Mul', [x, b.op('Add', [b.op('Mul', [x2, b.scalar(c * TANH_CUBIC)]), b.scalar(c)])])]);
    const h = b.op('Add', [b.op('Mul', [t, b.scalar(0.5)]), b.scalar(0.5)]);
    const hh = b.op('Sub', [h, b.op('Mul', [h, h])]); // h(1 − h) = (1 − t²)/4
    const k = b.op('Add', [b.op('Mul', [x2, b.scalar(6 * c * TANH_CUBIC)]), b.scalar(2 * c)]); // 4·(c/2)(1 + 3a·x²)
    const slope = b.op('Add', [h, b.op('Mul', [b.op('Mul', [hh, k]), x])]);
    return b.op('Mul', [g, slope]);
  }
  // gelu′ = Φ(x) + x·φ(x): (1 + erf(x/√2))/2 + x·exp(−x²/2)/√(2π)
  const cdf = b.op('Add', [
    b.op('Mul', [b.op('Erf', [b.op('Mul', [x, b.scalar(Math.SQRT1_2)])]), b.scalar(0.5)]),
    b.scalar(0.5),
  ]);
  const pdf = b.op('Exp', [b.op('Add', [b.op('Mul', [x2, b.scalar(-0.5)]), b.scalar(-0.5 * Math.log(2 * Math.PI))])]);
  return b.op('Mul', [g, b.op('Add', [cdf, b.op('Mul', [x, pdf])])]);
}
