import { runtimeError } from '../errors.js';
import { readGradientGraph, readGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { isQuantized } from '../onnx/canonicalize.js';
import { hasFloat16Weights } from '../onnx/float16.js';
import { GraphIndex } from '../onnx/graph.js';
import { findTransformerStructure, StructureError } from '../onnx/instrument.js';
import type { ModelProto } from '../onnx/proto.js';
import { readUnembedding, UnembeddingError, type Matrix, type Unembedding } from '../onnx/unembedding.js';
import type { RunContext } from '../runtime/context.js';
import { derivedOnce } from '../runtime/derived.js';
import { runWithHooks, type Site, type Tensor } from '../runtime/hooks.js';
import { componentName, componentSite, type CircuitTask, type Component } from './components.js';

/**
 * Direct logit attribution (TransformerLens's decompose_resid with apply_ln): the last residual stream is
 * the sum of what the embeddings, each head and each feed-forward block wrote into it, and with the final
 * norm's scale σ frozen at its value on the run, the logit difference answer − wrong is linear in it. Each
 * writer's term is its write · v / σ, with v the (centred, for LayerNorm) γ ⊙ (W_U[answer] − W_U[wrong]).
 */
export interface DirectLogitAttribution {
  /** The final norm the scale was frozen in. */
  norm: Unembedding['norm']['kind'];
  /** Per position, the logit difference answer − wrong the model gives there. */
  logitDifference: number[];
  /** Per component (in the order given), its term at each position. */
  components: { component: string; perPosition: number[] }[];
  /** Per position, the embeddings' term (token and position). */
  embeddings: number[];
  /** Per position, the constant terms: the output projections' biases, the final norm's β and the LM head's bias. */
  biases: number[];
  /** Per position, the logit difference less every term: 0 up to float rounding when the decomposition is complete. */
  residual: number[];
  /**
   * Only where the model's weights are quantized or float16: the terms read the weights of its float shadow (dequantized
   * or widened, as its gradients do) while the activations and the logit difference are the model's own, so the
   * residual is what its rounded activations add; `totalDifference` is its largest size over the positions.
   */
  diagnostics?: { graph: 'dequantized shadow'; totalDifference: number };
}

/** The readout of the logit difference at each position, with the final norm's scale frozen there. */
export interface Readout {
  /** σ at each position of the run // [position] */
  scale: number[];
  /** v: what one unit of residual stream adds to the logit difference before the scale // [d_model] */
  direction: Float32Array;
  /** The terms that do not pass through the scale: β · (W_U[answer] − W_U[wrong]) + b_U[answer] − b_U[wrong]. */
  offset: number;
  /** A component's readout in its own activation space: its output projection times v // [width] */
  through(c: Component): Float32Array;
}

/**
 * The graph the unembedding and projections are read from: the model's own, or where its weights are
 * quantized or float16, its float shadow (the weights dequantized or widened, as gradients read them).
 */
function weightGraph(model: Model): { graph: ModelProto; shadow: boolean } {
  const own = readGraph(model);
  if (!isQuantized(own) && !hasFloat16Weights(own)) return { graph: own, shadow: false };
  const { model: graph, dequantized } = readGradientGraph(model);
  return { graph, shadow: dequantized };
}

function unembeddingOf(model: Model): Promise<Unembedding & { shadow: boolean }> {
  return derivedOnce(model, 'circuit|unembedding', async () => {
    const { graph, shadow } = weightGraph(model);
    try {
      // The shadow's tensors are not the model's: its structure is found afresh, layer for layer the same.
      const structure = shadow
        ? findTransformerStructure(new GraphIndex(graph.graph))
        : (await model.instrumented()).structure;
      return { ...readUnembedding(graph, structure, model.signature.logits), shadow };
    } catch (e) {
      if (e instanceof UnembeddingError || e instanceof StructureError)
        throw runtimeError(`'${model.id}': ${e.message}`);
      throw e;
    }
  });
}

/** M v for a [rows, cols] matrix M and v [cols]: rows `from` … `from + count`. */
function times(m: Matrix, v: Float32Array, from = 0, count = m.rows): Float32Array {
  const out = new Float32Array(count);
  for (let r = 0; r < count; r++) {
    let s = 0;
    const row = (from + r) * m.cols;
    for (let j = 0; j < m.cols; j++) s += m.data[row + j] * v[j];
    out[r] = s;
  }
  return out;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>, offset = 0, n = b.length): number => {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[offset + j] * b[j];
  return s;
};

/** The readout of answer − wrong for a run whose last residual stream is `residual` [position, d_model]. */
async function readoutOf(
  model: Model,
  task: CircuitTask,
  residual: Tensor,
  components: readonly Component[],
): Promise<Readout> {
  const u = await unembeddingOf(model);
  const { weight: W, norm } = u;
  const d = W.rows;
  // W_U[answer] − W_U[wrong] // [d_model]
  const delta = Float32Array.from(
    { length: d },
    (_, j) => W.data[j * W.cols + task.answer] - W.data[j * W.cols + task.wrong],
  );
  const direction = delta.map((x, j) => x * (norm.weight?.[j] ?? 1));
  const offset = (norm.bias ? dot(norm.bias, delta) : 0) + (u.bias ? u.bias[task.answer] - u.bias[task.wrong] : 0);
  if (norm.kind === 'layer') {
    // (x − μ) · v = x · (v − mean v): the centring moves onto the direction.
    const mean = direction.reduce((a, b) => a + b, 0) / d;
    for (let j = 0; j < d; j++) direction[j] -= mean;
  }
  const [T] = residual.dims;
  const scale = Array.from({ length: T }, (_, t) => {
    if (norm.kind === 'none') return 1;
    const x = residual.data.subarray(t * d, (t + 1) * d);
    const mu = norm.kind === 'layer' ? x.reduce((a, b) => a + b, 0) / d : 0;
    return Math.sqrt(x.reduce((a, b) => a + (b - mu) ** 2, 0) / d + norm.epsilon);
  });
  const through = (c: Component): Float32Array => {
    if (c.kind === 'mlp') {
      const out = u.mlpOut[c.layer];
      if (!out)
        throw runtimeError(`'${model.id}': layer ${c.layer}'s feed-forward output projection is not a plain weight`);
      return times(out.weight, direction);
    }
    const proj = u.attentionOut[c.layer]?.weight;
    if (!proj)
      throw runtimeError(`'${model.id}': layer ${c.layer}'s attention output projection is not a plain weight`);
    const headDim = proj.rows / components.filter((x) => x.kind === 'head' && x.layer === c.layer).length;
    return times(proj, direction, c.head * headDim, headDim);
  };
  return { scale, direction, offset, through };
}

/** A component's term at each position: its activation [position, width] read out through `through`, over σ. */
export function directTerms(readout: Readout, through: Float32Array, activation: Tensor): number[] {
  const [T, width] = activation.dims;
  return Array.from({ length: T }, (_, t) => dot(activation.data, through, t * width, width) / readout.scale[t]);
}

/**
 * Direct logit attribution of `ids` (the task's clean prompt): one forward pass reads every component's
 * output, the embeddings and the last residual stream through the hook door; the unembedding, the final
 * norm and the output projections are read from the graph.
 */
export async function directLogitAttribution(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  run?: RunContext,
): Promise<{ attribution: DirectLogitAttribution; readout: Readout }> {
  const { structure } = await model.instrumented();
  const L = structure.layers.length;
  const last: Site = `layer.${L - 1}.resid.post`;
  const [hooked] = await runWithHooks(
    model,
    [task.clean],
    { read: [...components.map(componentSite), 'embed', last] },
    run,
  );
  const readout = await readoutOf(model, task, hooked.cache.get(last), components);
  const u = await unembeddingOf(model);
  const [T, V] = hooked.logits.dims;
  const logitDifference = Array.from(
    { length: T },
    (_, t) => hooked.logits.data[t * V + task.answer] - hooked.logits.data[t * V + task.wrong],
  );
  const terms = components.map((c) => ({
    component: componentName(c),
    perPosition: directTerms(readout, readout.through(c), hooked.cache.get(componentSite(c))),
  }));
  const embeddings = directTerms(readout, readout.direction, hooked.cache.get('embed'));
  const biasSum = [...u.attentionOut, ...u.mlpOut]
    .map((m) => m?.bias ?? null)
    .reduce((s, b) => s + (b ? dot(b, readout.direction) : 0), 0);
  const biases = readout.scale.map((s) => biasSum / s + readout.offset);
  const residual = logitDifference.map(
    (m, t) => m - embeddings[t] - biases[t] - terms.reduce((s, c) => s + c.perPosition[t], 0),
  );
  const diagnostics = u.shadow && {
    diagnostics: { graph: 'dequantized shadow' as const, totalDifference: Math.max(...residual.map(Math.abs)) },
  };
  return {
    attribution: {
      norm: u.norm.kind,
      logitDifference,
      components: terms,
      embeddings,
      biases,
      residual,
      ...diagnostics,
    },
    readout,
  };
}

/**
 * --method dla: each component's direct effect of patching its corrupted activation into the clean run,
 * the change of its term at the last position with the clean run's scale frozen (what exact patching
 * would give if nothing downstream read the component), beside the clean run's whole decomposition.
 */
export async function directEffects(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  [clean, corrupted]: Map<string, Tensor>[],
  run?: RunContext,
): Promise<{ attribution: DirectLogitAttribution; effects: { effect: number; perPosition: null }[] }> {
  const { attribution, readout } = await directLogitAttribution(model, task, components, run);
  const T = task.clean.length;
  const effects = components.map((c) => {
    const through = readout.through(c);
    const at = (a: Map<string, Tensor>) => directTerms(readout, through, a.get(componentName(c))!)[T - 1];
    return { effect: at(corrupted) - at(clean), perPosition: null };
  });
  return { attribution, effects };
}
