import { usageFault } from '../errors.js';
import { gradientSession, meanGradients, runGradients, type GradientSource } from '../gradients/session.js';
import type { Model } from '../model/types.js';
import type { RunContext } from '../runtime/context.js';
import { runWithHooks, selectWith, type Site, type Tensor, type WriteHook } from '../runtime/hooks.js';

/** A unit of the model that writes into the residual stream: one attention head, or one layer's feed-forward block. */
export type Component = { kind: 'head'; layer: number; head: number } | { kind: 'mlp'; layer: number };

export const componentName = (c: Component): string => (c.kind === 'head' ? `L${c.layer}H${c.head}` : `L${c.layer}MLP`);

/** The hook site of a component's output: the head's probabilities × values, or the feed-forward activation. */
export const componentSite = (c: Component): Site =>
  c.kind === 'head' ? `layer.${c.layer}.attn.head.${c.head}.out` : `layer.${c.layer}.mlp.act`;

/**
 * The behaviour a circuit carries, as TransformerLens's IOI notebooks measure it: the logit difference
 * between `answer` and `wrong` at the last position, on a clean prompt and on a corrupted one of the same
 * token length (where the behaviour should fail).
 */
export interface CircuitTask {
  clean: readonly number[];
  corrupted: readonly number[];
  answer: number;
  wrong: number;
}

/**
 * Every head and every feed-forward block, layer by layer (heads first within a layer). Heads are counted
 * from the attention patterns of one run of `ids` (query heads, grouped-query attention included).
 */
export async function componentsOf(model: Model, ids: readonly number[], run?: RunContext): Promise<Component[]> {
  const { structure } = await model.instrumented();
  const patterns = structure.layers.map((_, l): Site => `layer.${l}.attn.pattern`);
  const [hooked] = await runWithHooks(model, [ids], { read: patterns }, run);
  return structure.layers.flatMap((_, l): Component[] => [
    ...Array.from({ length: hooked.cache.get(patterns[l]).dims[0] }, (_, h): Component => ({
      kind: 'head',
      layer: l,
      head: h,
    })),
    ...(structure.mlp[l] ? [{ kind: 'mlp', layer: l } as Component] : []),
  ]);
}

export function checkTask(model: Model, task: CircuitTask): void {
  if (model.task !== 'causal-lm')
    throw usageFault('model', `circuits need a causal LM; '${model.id}' is a ${model.task}`);
  if (task.clean.length !== task.corrupted.length)
    throw usageFault(
      'corrupted',
      `{param} must have the clean prompt's token length (${task.clean.length} tokens; it has ${task.corrupted.length})`,
    );
  if (task.answer === task.wrong) throw usageFault('wrong', '{param} must differ from the answer');
}

/** The metric on one output: logits[answer] − logits[wrong] at the last position of [position, vocab] logits. */
export function logitDifference(logits: Tensor, task: CircuitTask): number {
  const [T, V] = logits.dims;
  const last = (T - 1) * V;
  return logits.data[last + task.answer] - logits.data[last + task.wrong];
}

/** A component's activation for one sequence, from a run's values: a head's [position, d_head], an MLP's [position, d_mlp]. */
export interface Activations {
  /** Per layer, the heads' outputs [head, position, d_head] and the feed-forward activation [position, d_mlp]. */
  heads: Tensor[];
  mlps: Tensor[];
}

/** The slice of one component in `Activations`, flattened over its positions and width. */
export function componentValues(a: Activations, c: Component): Float32Array {
  if (c.kind === 'mlp') return a.mlps[c.layer].data;
  const [, T, d] = a.heads[c.layer].dims;
  return a.heads[c.layer].data.subarray(c.head * T * d, (c.head + 1) * T * d);
}

/**
 * One forward and backward pass of the clean prompt through the components gradient graph: the metric,
 * every component's activation, and the metric's gradient with respect to each (at the clean input).
 * With `drop`, that layer's components are held constant in the backward pass (GradDrop's stop-gradient).
 */
