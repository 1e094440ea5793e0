import { runtimeError } from '../errors.js';
import type { Model } from '../model/types.js';
import type { RunContext } from '../runtime/context.js';
import { runWithCache, type HookName } from '../runtime/activations.js';
import { isPunctuation, type Encoding } from '../text/encode.js';
import { Rng } from '../util/rng.js';

/** A T×T attention matrix, row-major: row = query, column = key. */
export type Matrix = Float64Array | Float32Array;

export interface AttentionRun {
  /** [layer][head] → T×T probabilities, one row per query position. Heads are query heads (grouped-query attention included). */
  layers: Float32Array[][];
  /** [layer] → values [heads][T][headDim] as one array, and headDim. */
  values: { data: Float32Array; headDim: number }[];
  length: number;
}

/** One forward pass of the instrumented graph over `ids`: attentions and value vectors of every layer. */
export async function runAttention(model: Model, ids: readonly number[], context?: RunContext): Promise<AttentionRun> {
  const { outputs } = await model.instrumented();
  const patterns = outputs.attentions.map((_, l): HookName => `attn.${l}.pattern`);
  const values = outputs.values.map((_, l): HookName => `attn.${l}.v`);
  const [cache] = await runWithCache(model, [ids], [...patterns, ...values], context);
  const T = ids.length;
  const layers = patterns.map((name) => {
    const { data, dims } = cache.get(name); // [head, query, key]
    return Array.from({ length: dims[0] }, (_, h) => data.slice(h * T * T, (h + 1) * T * T));
  });
  const vals = values.map((name, l) => {
    const { data, dims } = cache.get(name); // [head, key, headDim]
    const heads = layers[l].length;
    // Grouped-query exports expand values to the query heads only inside the product: then there is nothing to weigh per head.
    if (dims.length !== 3 || dims[0] !== heads) return { data: new Float32Array(0), headDim: 0 };
    return { data: data.slice(0, heads * T * dims[2]), headDim: dims[2] };
  });
  return { layers, values: vals, length: T };
}

export function meanOverHeads(heads: Matrix[]): Float64Array {
  const out = new Float64Array(heads[0].length);
  for (const h of heads) for (let i = 0; i < out.length; i++) out[i] += h[i] / heads.length;
  return out;
}

/** (A + I)/2 with rows normalised: the residual-aware attention of one layer (Abnar & Zuidema 2020). */
export function residualAttention(heads: Matrix[], T: number): Float64Array {
  const A = meanOverHeads(heads);
  for (let q = 0; q < T; q++) {
    let sum = 0;
    for (let k = 0; k < T; k++) sum += A[q * T + k] = 0.5 * A[q * T + k] + (q === k ? 0.5 : 0);
    for (let k = 0; k < T; k++) A[q * T + k] /= sum;
  }
  return A;
}

/**
 * Attention rollout: the product of the residual-aware attentions through the layers. Row q says how
 * much each input position flows into position q at the top. Causal attention stays causal: a product
 * of lower-triangular matrices is lower-triangular.
 */
export function rollout(layers: Matrix[][], T: number): Float64Array {
  let R: Float64Array | null = null;
  for (const heads of layers) {
    const A = residualAttention(heads, T);
    if (!R) {
      R = A;
      continue;
    }
    const next = new Float64Array(T * T);
    for (let q = 0; q < T; q++)
      for (let m = 0; m < T; m++) {
        const a = A[q * T + m];
        if (a !== 0) for (let k = 0; k < T; k++) next[q * T + k] += a * R[m * T + k];
      }
    R = next;
  }
  return R!;
}

