// The filler sentence the side-by-side and the thread measurements cut their inputs from (n words, repeated),
// and the request and budgets they all explain with.
const SENTENCE =
  'the film was a quiet delight with sharp writing and warm performances though the middle act drags ' +
  'and some jokes fall flat while the ending lands with real feeling and the score is lovely';

export function words(n) {
  const all = [];
  while (all.length < n) all.push(...SENTENCE.split(' '));
  return all.slice(0, n).join(' ');
}

/**
 * The request and each method's parameters for a model spec (bench/side-by-side.mjs, scripts/threads.mjs,
 * scripts/spinning.mjs): distilbert's POSITIVE logit with the [MASK] baseline, Shapley sampling 25 permutations,
 * KernelSHAP and LIME 500; other models their default target with the unk baseline, 5 permutations and 200
 * samples; IG 50 steps.
 */
export function benchSettings(spec) {
  const bert = spec.includes('distilbert');
  const request = bert ? { target: { target: 'POSITIVE', score: 'logit' }, baseline: 'mask' } : { baseline: 'unk' };
  const [permutations, samples] = bert ? [25, 500] : [5, 200];
  const params = {
    occlusion: {},
    shapley: { permutations, 'exact-limit': 1 },
    'kernel-shap': { samples },
    lime: { samples },
    'integrated-gradients': { steps: 50 },
  };
  return { request, params };
}
