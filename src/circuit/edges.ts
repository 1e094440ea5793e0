import type { Model } from '../model/types.js';
import type { RunContext } from '../runtime/context.js';
import { releasedAfter } from '../runtime/derived.js';
import { replaceWith, runWithHooks, type HookCache, type Site, type Tensor, type WriteHook } from '../runtime/hooks.js';
import { attentionTensors } from '../runtime/sites.js';
import { softmax } from '../util/maths.js';
import {
  componentName,
  logitDifference,
  type CircuitTask,
  type Component,
  type ReceiverGradients,
} from './components.js';

/** Which input of its receiver an edge feeds: a head's queries, keys or values, a feed-forward block, or the logits. */
export type EdgeInput = 'q' | 'k' | 'v' | 'mlp' | 'logits';

export interface Edge {
  sender: string;
  /** A component's name, or 'logits'. */
  receiver: string;
  input: EdgeInput;
  /** The estimated effect on the metric of patching the sender's corrupted output into this input alone. */
  score: number;
}

export const edgeName = (e: Edge): string =>
  e.input === 'logits'
    ? `${e.sender} → logits`
    : `${e.sender} → ${e.receiver}${e.input === 'mlp' ? '' : `.${e.input}`}`;

/** How an edge into a head's queries or keys is scored: linearly through the softmax (EAP), or by recomputing it (AtP*'s QK fix). */
export type SoftmaxRule = 'linear' | 'recompute';

/** What the edge scores need: the clean and corrupted runs' component outputs, and the metric's gradient at each. */
export interface EdgeInputs {
  task: CircuitTask;
  components: readonly Component[];
  /** ∂metric/∂(component output), [position, width] flattened, at the clean input (or averaged on a path). */
  gradientOf: (c: Component) => Float32Array;
  rule: SoftmaxRule;
  /**
   * Per layer, ∂metric/∂(queries, keys, values) averaged on the integrated-gradients path (EAP-IG): when
   * given, an edge into a head is its carried change times these, and `rule` is not used.
   */
  receivers?: readonly ReceiverGradients[] | null;
}

const headsSite = (l: number): Site => `layer.${l}.attn.heads.out`;
const mlpSite = (l: number): Site => `layer.${l}.mlp.act`;
const attnSites = (l: number): Site[] => ['scores', 'q', 'k', 'v'].map((k) => `layer.${l}.attn.${k}` as Site);

/** How many edges `edgeScores` scores: each head's q, k, v and each feed-forward block from every earlier component (a block also from its own layer's heads), and the logits from all. */
export function edgeCount(components: readonly Component[]): number {
  let n = components.length;
  for (const r of components) {
    const earlier = components.filter((c) => c.layer < r.layer).length;
    n +=
      r.kind === 'head'
        ? 3 * earlier
        : earlier + components.filter((c) => c.layer === r.layer && c.kind === 'head').length;
  }
  return n;
}

/**
 * Edge attribution (EAP, Hanna et al. 2024): every edge from a component's output to a later component's
 * input (a head's queries, keys, values; a feed-forward block; the logits) through the residual stream,
 * scored as the change the sender's corrupted output makes at the receiver's input alone, times the
 * metric's gradient there. The change is carried exactly to the receiver, with every component between
 * held at its clean output (one batch per receiving layer, a row per sender); the gradient is taken at
 * the receiver's attention pattern (queries, keys: through the softmax, linearly or recomputed),
 * head output (values) and feed-forward activation; the logits edge is the sender's direct effect.
 */
