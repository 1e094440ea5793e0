import { AttributeType, type GraphProto, type NodeProto, type TensorProto } from '../onnx/proto.js';

/** Every tensor name of nodes (and their subgraphs, which read outer names too) and initializers, mapped. */
function renameAll(nodes: NodeProto[], rename: (name: string) => string): NodeProto[] {
  return nodes.map((n) => ({
    ...n,
    name: n.name ? rename(n.name) : n.name,
    input: n.input.map((i) => (i ? rename(i) : i)),
    output: n.output.map((o) => (o ? rename(o) : o)),
    attribute: n.attribute.map((a) => (a.g ? { ...a, g: renameGraph(a.g, rename) } : a)),
  }));
}

/** The graph with every tensor name mapped, its subgraphs' included. */
export function renameGraph(g: GraphProto, rename: (name: string) => string): GraphProto {
  return {
    ...g,
    node: renameAll(g.node, rename),
    initializer: g.initializer.map((t) => ({ ...t, name: rename(t.name) })),
    input: g.input.map((v) => ({ ...v, name: rename(v.name) })),
    output: g.output.map((v) => ({ ...v, name: rename(v.name) })),
    valueInfo: [],
  };
}

/**
 * A merged decoder's graph as it runs without a cache: each If on use_cache_branch replaced by its else branch
 * (Optimum's merged decoder keeps the no-cache decoder, or the cross keys and values it computes, there),
 * itself freed of such Ifs, inlined where the If stood with its own tensors renamed apart, and its outputs
 * passed on under the If's output names. Attention probabilities and gradients inside it then become tensors
 * of the main graph.
 */
export function withoutCacheBranch(graph: GraphProto, prefix = 'interp.else'): GraphProto {
  const node: NodeProto[] = [];
  const initializer: TensorProto[] = [...graph.initializer];
  let k = 0;
  for (const n of graph.node) {
    const branch =
      n.opType === 'If' && n.input[0] === 'use_cache_branch'
        ? n.attribute.find((a) => a.name === 'else_branch' && a.type === AttributeType.GRAPH)?.g
        : undefined;
    if (!branch) {
      node.push(n);
      continue;
    }
    const scope = `${prefix}${k++}/`;
    const flat = withoutCacheBranch(branch, `${scope}else`);
    const own = new Set([...flat.initializer.map((t) => t.name), ...flat.node.flatMap((m) => m.output)]);
    const inlined = renameGraph(flat, (name) => (own.has(name) ? scope + name : name));
    node.push(...inlined.node);
    initializer.push(...inlined.initializer);
    inlined.output.forEach((o, j) => {
      if (n.output[j])
        node.push({
          input: [o.name],
          output: [n.output[j]],
          name: `${scope}out${j}`,
          opType: 'Identity',
          domain: '',
          attribute: [],
        });
    });
  }
  return { ...graph, node, initializer };
}