export async function cleanGradients(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  run?: RunContext,
  drop?: number,
): Promise<{ metric: number; values: Activations; gradients: Activations }> {
  const source: GradientSource = drop === undefined ? { kind: 'components' } : { kind: 'components', drop };
  const gs = await gradientSession(model, source, 'logit');
  const T = task.clean.length;
  const [row] = await runGradients(
    model,
    gs,
    [{ ids: task.clean, positions: [T - 1, T - 1], index: [task.answer, task.wrong], weight: [1, -1] }],
    run,
  );
  // One row runs alone: its padded length is its own.
  const layers = gs.gradients.length / 2;
  const heads = (l: number) => components.filter((c) => c.kind === 'head' && c.layer === l).length;
  const asActivations = (tensors: Float32Array[]): Activations => ({
    heads: tensors.slice(0, layers).map((data, l) => ({ data, dims: [heads(l), T, data.length / (heads(l) * T)] })),
    mlps: tensors.slice(layers).map((data) => ({ data, dims: [T, data.length / T] })),
  });
  return { metric: row.score, values: asActivations(row.values), gradients: asActivations(row.gradients) };
}

/** Each sequence's component activations, read through the hook door (one forward pass each), by component name. */
export async function readActivations(
  model: Model,
  sequences: readonly (readonly number[])[],
  components: readonly Component[],
  run?: RunContext,
): Promise<Map<string, Tensor>[]> {
  const hooked = await runWithHooks(model, sequences, { read: components.map(componentSite) }, run);
  return hooked.map((h) => new Map(components.map((c) => [componentName(c), h.cache.get(componentSite(c))])));
}

/** One layer's gradients at its attention inputs, laid out as the hook sites read them (one sequence). */
export interface ReceiverGradients {
  q: Float32Array; // [head, query, d_head]
  k: Float32Array; // [head, d_head, key]
  v: Float32Array; // [head, key, d_head]
}

/** Path-averaged gradients: at every component's output, and (when asked) at every layer's attention inputs. */
export interface PathGradients {
  components: Map<string, Float32Array>;
  receivers: ReceiverGradients[] | null;
}

/**
 * The metric's gradient with respect to every component, averaged over `steps` inputs on the straight path
 * from the corrupted prompt's word embeddings to the clean one's (midpoints; EAP-IG with interpolated
 * inputs, Hanna et al. 2024): all steps run as one batch of forward and backward passes. With `receivers`,
 * also the gradient at every head's queries, keys and values, averaged on the same path: EAP-IG's gradient
 * at the receivers' inputs, which sees through a softmax saturated at the clean input.
 */
export async function pathGradients(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  steps: number,
  run?: RunContext,
  receivers = false,
): Promise<PathGradients> {
  const source: GradientSource = receivers
    ? { kind: 'components', from: 'embeddings', receivers: true }
    : { kind: 'components', from: 'embeddings' };
  const gs = await gradientSession(model, source, 'logit');
  const T = task.clean.length;
  const rows_ = (ids: readonly number[]) => ids.map((id) => gs.embeddings!.row(id));
  const [clean, corrupted] = [rows_(task.clean), rows_(task.corrupted)];
  const width = gs.embeddings!.width;
  const rows = Array.from({ length: steps }, (_, k) => {
    const alpha = (k + 0.5) / steps;
    const cut = new Float32Array(T * width);
    for (let t = 0; t < T; t++)
      for (let j = 0; j < width; j++) cut[t * width + j] = corrupted[t][j] + alpha * (clean[t][j] - corrupted[t][j]);
    return { ids: task.clean, cut, positions: [T - 1, T - 1], index: [task.answer, task.wrong], weight: [1, -1] };
  });
  // Summed along the path as each batch of steps comes back: one batch's gradients held, not every step's.
  const means = await meanGradients(model, gs, rows, run);
  const layers = gs.gradients.length / (receivers ? 5 : 2);
  const byComponent = new Map(
    components.map((c) => {
      if (c.kind === 'mlp') return [componentName(c), means[layers + c.layer]];
      const heads = components.filter((x) => x.kind === 'head' && x.layer === c.layer).length;
      const per = means[c.layer].length / heads;
      return [componentName(c), means[c.layer].subarray(c.head * per, (c.head + 1) * per)];
    }),
  );
  const inputs = receivers
    ? Array.from({ length: layers }, (_, l) => ({
        q: means[2 * layers + l],
        k: means[3 * layers + l],
        v: means[4 * layers + l],
      }))
    : null;
  return { components: byComponent, receivers: inputs };
}

