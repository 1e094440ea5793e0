import { usageError, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { gradientsAt } from '../runtime/gradientsAt.js';
import { hiddenSite } from '../runtime/sites.js';
import type { Target } from '../target/target.js';
import { targetHead } from '../target/registry.js';
import { encodeText } from '../text/encode.js';
import { solve } from '../util/maths.js';
import { Rng } from '../util/rng.js';
import { contentPositions, mean, meanPool, permutationPValue } from '../util/stats.js';

/** Relabellings of the concept and null scores for the p-value. */
const TCAV_PERMUTATIONS = 10_000;
import { hiddenStates } from './activations.js';

export const TCAV_SCHEMA = 'interp/tcav@2';

/** L2-regularised logistic regression by Newton's method (small dense problems). Returns weights and bias. */
export function logisticRegression(
  X: Float64Array[],
  y: number[],
  l2 = 1e-2,
  iterations = 50,
): { w: Float64Array; b: number } {
  const d = X[0].length;
  const p = d + 1;
  let beta = new Float64Array(p);
  for (let it = 0; it < iterations; it++) {
    const grad = new Float64Array(p);
    const hess = Array.from({ length: p }, () => new Float64Array(p));
    X.forEach((x, i) => {
      let z = beta[d];
      for (let j = 0; j < d; j++) z += beta[j] * x[j];
      const mu = 1 / (1 + Math.exp(-z));
      const r = mu - y[i];
      const w = mu * (1 - mu);
      for (let j = 0; j < p; j++) {
        const xj = j < d ? x[j] : 1;
        grad[j] += r * xj;
        for (let k = 0; k <= j; k++) hess[j][k] += w * xj * (k < d ? x[k] : 1);
      }
    });
    for (let j = 0; j < d; j++) {
      grad[j] += l2 * beta[j];
      hess[j][j] += l2;
    }
    hess[d][d] += 1e-9;
    for (let j = 0; j < p; j++) for (let k = j + 1; k < p; k++) hess[j][k] = hess[k][j];
    const step = solve(hess, grad);
    beta = beta.map((v, j) => v - step[j]);
    if (Math.max(...step.map(Math.abs)) < 1e-10) break;
  }
  return { w: beta.subarray(0, d).slice(), b: beta[d] };
}

/** Mean of the non-special positions' hidden states at a layer, for each text. */
async function pooled(
  model: Model,
  texts: string[],
  layer: number,
): Promise<{ pooled: Float64Array[]; states: Float32Array[]; ids: number[][]; special: boolean[][] }> {
  const out: Float64Array[] = [];
  const states: Float32Array[] = [];
  const ids: number[][] = [];
  const special: boolean[][] = [];
  for (const t of texts) {
    const e = encodeText(model, t, { truncate: true });
    const hs = await hiddenStates(model, e.ids);
    const h = hs[layer];
    if (!h)
      throw usageFault('layer', `{param} ${layer} does not exist; '${model.id}' has hidden states 0–${hs.length - 1}`);
    const T = e.ids.length;
    const H = h.length / T;
    out.push(meanPool(h, 0, H, contentPositions(e.special)));
    states.push(h);
    ids.push(e.ids);
    special.push(e.special);
  }
  return { pooled: out, states, ids, special };
}

interface Cav {
  direction: Float64Array;
  accuracy: number;
}

/** Train a CAV (positive = first set) on 75 % of a shuffled split and report accuracy on the other 25 %. */
function trainCav(pos: Float64Array[], neg: Float64Array[], rng: Rng): Cav {
  const all = [...pos.map((x) => ({ x, y: 1 })), ...neg.map((x) => ({ x, y: 0 }))];
  const order = rng.permutation(all.length).map((i) => all[i]);
  const cut = Math.max(2, Math.floor(order.length * 0.75));
  const train = order.slice(0, cut);
  const test = order.slice(cut);
  const { w, b } = logisticRegression(
    train.map((t) => t.x),
    train.map((t) => t.y),
  );
  const correct = test.filter((t) => (t.x.reduce((s, v, j) => s + v * w[j], b) > 0 ? 1 : 0) === t.y).length;
  const norm = Math.sqrt(w.reduce((s, v) => s + v * v, 0));
  return {
    direction: norm > 0 ? w.map((v) => v / norm) : w,
    accuracy: test.length ? correct / test.length : NaN,
  };
}

export interface TcavResult {
  schema: typeof TCAV_SCHEMA;
  model: string;
  layer: number;
  target: string;
  runs: number;
  /** How many texts showed the concept, served as random counterexamples, and were tested. */
  texts: { concept: number; random: number; inputs: number };
  /** Directional derivatives are exact: the gradient at the layer from a backward graph, dotted with the CAV. */
  derivative: 'exact';
  cavAccuracy: number;
  /** Share of inputs whose target score rises along the concept's CAV, one per run. */
  scores: number[];
  /** The same for random-vs-random CAVs: the null distribution. */
  nullScores: number[];
  mean: number;
  nullMean: number;
  pValue: number;
  significant: boolean;
  /** Whether the concept raises the score more often than random directions do, or less often. */
  direction: 'above random' | 'below random' | 'none';
  seed: number;
}

/**
 * Per input, the exact derivative of the target score when every position's hidden state at `layer` moves
 * along each direction: one forward and backward pass per input through the graph cut at that layer, the
 * gradient summed over the positions and dotted with each direction. Special positions count too: above
 * the last attention layer a classifier reads [CLS] alone, and its gradient is all there is.
 */
export async function directionalDerivatives(
  model: Model,
  layer: number,
  target: Target,
  data: { states: Float32Array[]; ids: number[][]; special: boolean[][] },
  directions: ArrayLike<number>[],
): Promise<number[][]> {
  // The hidden states are the prompt's own: a target that appends tokens (a continuation) has none to read.
  if (data.ids.some((ids) => targetHead(target, ids.length).extra.length > 0))
    throw usageError('TCAV targets a label or a next token');
  // gradientsAt reads the states at the site itself: the values of `data.states`, read from the same graph.
  const site = hiddenSite(layer);
  const out = await gradientsAt(model, data.ids, [site], target);
  const summed = out.map((r) => {
    const { data: g, dims } = r.gradients.get(site); // [position, d_model]
    const [T, H] = dims;
    const sum = new Float64Array(H);
    for (let p = 0; p < T; p++) for (let j = 0; j < H; j++) sum[j] += g[p * H + j];
    return sum;
  });
  if (summed.every((g) => g.every((x) => x === 0)))
    throw usageFault(
      'layer',
      `at {param} ${layer} the score of '${target.name}' does not depend on the hidden states: nothing after that layer reads them; choose an earlier layer`,
    );
  return summed.map((g) => directions.map((d) => g.reduce((s, x, j) => s + x * d[j], 0)));
}

/**
 * TCAV (Kim et al. 2018), with exact directional derivatives (see directionalDerivatives). Significance: a two-sided permutation test of the concept's TCAV scores
 * against random-vs-random CAVs.
 */
export async function tcav(
  model: Model,
  concept: string[],
  random: string[],
  inputs: string[],
  layer: number,
  target: Target,
  options: { runs: number; seed: number },
): Promise<TcavResult> {
  if (concept.length < 4 || random.length < 8)
    throw usageError('TCAV needs at least 4 concept examples and 8 random examples');
  const rng = new Rng(options.seed);
  const pos = (await pooled(model, concept, layer)).pooled;
  const neg = (await pooled(model, random, layer)).pooled;
  const cavs: Cav[] = [];
  const nulls: Cav[] = [];
  for (let r = 0; r < options.runs; r++) {
    const shuffled = rng.permutation(neg.length).map((i) => neg[i]);
    cavs.push(trainCav(pos, shuffled.slice(0, Math.max(pos.length, Math.floor(neg.length / 2))), rng));
    const half = Math.floor(shuffled.length / 2);
    nulls.push(trainCav(shuffled.slice(0, half), shuffled.slice(half), rng));
  }
  const data = await pooled(model, inputs, layer);
  const derivatives = await directionalDerivatives(
    model,
    layer,
    target,
    data,
    [...cavs, ...nulls].map((c) => c.direction),
  );
  const counts = { concept: cavs.map(() => 0), null: nulls.map(() => 0) };
  for (const row of derivatives) {
    row.forEach((d, k) => {
      if (d > 0) (k < cavs.length ? counts.concept : counts.null)[k < cavs.length ? k : k - cavs.length]++;
    });
  }
  const scores = counts.concept.map((c) => c / inputs.length);
  const nullScores = counts.null.map((c) => c / inputs.length);
  const pooledScores = [...scores, ...nullScores];
  const { pValue } = permutationPValue(
    pooledScores.length,
    (order) => {
      let a = 0;
      let b = 0;
      for (let i = 0; i < order.length; i++) {
        if (i < scores.length) a += pooledScores[order[i]];
        else b += pooledScores[order[i]];
      }
      return Math.abs(a / scores.length - b / (order.length - scores.length));
    },
    TCAV_PERMUTATIONS,
    rng,
  );
  return {
    schema: TCAV_SCHEMA,
    model: model.id,
    layer,
    target: target.name,
    runs: options.runs,
    texts: { concept: concept.length, random: random.length, inputs: inputs.length },
    derivative: 'exact',
    cavAccuracy: mean(cavs.map((c) => c.accuracy).filter((a) => !Number.isNaN(a))),
    scores,
    nullScores,
    mean: mean(scores),
    nullMean: mean(nullScores),
    pValue,
    significant: pValue < 0.05,
    direction: pValue >= 0.05 ? 'none' : mean(scores) > mean(nullScores) ? 'above random' : 'below random',
    seed: options.seed,
  };
}
