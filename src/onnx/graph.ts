import type { GraphProto, NodeProto } from './proto.js';

/**
 * Read-only structural index over a graph: who produces and who consumes each tensor,
 * which tensors are constant (initializers, Constant nodes and everything computed only
 * from them) and which depend on a graph input.
 */
export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly initializers = new Set<string>();
  readonly inputs: Set<string>;
  /** Tensors whose value depends on at least one graph input. */
  readonly dynamic = new Set<string>();
  readonly order: NodeProto[];
  readonly position = new Map<NodeProto, number>();

  constructor(readonly graph: GraphProto) {
    for (const init of graph.initializer) this.initializers.add(init.name);
    this.inputs = new Set(graph.input.map((v) => v.name).filter((n) => !this.initializers.has(n)));
    for (const node of graph.node) {
      for (const out of node.output) if (out) this.producer.set(out, node);
      for (const inp of node.input) {
        if (!inp) continue;
        const list = this.consumers.get(inp);
        if (list) list.push(node);
        else this.consumers.set(inp, [node]);
      }
    }
    this.order = topologicalOrder(graph.node, this.producer);
    this.order.forEach((node, i) => this.position.set(node, i));
    for (const name of this.inputs) this.dynamic.add(name);
    for (const node of this.order) {
      if (node.input.some((i) => i && this.dynamic.has(i))) for (const o of node.output) if (o) this.dynamic.add(o);
    }
  }

  consumersOf(tensor: string): NodeProto[] {
    return this.consumers.get(tensor) ?? [];
  }

  isDynamic(tensor: string): boolean {
    return this.dynamic.has(tensor);
  }

  /** Every node reachable forward from `tensor`. */
  downstreamNodes(tensor: string): Set<NodeProto> {
    const seen = new Set<NodeProto>();
    const stack = [...this.consumersOf(tensor)];
    while (stack.length) {
      const node = stack.pop()!;
      if (seen.has(node)) continue;
      seen.add(node);
      for (const o of node.output) for (const c of this.consumersOf(o)) if (!seen.has(c)) stack.push(c);
    }
    return seen;
  }

  /** Follow single-input pass-through ops (Cast, Identity, Dropout…) forward from a tensor. */
  followPassThrough(tensor: string, ops: ReadonlySet<string>): string[] {
    const reached = [tensor];
    const stack = [tensor];
    while (stack.length) {
      const t = stack.pop()!;
      for (const c of this.consumersOf(t)) {
        if (ops.has(c.opType) && c.output[0]) {
          reached.push(c.output[0]);
          stack.push(c.output[0]);
        }
      }
    }
    return reached;
  }
}

function topologicalOrder(nodes: NodeProto[], producer: Map<string, NodeProto>): NodeProto[] {
  // ONNX requires nodes to be stored topologically sorted; verify cheaply and sort only if needed.
  const ready = new Set<string>();
  let sorted = true;
  for (const node of nodes) {
    for (const i of node.input) if (i && producer.has(i) && !ready.has(i)) sorted = false;
    for (const o of node.output) ready.add(o);
    if (!sorted) break;
  }
  if (sorted) return nodes.slice();
  const result: NodeProto[] = [];
  const done = new Set<NodeProto>();
  const visit = (node: NodeProto, depth: number) => {
    if (done.has(node)) return;
    if (depth > 100_000) throw new Error('graph has a cycle');
    for (const i of node.input) {
      const p = i ? producer.get(i) : undefined;
      if (p && p !== node) visit(p, depth + 1);
    }
    done.add(node);
    result.push(node);
  };
  for (const node of nodes) visit(node, 0);
  return result;
}

/** The nodes that the `keep` tensors depend on, and every tensor on the way (theirs, and the inputs they read). */
export function dependencies(
  nodes: readonly NodeProto[],
  keep: readonly string[],
): { nodes: Set<NodeProto>; tensors: Set<string> } {
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output) if (o) producer.set(o, n);
  const needed = new Set<NodeProto>();
  const tensors = new Set<string>();
  const stack = [...keep];
  while (stack.length) {
    const t = stack.pop()!;
    if (tensors.has(t)) continue;
    tensors.add(t);
    const p = producer.get(t);
    if (p && !needed.has(p)) {
      needed.add(p);
      for (const i of p.input) if (i) stack.push(i);
    }
  }
  return { nodes: needed, tensors };
}