/**
 * Write hooks that replace, in each row of a run, the components `chosen(row, component)` by
 * `source(component)` at every position, exactly (selectWith: a Where in the graph, per layer's heads and
 * feed-forward block), so that the run is one pass of the whole graph, batched like any other.
 */
function replacing(
  components: readonly Component[],
  source: (c: Component) => Tensor,
  chosen: (row: number, c: Component) => boolean,
): Partial<Record<Site, WriteHook>> {
  const write: Partial<Record<Site, WriteHook>> = {};
  const layers = [...new Set(components.map((c) => c.layer))];
  for (const layer of layers) {
    const heads = components.filter((c) => c.kind === 'head' && c.layer === layer);
    const mlp = components.filter((c) => c.kind === 'mlp' && c.layer === layer);
    if (heads.length) write[`layer.${layer}.attn.heads.out`] = replacingGroup(heads, source, chosen);
    if (mlp.length) write[`layer.${layer}.mlp.act`] = replacingGroup(mlp, source, chosen);
  }
  return write;
}

/**
 * One site's hook: its components (a layer's heads, in order, or its feed-forward block) are the site's
 * axis 1 ([batch, head, query, d_head]) or the whole site ([batch, position, d_mlp]).
 */
function replacingGroup(
  group: readonly Component[],
  source: (c: Component) => Tensor,
  chosen: (row: number, c: Component) => boolean,
): WriteHook {
  const [T, d] = source(group[0]).dims;
  const slot = (c: Component) => (c.kind === 'head' ? c.head : 0);
  const n = Math.max(...group.map(slot)) + 1;
  // The mask spans the head axis: a layer given only some of its heads would broadcast onto the others.
  if (group.length !== n || new Set(group.map(slot)).size !== n)
    throw new Error(
      `layer ${group[0].layer}: replacing needs every head of the layer (got ${group.map(componentName)})`,
    );
  const head = group[0].kind === 'head';
  const value = new Float32Array(n * T * d); // [1, head, position, width] or [1, position, width]
  for (const c of group) value.set(source(c).data.subarray(0, T * d), slot(c) * T * d);
  return selectWith(({ start, end }) => {
    const mask = new Float32Array((end - start) * n);
    for (let r = start; r < end; r++) for (const c of group) mask[(r - start) * n + slot(c)] = chosen(r, c) ? 1 : 0;
    return head
      ? { mask: { data: mask, dims: [end - start, n, 1, 1] }, value: { data: value, dims: [1, n, T, d] } }
      : { mask: { data: mask, dims: [end - start, 1, 1] }, value: { data: value, dims: [1, T, d] } };
  });
}

/**
 * Exact activation patching: for every component of `patched` (default: all of `components`), the clean
 * prompt run with that component's output replaced, at every position, by `source(component)` (the
 * corrupted activation, zeros, a mean). One batched run: row r patches the r-th alone (the last row patches
 * nothing), so the sweep costs as many forward passes as patched components, plus one. `components` must be
 * every component of the model (componentsOf): a layer's heads are selected along its head axis, whose
 * length they give.
 */
export async function patchEach(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  source: (c: Component) => Tensor,
  run?: RunContext,
  patched: readonly Component[] = components,
): Promise<{ clean: number; patched: number[] }> {
  const rows = patched.length + 1;
  const sequences = Array.from({ length: rows }, () => task.clean);
  const index = new Map(patched.map((c, r) => [componentName(c), r]));
  const write = replacing(components, source, (r, c) => index.get(componentName(c)) === r);
  const out = await runWithHooks(model, sequences, { write, logits: 'last' }, run);
  const metrics = out.map((o) => logitDifference(o.logits, task));
  return { clean: metrics[rows - 1], patched: metrics.slice(0, patched.length) };
}

/**
 * The clean prompt run with every component outside each circuit replaced by `source` (ablated): one row
 * per circuit, so a faithfulness curve over circuit sizes is one batch.
 */
export async function ablateOutside(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  circuits: readonly (readonly Component[])[],
  source: (c: Component) => Tensor,
  run?: RunContext,
): Promise<number[]> {
  const sequences = circuits.map(() => task.clean);
  const inside = circuits.map((circuit) => new Set(circuit.map(componentName)));
  const write = replacing(components, source, (r, c) => !inside[r].has(componentName(c)));
  const out = await runWithHooks(model, sequences, { write, logits: 'last' }, run);
  return out.map((o) => logitDifference(o.logits, task));
}