/** One row of the rollout, e_q · Ã_L ⋯ Ã_1, in O(L·T²) rather than the full product's O(L·T³). */
export function rolloutRow(layers: Matrix[][], T: number, q: number): Float64Array {
  let row: Float64Array | null = null;
  for (let l = layers.length - 1; l >= 0; l--) {
    const A = residualAttention(layers[l], T);
    if (!row) {
      row = A.slice(q * T, (q + 1) * T);
      continue;
    }
    const next = new Float64Array(T);
    for (let m = 0; m < T; m++) {
      const r = row[m];
      if (r !== 0) for (let k = 0; k < T; k++) next[k] += r * A[m * T + k];
    }
    row = next;
  }
  return row!;
}

/** Maximum flow from `source` to `sink` (Edmonds–Karp) on a dense capacity matrix. */
export function maxFlow(capacity: Float64Array, n: number, source: number, sink: number): number {
  const residual = Float64Array.from(capacity);
  const parent = new Int32Array(n);
  let flow = 0;
  for (;;) {
    parent.fill(-1);
    parent[source] = source;
    const queue = [source];
    for (let head = 0; head < queue.length && parent[sink] < 0; head++) {
      const u = queue[head];
      for (let v = 0; v < n; v++) {
        if (parent[v] < 0 && residual[u * n + v] > 1e-12) {
          parent[v] = u;
          queue.push(v);
        }
      }
    }
    if (parent[sink] < 0) return flow;
    let push = Infinity;
    for (let v = sink; v !== source; v = parent[v]) push = Math.min(push, residual[parent[v] * n + v]);
    for (let v = sink; v !== source; v = parent[v]) {
      residual[parent[v] * n + v] -= push;
      residual[v * n + parent[v]] += push;
    }
    flow += push;
  }
}

/**
 * Attention flow (Abnar & Zuidema 2020): the layer graph has a node per (layer, position); an edge from
 * position k at layer l to position q at layer l+1 has capacity equal to the residual-aware attention
 * of q to k. flow[q][k] is the maximum flow from input position k to output position q. Only the
 * requested output rows are computed (each costs T max-flow problems).
 */
export function attentionFlow(layers: Matrix[][], T: number, rows: number[]): Float64Array {
  const L = layers.length;
  const n = (L + 1) * T + 0;
  const capacity = new Float64Array(n * n);
  layers.forEach((heads, l) => {
    const A = residualAttention(heads, T);
    for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) capacity[(l * T + k) * n + (l + 1) * T + q] = A[q * T + k];
  });
  const flow = new Float64Array(T * T).fill(NaN);
  for (const q of rows) for (let k = 0; k < T; k++) flow[q * T + k] = maxFlow(capacity, n, k, L * T + q);
  return flow;
}

/**
 * Norm-based attention (Kobayashi et al. 2020): ‖α_qk · v_k W_O^h‖ = α_qk · ‖v_k W_O^h‖, where W_O^h is the
 * head's slice of the output projection. One T×T matrix per head.
 */
export function normWeighted(
  heads: Float32Array[],
  values: { data: Float32Array; headDim: number },
  projection: { data: Float32Array; rows: number; cols: number },
  T: number,
): Float64Array[] {
  const H = heads.length;
  const dh = values.headDim;
  if (!dh || projection.rows !== H * dh)
    throw runtimeError('norm-based attention needs per-head value vectors and an output projection of matching size');
  const D = projection.cols;
  return heads.map((A, h) => {
    const norms = new Float64Array(T);
    const row = new Float64Array(D);
    for (let k = 0; k < T; k++) {
      row.fill(0);
      for (let d = 0; d < dh; d++) {
        const v = values.data[(h * T + k) * dh + d];
        if (v === 0) continue;
        const w = projection.data.subarray((h * dh + d) * D, (h * dh + d + 1) * D);
        for (let j = 0; j < D; j++) row[j] += v * w[j];
      }
      let s = 0;
      for (let j = 0; j < D; j++) s += row[j] * row[j];
      norms[k] = Math.sqrt(s);
    }
    const out = new Float64Array(T * T);
    for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) out[q * T + k] = A[q * T + k] * norms[k];
    return out;
  });
}