export async function edgeScores(model: Model, inputs: EdgeInputs, run?: RunContext): Promise<Edge[]> {
  const { task, components } = inputs;
  const layers = 1 + Math.max(...components.map((c) => c.layer));
  const mlps = new Set(components.filter((c) => c.kind === 'mlp').map((c) => c.layer));
  const reads = (l: number): Site[] => [...attnSites(l), ...(mlps.has(l) ? [mlpSite(l)] : [])];
  const whole = Array.from({ length: layers }, (_, l) => [headsSite(l), ...reads(l)]).flat();
  const [clean, corrupted] = await runWithHooks(model, [task.clean, task.corrupted], { read: whole }, run);
  const scales = (await attentionTensors(model)).map((a) => a.scale);
  const cleanMetric = logitDifference(clean.logits, task);
  const edges: Edge[] = [];
  for (let l = 0; l <= layers; l++) {
    // Senders: every component before layer l; a feed-forward receiver also hears its own layer's heads.
    const senders = components.filter((c) => c.layer < l || (c.layer === l && c.kind === 'head' && mlps.has(l)));
    if (!senders.length) continue;
    const write = frozenWrites(senders, Math.min(l + 1, layers), clean.cache, corrupted.cache, mlps, l);
    // Each receiving layer's hooked graph (fed at different sites) is its own session: released after its layer.
    const rows = await releasedAfter(() =>
      runWithHooks(
        model,
        senders.map(() => task.clean),
        { read: l < layers ? reads(l) : [], write, logits: 'last' },
        run,
      ),
    );
    senders.forEach((sender, r) => {
      const name = componentName(sender);
      if (l === layers) {
        edges.push({
          sender: name,
          receiver: 'logits',
          input: 'logits',
          score: logitDifference(rows[r].logits, task) - cleanMetric,
        });
        return;
      }
      if (sender.layer < l)
        for (const h of components.filter((c): c is Component & { kind: 'head' } => c.kind === 'head' && c.layer === l))
          edges.push(...headEdges(inputs, name, h, clean.cache, rows[r].cache, scales[l]));
      if (mlps.has(l)) {
        const receiver = components.find((c) => c.kind === 'mlp' && c.layer === l)!;
        const score = dot(
          inputs.gradientOf(receiver),
          difference(rows[r].cache.get(mlpSite(l)).data, clean.cache.get(mlpSite(l)).data),
        );
        edges.push({ sender: name, receiver: componentName(receiver), input: 'mlp', score });
      }
    });
  }
  return edges;
}

/**
 * Write hooks that hold every component of layers [0, upTo) at its clean output, except that row r's
 * sender outputs its corrupted one; layer `open`'s feed-forward block is left to compute (it is read).
 */
function frozenWrites(
  senders: readonly Component[],
  upTo: number,
  clean: HookCache,
  corrupted: HookCache,
  mlps: Set<number>,
  open: number,
): Partial<Record<Site, WriteHook>> {
  const write: Partial<Record<Site, WriteHook>> = {};
  const held = (site: Site, patched: (c: Component) => { from: number; to: number } | null) =>
    replaceWith((ctx) => {
      const [c, x] = [clean.get(site), corrupted.get(site)];
      const rows = ctx.end - ctx.start;
      const data = new Float32Array(rows * c.data.length);
      for (let r = 0; r < rows; r++) {
        data.set(c.data, r * c.data.length);
        const span = patched(senders[ctx.start + r]);
        if (span) data.set(x.data.subarray(span.from, span.to), r * c.data.length + span.from);
      }
      return { data, dims: [rows, ...c.dims] };
    });
  for (let l = 0; l < upTo; l++) {
    const [, T, d] = clean.get(headsSite(l)).dims;
    write[headsSite(l)] = held(headsSite(l), (s) =>
      s.kind === 'head' && s.layer === l ? { from: s.head * T * d, to: (s.head + 1) * T * d } : null,
    );
    if (mlps.has(l) && l !== open)
      write[mlpSite(l)] = held(mlpSite(l), (s) =>
        s.kind === 'mlp' && s.layer === l ? { from: 0, to: clean.get(mlpSite(l)).data.length } : null,
      );
  }
  return write;
}

