import { beforeAll, describe, expect, it } from 'vitest';
import { interactionClassifier, writePlanted } from '../../../fixtures/planted.js';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';

// Variance reduction in the sampling methods, measured against exact Shapley values on the planted
// interaction model ("not" flips the next word's weight: a game with pairwise interactions only).
let model: Model;
const TEXT = 'not great but not boring and the film was very good fun';
const target = { target: 'POSITIVE', score: 'logit' };
let exact: number[];

beforeAll(async () => {
  model = await loadModel(writePlanted(interactionClassifier()));
  const r = await explainText(model, { text: TEXT, method: 'shapley', target });
  expect(r.diagnostics.mode).toBe('exact');
  exact = r.features.map((f) => f.attribution);
});

const relL2 = (a: number[]) =>
  Math.sqrt(a.reduce((s, x, i) => s + (x - exact[i]) ** 2, 0) / exact.reduce((s, x) => s + x * x, 0));

async function error(method: string, params: Record<string, number>, choices: Record<string, string>, seed: number) {
  const r = await explainText(model, { text: TEXT, method, target, params, choices, seed });
  expect(r.diagnostics.mode).toBe('sampled');
  return { err: relL2(r.features.map((f) => f.attribution)), diagnostics: r.diagnostics };
}

const SEEDS = [1, 2, 3, 4, 5];

describe('KernelSHAP: paired sampling (Covert & Lee 2021) against independent draws', () => {
  it('exact Shapley values are not trivial here (the pairwise interactions matter)', () => {
    // "not great": great's weight 2.5 is flipped in the coalitions holding both words, so exact ≠ planted.
    expect(Math.max(...exact.map(Math.abs))).toBeGreaterThan(1);
    expect(exact[1]).not.toBeCloseTo(2.5, 1);
  });

  it('at equal samples, paired error is far below independent error on every seed, and the diagnostics say which', async () => {
    for (const seed of SEEDS) {
      const paired = await error('kernel-shap', { samples: 200 }, { pairing: 'paired' }, seed);
      const independent = await error('kernel-shap', { samples: 200 }, { pairing: 'independent' }, seed);
      expect(paired.diagnostics.pairing).toBe('paired');
      expect(independent.diagnostics.pairing).toBe('independent');
      // A game with interactions of order ≤ 2 is fitted exactly by paired KernelSHAP; independent draws are not.
      expect(paired.err, `seed ${seed}`).toBeLessThan(1e-6);
      expect(independent.err, `seed ${seed}`).toBeGreaterThan(0.02);
      expect(paired.err * 10).toBeLessThan(independent.err);
    }
  });

  it('the default is paired, and independent draws still converge (unbiased): error falls as samples grow', async () => {
    const d = await error('kernel-shap', { samples: 200 }, {}, 1);
    expect(d.diagnostics.pairing).toBe('paired');
    let small = 0;
    let large = 0;
    for (const seed of SEEDS) {
      small += (await error('kernel-shap', { samples: 100 }, { pairing: 'independent' }, seed)).err;
      large += (await error('kernel-shap', { samples: 1600 }, { pairing: 'independent' }, seed)).err;
    }
    expect(large).toBeLessThan(small / 2);
    expect(large / SEEDS.length).toBeLessThan(0.1);
  });
});

describe('Shapley sampling: antithetic and stratified permutations against independent ones', () => {
  it('at equal permutations, antithetic and stratified orders are exact on every seed; independent ones are not', async () => {
    let independentTotal = 0;
    for (const seed of SEEDS) {
      const params = { permutations: 8, 'exact-limit': 6 };
      const independent = await error('shapley', params, { 'order-sampling': 'independent' }, seed);
      for (const scheme of ['antithetic', 'stratified']) {
        const reduced = await error('shapley', params, { 'order-sampling': scheme }, seed);
        expect(reduced.diagnostics.orderSampling).toBe(scheme);
        // A permutation and its reverse see each pair of words in both orders: pairwise interactions cancel.
        expect(reduced.err, `${scheme} seed ${seed}`).toBeLessThan(1e-9);
      }
      // Independent orders can balance both "not" pairs by chance on a seed, but not on all of them.
      independentTotal += independent.err;
    }
    expect(independentTotal / SEEDS.length).toBeGreaterThan(0.02);
  });

  it('independent permutations are unbiased: their mean over seeds is closer to exact than a typical run', async () => {
    const runs: number[][] = [];
    for (let seed = 1; seed <= 16; seed++) {
      const r = await explainText(model, {
        text: TEXT,
        method: 'shapley',
        target,
        params: { permutations: 4, 'exact-limit': 6 },
        choices: { 'order-sampling': 'independent' },
        seed,
      });
      runs.push(r.features.map((f) => f.attribution));
    }
    const mean = exact.map((_, i) => runs.reduce((s, r) => s + r[i], 0) / runs.length);
    const typical = runs.map(relL2).sort((a, b) => a - b)[runs.length >> 1];
    expect(relL2(mean)).toBeLessThan(typical / 2.5);
  });

  it('the same seed gives the same values under every scheme', async () => {
    for (const scheme of ['antithetic', 'stratified', 'independent']) {
      const run = () =>
        explainText(model, {
          text: TEXT,
          method: 'shapley',
          target,
          params: { permutations: 6, 'exact-limit': 6 },
          choices: { 'order-sampling': scheme },
          seed: 9,
        });
      expect(JSON.stringify((await run()).features)).toBe(JSON.stringify((await run()).features));
    }
  });
});