export const HEAD_PROPERTIES = ['entropy', 'first', 'previous', 'self', 'separator', 'induction'] as const;
export type HeadProperty = (typeof HEAD_PROPERTIES)[number];

export interface HeadRole {
  layer: number;
  head: number;
  /** Mean entropy of the attention rows, in nats. */
  entropy: number;
  /** Mean attention to position 0 (the first or sink token). */
  first: number;
  /** Mean attention to the previous position (rows 1…). */
  previous: number;
  self: number;
  /** Mean attention to separator and punctuation tokens ([SEP], [CLS] excluded from position 0, "." "," …). */
  separator: number;
  /** Mean attention, on a repeated random sequence, from each second-half token to the token after its earlier copy. */
  induction: number | null;
}

/** Per-head statistics over the query rows of one input. */
export function headRoles(
  run: AttentionRun,
  encoding: Encoding,
  separatorIds: ReadonlySet<number>,
  induction: number[][] | null,
): HeadRole[] {
  const T = run.length;
  const isSeparator = encoding.ids.map(
    (id, i) => i > 0 && (separatorIds.has(id) || (!encoding.special[i] && isPunctuation(encoding.tokens[i]))),
  );
  const roles: HeadRole[] = [];
  run.layers.forEach((heads, l) =>
    heads.forEach((A, h) => {
      let entropy = 0,
        first = 0,
        previous = 0,
        self = 0,
        separator = 0;
      for (let q = 0; q < T; q++) {
        for (let k = 0; k < T; k++) {
          const a = A[q * T + k];
          if (a > 0) entropy -= a * Math.log(a);
          if (isSeparator[k]) separator += a;
        }
        first += A[q * T];
        self += A[q * T + q];
        if (q > 0) previous += A[q * T + q - 1];
      }
      roles.push({
        layer: l,
        head: h,
        entropy: entropy / T,
        first: first / T,
        previous: T > 1 ? previous / (T - 1) : 0,
        self: self / T,
        separator: separator / T,
        induction: induction ? induction[l][h] : null,
      });
    }),
  );
  return roles;
}

/**
 * Induction scores: run [prefix, r_1 … r_n, r_1 … r_n] with random non-special tokens and measure, for
 * each head, the mean attention from the second r_k to the first r_(k+1).
 */
export async function inductionScores(model: Model, length: number, seed: number): Promise<number[][]> {
  const special = new Set(model.tokenizer.all_special_ids);
  const vocab = (model.config.vocab_size as number | undefined) ?? model.tokenizer.get_vocab().size;
  const rng = new Rng(seed);
  const tokens: number[] = [];
  while (tokens.length < length) {
    const id = rng.int(vocab);
    if (!special.has(id) && !tokens.includes(id)) tokens.push(id);
  }
  const prefix = model.tokenizer
    .encode('', { add_special_tokens: true })
    .filter((id) => id !== model.tokenizer.eos_token_id && id !== model.tokenizer.sep_token_id);
  const start = prefix.length;
  const ids = [...prefix, ...tokens, ...tokens];
  if (ids.length > model.maxLength)
    throw runtimeError(
      `the induction sequence (${ids.length} tokens) is longer than the model takes (${model.maxLength})`,
    );
  const run = await runAttention(model, ids);
  const T = run.length;
  return run.layers.map((heads) =>
    heads.map((A) => {
      let total = 0;
      for (let k = 0; k < length - 1; k++) {
        const q = start + length + k; // the second copy of r_k
        total += A[q * T + start + k + 1]; // the first r_(k+1)
      }
      return total / (length - 1);
    }),
  );
}

/** Sort heads by a property: entropy ascending (focused heads first), everything else descending. */
export function rankHeads(roles: HeadRole[], by: HeadProperty): HeadRole[] {
  const value = (r: HeadRole) => (by === 'entropy' ? -r.entropy : (r[by] ?? -Infinity));
  return [...roles].sort((a, b) => value(b) - value(a) || a.layer - b.layer || a.head - b.head);
}
