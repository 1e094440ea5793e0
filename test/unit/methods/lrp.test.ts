import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADDITIVE_WEIGHTS,
  additiveClassifier,
  normedAdditiveClassifier,
  writePlanted,
} from '../../../fixtures/planted.js';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';

const TEXT = 'the movie was great but boring and not very fun';
const logit = { target: 'POSITIVE', score: 'logit' };
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('lrp (conservative propagation) on planted models', () => {
  let additive: Model;
  let normed: Model;
  beforeAll(async () => {
    additive = await loadModel(writePlanted(additiveClassifier()));
    normed = await loadModel(writePlanted(normedAdditiveClassifier()));
  });

  it('on the additive model, relevance is the planted weights and sums to the logit', async () => {
    const r = await explainText(additive, { text: TEXT, method: 'lrp', target: logit });
    r.features.forEach((f) => expect(f.attribution).toBeCloseTo(ADDITIVE_WEIGHTS[f.text], 5));
    expect(sum(r.features.map((f) => f.attribution))).toBeCloseTo(r.fullScore, 5);
    expect(r.completeness!.relativeError).toBeLessThan(1e-6);
  });

  it('through a LayerNorm, relevance still sums to the logit, where plain gradient × input sums to 0', async () => {
    // Each word with a weight w normalises to channel 3 = sign(w): great, boring, very, fun give 1 − 1 + 1 + 1.
    const text = 'the movie was great but boring and very fun';
    const l = await explainText(normed, { text, method: 'lrp', target: logit });
    const g = await explainText(normed, { text, method: 'grad-x-input', target: logit });
    expect(l.fullScore).toBeCloseTo(2, 3);
    expect(l.baselineScore).toBeCloseTo(0, 6);
    expect(sum(l.features.map((f) => f.attribution))).toBeCloseTo(l.fullScore, 4);
    // LayerNorm is scale-invariant: the plain gradient is orthogonal to the input.
    expect(Math.abs(sum(g.features.map((f) => f.attribution)))).toBeLessThan(1e-3 * Math.abs(l.fullScore));
    // The signs follow the planted weights.
    for (const f of l.features)
      if (ADDITIVE_WEIGHTS[f.text] !== 0) expect(Math.sign(f.attribution)).toBe(Math.sign(ADDITIVE_WEIGHTS[f.text]));
  });

  it('ε absorbs relevance: every weighted word keeps less of it as ε grows, with its sign', async () => {
    const values = async (epsilon: number) =>
      (await explainText(additive, { text: TEXT, method: 'lrp', target: logit, params: { epsilon } })).features;
    const [e0, e1, e2] = [await values(0), await values(0.1), await values(1)];
    e0.forEach((f, i) => {
      if (ADDITIVE_WEIGHTS[f.text] === 0) return;
      expect(Math.abs(e1[i].attribution)).toBeLessThan(Math.abs(f.attribution));
      expect(Math.abs(e2[i].attribution)).toBeLessThan(Math.abs(e1[i].attribution));
      expect(Math.sign(e2[i].attribution)).toBe(Math.sign(f.attribution));
    });
  });
});
