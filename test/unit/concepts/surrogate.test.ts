import { beforeAll, describe, expect, it } from 'vitest';
import { ADDITIVE_WEIGHTS, additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { surrogateReport, type SurrogateRequest } from '../../../src/concepts/surrogate.js';
import { fitSparseLogistic, fitTree, lambdaMax, treePredict } from '../../../src/concepts/distil.js';
import type { Example } from '../../../src/data/datasets.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { Rng } from '../../../src/util/rng.js';
import { spearman } from '../../../src/util/stats.js';

/** The planted additive classifier: POSITIVE logit = Σ planted word weights, NEGATIVE logit 0. */
let model: Model;
const words = Object.keys(ADDITIVE_WEIGHTS).filter((w) => /^[a-z]+$/.test(w));

function corpus(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: String(i),
    text: Array.from({ length: 3 + rng.int(5) }, () => words[rng.int(words.length)]).join(' '),
  }));
}

const request = (train: Example[]): SurrogateRequest => ({
  train,
  holdout: 0.25,
  bigrams: false,
  minCount: 2,
  maxFeatures: 5000,
  method: 'occlusion',
  explain: 0,
  top: 100,
  seed: 0,
});

beforeAll(async () => {
  model = await loadModel(writePlanted(additiveClassifier()));
});

describe('concepts surrogate on the planted additive classifier', () => {
  it("recovers the planted word weights' ranking from the model's predictions (Spearman > 0.9)", async () => {
    const r = await surrogateReport(model, request(corpus(1500, 1)));
    const fitted = new Map(r.top.map((f) => [f.feature, f.weight]));
    const shared = words.filter((w) => ADDITIVE_WEIGHTS[w] !== 0 || fitted.has(w));
    const rho = spearman(
      shared.map((w) => ADDITIVE_WEIGHTS[w]),
      shared.map((w) => fitted.get(w) ?? 0),
    );
    expect(rho).toBeGreaterThan(0.9);
    expect(r.fidelity.mean).toBeGreaterThan(0.9);
    expect(r.top[0].feature).toBe('awful'); // the largest |weight|: −3
  });

  it('compares global attribution with its weights, and fits a readable tree', async () => {
    const r = await surrogateReport(model, { ...request(corpus(600, 2)), explain: 40, tree: 2 });
    expect(r.globalAttribution!.spearman).toBeGreaterThan(0.8);
    expect(r.tree!.text).toMatch(/^if “(awful|great)” is present:/);
  });

  it('refuses a corpus on which the model predicts one label only', async () => {
    const positive = Array.from({ length: 40 }, (_, i) => ({ id: String(i), text: 'great fun' }));
    await expect(surrogateReport(model, request(positive))).rejects.toThrow(
      /predicts POSITIVE for every training example/,
    );
  });
});

describe('the distillation maths', () => {
  it('L1 logistic regression: zero at λmax, and separates planted data below it', () => {
    const rng = new Rng(3);
    const rows = Array.from({ length: 400 }, () => Int32Array.from([0, 1, 2, 3].filter(() => rng.next() < 0.5)));
    const y = rows.map((r) => (r.includes(0) && !r.includes(2) ? 1 : 0));
    const top = lambdaMax(rows, y, 4);
    expect(Array.from(fitSparseLogistic(rows, y, 4, top * 1.01).weights).every((w) => w === 0)).toBe(true);
    const m = fitSparseLogistic(rows, y, 4, top * 0.01, undefined, 2000);
    expect(m.weights[0]).toBeGreaterThan(1);
    expect(m.weights[2]).toBeLessThan(-1);
    const tree = fitTree(rows, y, 4, 2, 1);
    expect(rows.every((r, i) => treePredict(tree, r) === y[i])).toBe(true);
  });
});