/** The sender's edges into one head's queries, keys and values, from the receiving layer's clean and frozen reads. */
function headEdges(
  inputs: EdgeInputs,
  sender: string,
  head: Component & { kind: 'head' },
  clean: HookCache,
  frozen: HookCache,
  scale: number,
): Edge[] {
  const l = head.layer;
  const at = (cache: HookCache, k: string) => headOf(cache.get(`layer.${l}.attn.${k}` as Site), head.head);
  const [S, q, kT, v] = ['scores', 'q', 'k', 'v'].map((k) => at(clean, k));
  const [dq, dk, dv] = ['q', 'k', 'v'].map((k) => difference(at(frozen, k).data, at(clean, k).data));
  const receiver = componentName(head);
  const path = inputs.receivers?.[l];
  if (path) {
    const of = (g: Float32Array) => g.subarray(head.head * dq.length, (head.head + 1) * dq.length);
    return [
      { sender, receiver, input: 'q', score: dot(dq, of(path.q)) },
      { sender, receiver, input: 'k', score: dot(dk, of(path.k)) },
      { sender, receiver, input: 'v', score: dot(dv, of(path.v)) },
    ];
  }
  const T = S.dims[0];
  const d = q.dims[1];
  const gz = inputs.gradientOf(head); // [query, d_head]
  // ∂metric/∂pattern: the head's output is pattern × values, so gA[t, s] = gz[t] · v[s].
  const gA = new Float64Array(T * T);
  for (let t = 0; t < T; t++)
    for (let s = 0; s < T; s++) {
      let x = 0;
      for (let i = 0; i < d; i++) x += gz[t * d + i] * v.data[s * d + i];
      gA[t * T + s] = x;
    }
  const A = softmaxRows(S.data, T, null);
  const shifted = (dQ: Float32Array | null, dK: Float32Array | null) => {
    const out = new Float64Array(T * T);
    for (let t = 0; t < T; t++)
      for (let s = 0; s < T; s++) {
        let x = 0;
        for (let i = 0; i < d; i++) x += dQ ? dQ[t * d + i] * kT.data[i * T + s] : q.data[t * d + i] * dK![i * T + s];
        out[t * T + s] = scale * x;
      }
    return out;
  };
  const through = (dS: Float64Array) => softmaxEffect(S.data, A, gA, dS, T, inputs.rule);
  let value = 0;
  for (let t = 0; t < T; t++)
    for (let s = 0; s < T; s++) {
      if (A[t * T + s] === 0) continue;
      for (let i = 0; i < d; i++) value += gz[t * d + i] * A[t * T + s] * dv[s * d + i];
    }
  return [
    { sender, receiver, input: 'q', score: through(shifted(dq, null)) },
    { sender, receiver, input: 'k', score: through(shifted(null, dk)) },
    { sender, receiver, input: 'v', score: value },
  ];
}

/**
 * The metric's change from a change dS of the scores, through the softmax: linearly (Σ ∂metric/∂S · dS, with
 * ∂metric/∂S = A ⊙ (gA − Σ A·gA) row by row), or with the softmax recomputed (Σ gA · (softmax(S + dS) − A)).
 */
function softmaxEffect(
  S: Float32Array,
  A: Float64Array,
  gA: Float64Array,
  dS: Float64Array,
  T: number,
  rule: SoftmaxRule,
): number {
  let total = 0;
  const moved = rule === 'recompute' ? softmaxRows(S, T, dS) : null;
  for (let t = 0; t < T; t++) {
    let mean = 0;
    for (let s = 0; s < T; s++) mean += A[t * T + s] * gA[t * T + s];
    for (let s = 0; s < T; s++) {
      const k = t * T + s;
      if (A[k] === 0 && (!moved || moved[k] === 0)) continue;
      total += moved ? gA[k] * (moved[k] - A[k]) : A[k] * (gA[k] - mean) * dS[k];
    }
  }
  return total;
}

/** Row-wise softmax of [query, key] scores (plus a shift), in double precision. */
function softmaxRows(S: Float32Array, T: number, shift: Float64Array | null): Float64Array {
  const out = new Float64Array(T * T);
  for (let t = 0; t < T; t++) {
    const row = Array.from({ length: T }, (_, s) => S[t * T + s] + (shift ? shift[t * T + s] : 0));
    out.set(softmax(row), t * T);
  }
  return out;
}

/** One head's slice of a per-sequence [head, a, b] value, as [a, b]. */
function headOf(t: Tensor, head: number): Tensor {
  const [, a, b] = t.dims;
  return { data: t.data.subarray(head * a * b, (head + 1) * a * b), dims: [a, b] };
}

function difference(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((x, i) => x - b[i]);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
