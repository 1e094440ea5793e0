import { usageError, usageFault } from '../errors.js';
import { readUserText } from '../util/files.js';
import type { Model } from '../model/types.js';
import { runWithCache, type HookName } from '../runtime/activations.js';
import { encodeText } from '../text/encode.js';
import { Rng } from '../util/rng.js';
import { contentPositions, meanPool, permutationPValue } from '../util/stats.js';

export const WEAT_SCHEMA = 'interp/bias-weat@1';

export interface WeatSets {
  targ1: { category: string; examples: string[] };
  targ2: { category: string; examples: string[] };
  attr1: { category: string; examples: string[] };
  attr2: { category: string; examples: string[] };
}

export function readWeat(file: string): WeatSets {
  const raw = readUserText(file, 'data');
  let sets: WeatSets;
  try {
    sets = JSON.parse(raw);
  } catch {
    throw usageError(`${file} is not valid JSON (expected the SEAT format {targ1, targ2, attr1, attr2})`);
  }
  for (const k of ['targ1', 'targ2', 'attr1', 'attr2'] as const) {
    if (!Array.isArray(sets[k]?.examples) || sets[k].examples.length === 0)
      throw usageError(`${file}: ${k}.examples must be a non-empty list`);
  }
  return sets;
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i], 0);
const cosine = (a: Float64Array, b: Float64Array) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));

/** s(w, A, B) = mean cos(w, a) − mean cos(w, b). */
export function association(w: Float64Array, A: Float64Array[], B: Float64Array[]): number {
  return A.reduce((s, a) => s + cosine(w, a), 0) / A.length - B.reduce((s, b) => s + cosine(w, b), 0) / B.length;
}

/**
 * WEAT effect size (Caliskan et al. 2017): [mean_x s(x) − mean_y s(y)] / sd_{w ∈ X∪Y} s(w), with the
 * sample standard deviation (n − 1), as SEAT's implementation computes it.
 */
export function effectSize(X: Float64Array[], Y: Float64Array[], A: Float64Array[], B: Float64Array[]): number {
  const sx = X.map((x) => association(x, A, B));
  const sy = Y.map((y) => association(y, A, B));
  const all = [...sx, ...sy];
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const sd = Math.sqrt(all.reduce((s, v) => s + (v - mean) ** 2, 0) / (all.length - 1));
  const mx = sx.reduce((a, b) => a + b, 0) / sx.length;
  const my = sy.reduce((a, b) => a + b, 0) / sy.length;
  return (mx - my) / sd;
}

/** One-sided permutation p-value of the test statistic Σ_x s(x) − Σ_y s(y) over equal-size re-partitions of X ∪ Y. */
export function weatPValue(
  X: Float64Array[],
  Y: Float64Array[],
  A: Float64Array[],
  B: Float64Array[],
  permutations: number,
  seed: number,
): number {
  const s = [...X, ...Y].map((w) => association(w, A, B));
  const statistic = (idx: ArrayLike<number>) => {
    let t = 0;
    for (let i = 0; i < idx.length; i++) t += i < X.length ? s[idx[i]] : -s[idx[i]];
    return t;
  };
  return permutationPValue(s.length, statistic, permutations, new Rng(seed)).pValue;
}

/** Mean-pooled hidden states (non-special tokens) at a layer of the residual stream: 0 = embeddings, L = last layer. */
export async function embedTexts(model: Model, texts: string[], layer: number): Promise<Float64Array[]> {
  const inst = await model.instrumented();
  const name = inst.outputs.hiddenStates[layer];
  if (!name)
    throw usageFault(
      'layer',
      `{param} ${layer} does not exist; '${model.id}' has hidden states 0–${inst.outputs.hiddenStates.length - 1}`,
    );
  const encodings = texts.map((t) => encodeText(model, t, { truncate: true }));
  const hook: HookName = `hidden.${layer}`;
  const caches = await runWithCache(
    model,
    encodings.map((e) => e.ids),
    [hook],
  );
  return caches.map((cache, i) => {
    const { data, dims } = cache.get(hook); // [pos, dModel]
    return meanPool(data, 0, dims[1], contentPositions(encodings[i].special));
  });
}

export interface WeatResult {
  schema: typeof WEAT_SCHEMA;
  model: string;
  layer: number;
  targets: [string, string];
  attributes: [string, string];
  sizes: { targ1: number; targ2: number; attr1: number; attr2: number };
  effectSize: number;
  pValue: number;
  permutations: number;
  seed: number;
}

/** WEAT at hidden state `layer` (default: the last). */
export async function weat(
  model: Model,
  sets: WeatSets,
  layer: number | undefined,
  permutations: number,
  seed: number,
): Promise<WeatResult> {
  const inst = await model.instrumented();
  layer ??= inst.outputs.hiddenStates.length - 1;
  const at = layer;
  const [X, Y, A, B] = await Promise.all(
    [sets.targ1, sets.targ2, sets.attr1, sets.attr2].map((s) => embedTexts(model, s.examples, at)),
  );
  return {
    schema: WEAT_SCHEMA,
    model: model.id,
    layer,
    targets: [sets.targ1.category, sets.targ2.category],
    attributes: [sets.attr1.category, sets.attr2.category],
    sizes: { targ1: X.length, targ2: Y.length, attr1: A.length, attr2: B.length },
    effectSize: effectSize(X, Y, A, B),
    pValue: weatPValue(X, Y, A, B, permutations, seed),
    permutations,
    seed,
  };
}
