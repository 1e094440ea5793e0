import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADDITIVE_WEIGHTS,
  additiveClassifier,
  inductionLM,
  interactionClassifier,
  writePlanted,
} from '../../../fixtures/planted.js';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { spearman } from '../../../src/util/stats.js';

let additive: Model;
let interaction: Model;
let lm: Model;

beforeAll(async () => {
  additive = await loadModel(writePlanted(additiveClassifier()));
  interaction = await loadModel(writePlanted(interactionClassifier()));
  lm = await loadModel(writePlanted(inductionLM()));
});

const TEXT = 'the movie was great but the plot was boring and very dull';
const planted = TEXT.split(' ').map((w) => ADDITIVE_WEIGHTS[w]);
const logit = { target: 'POSITIVE', score: 'logit' };

describe('planted additive classifier: every method recovers the planted weights', () => {
  it('the POSITIVE logit is the exact sum of the planted weights', async () => {
    const r = await explainText(additive, { text: TEXT, method: 'occlusion', target: logit });
    expect(r.fullScore).toBeCloseTo(
      planted.reduce((a, b) => a + b, 0),
      5,
    );
    expect(r.baselineScore).toBeCloseTo(0, 6);
  });

  for (const method of ['occlusion', 'shapley', 'kernel-shap', 'partition-shap']) {
    it(`${method} equals the planted weights`, async () => {
      const r = await explainText(additive, {
        text: 'the movie was great but boring and dull',
        method,
        target: logit,
        params: method === 'kernel-shap' ? { samples: 300 } : {},
      });
      const expected = 'the movie was great but boring and dull'.split(' ').map((w) => ADDITIVE_WEIGHTS[w]);
      r.features.forEach((f, i) => expect(f.attribution).toBeCloseTo(expected[i], 4));
    });
  }

  it('sampled Shapley (above the exact limit) and sampled KernelSHAP still equal the weights', async () => {
    for (const [method, params] of [
      ['shapley', { permutations: 4, 'exact-limit': 6 }],
      ['kernel-shap', { samples: 200 }],
    ] as const) {
      const r = await explainText(additive, { text: TEXT, method, target: logit, params, seed: 3 });
      expect(r.diagnostics.mode).toBe('sampled');
      r.features.forEach((f, i) => expect(f.attribution).toBeCloseTo(planted[i], 4));
    }
  });

  it('LIME ranks the words exactly as the planted weights do', async () => {
    const text = 'very awful fun great dull fine boring good';
    const weights = text.split(' ').map((w) => ADDITIVE_WEIGHTS[w]);
    const r = await explainText(additive, { text, method: 'lime', target: logit, seed: 1 });
    expect(
      spearman(
        r.features.map((f) => f.attribution),
        weights,
      ),
    ).toBe(1);
  });

  it('deterministic methods use exactly their declared cost; sampling methods at most (repeated coalitions run once)', async () => {
    for (const method of ['occlusion', 'shapley', 'attention', 'rollout']) {
      const r = await explainText(additive, { text: 'great but dull', method, target: logit });
      expect(r.forwardPasses, method).toBe(r.declaredCost);
    }
    for (const method of ['lime', 'kernel-shap', 'partition-shap']) {
      const r = await explainText(additive, { text: TEXT, method, target: logit });
      expect(r.forwardPasses, method).toBeLessThanOrEqual(r.declaredCost);
      expect(r.forwardPasses, method).toBeGreaterThan(r.declaredCost / 2);
    }
  });

  it('word and token granularity agree on a tokenizer where words are tokens', async () => {
    const a = await explainText(additive, {
      text: TEXT,
      method: 'occlusion',
      target: logit,
      granularity: 'word',
    });
    expect(a.features.map((f) => f.text)).toEqual(TEXT.split(' '));
  });
});

describe('planted interaction classifier: "not" flips the next word', () => {
  it('occlusion and Shapley split the credit as predicted', async () => {
    // v(∅)=0, v(not)=0, v(good)=1.5, v(not good)=−1.5
    const occ = await explainText(interaction, { text: 'not good', method: 'occlusion', target: logit });
    expect(occ.fullScore).toBeCloseTo(-1.5, 5);
    expect(occ.features.map((f) => f.attribution)).toEqual([expect.closeTo(-3, 5), expect.closeTo(-1.5, 5)]);
    const shap = await explainText(interaction, { text: 'not good', method: 'shapley', target: logit });
    expect(shap.features.map((f) => f.attribution)).toEqual([expect.closeTo(-1.5, 5), expect.closeTo(0, 5)]);
    const kernel = await explainText(interaction, { text: 'not good', method: 'kernel-shap', target: logit });
    expect(kernel.features.map((f) => f.attribution)).toEqual([expect.closeTo(-1.5, 5), expect.closeTo(0, 5)]);
  });
});

describe('partition-shap', () => {
  it('keeps the pieces of a word together and splits after punctuation first', async () => {
    const { partitionTree } = await import('../../../src/methods/partitionShap.js');
    const { buildFeatures } = await import('../../../src/masking/registry.js');
    const { encodeText } = await import('../../../src/text/encode.js');
    const e = encodeText(additive, 'great fun , but the plot was dull');
    const root = partitionTree(buildFeatures(e, 'token'), e.text);
    expect(root.children![0]).toMatchObject({ start: 0, end: 3 }); // "great fun ," | "but the plot was dull"
  });

  it('Owen values on the interaction model: "not" and "good" share the interaction as Shapley does for two players', async () => {
    const r = await explainText(interaction, { text: 'not good', method: 'partition-shap', target: logit });
    expect(r.features.map((f) => f.attribution)).toEqual([expect.closeTo(-1.5, 5), expect.closeTo(0, 5)]);
  });

  it('sum to f(x) − f(baseline) on the interaction model with a longer text, fully expanded or within a budget', async () => {
    for (const [budget, mode] of [
      [500, 'exact'],
      [12, 'budgeted'],
    ] as const) {
      const r = await explainText(interaction, {
        text: 'the film was not boring , but not great and very dull',
        method: 'partition-shap',
        target: logit,
        params: { 'max-evals': budget },
      });
      expect(r.diagnostics.mode).toBe(mode);
      expect(r.forwardPasses).toBeLessThanOrEqual(r.declaredCost);
      const sum = r.features.reduce((s, f) => s + f.attribution, 0);
      expect(sum).toBeCloseTo(r.fullScore - r.baselineScore, 5);
    }
  });
});

describe('planted induction LM', () => {
  it('predicts the token that followed the previous occurrence of the current token', async () => {
    const seq = 'c f a h k b x q';
    const r = await explainText(lm, {
      text: `${seq} ${seq.split(' ').slice(0, 3).join(' ')}`,
      method: 'occlusion',
    });
    expect(r.target).toMatchObject({ kind: 'next-token', name: 'h' });
  });

  it('the induction head reads the token after the earlier "a"', async () => {
    const r = await explainText(lm, {
      text: 'c f a h k b x q c f a',
      method: 'occlusion',
      target: { target: 'h' },
    });
    const ranked = [...r.features].sort((x, y) => y.attribution - x.attribution);
    // Without the first "h" (position 3) the model cannot copy it; the current "a" and the earlier "a" matter next.
    expect(ranked[0].text).toBe('h');
    expect(ranked[0].index).toBe(3);
  });

  it('--generate continues the repeated sequence, and each generated token is credited to its earlier copy', async () => {
    const { explainGeneration } = await import('../../../src/generate.js');
    const r = await explainGeneration(lm, { text: 'c f a h k b x q c f', method: 'occlusion' }, 4);
    expect(r.generated.map((g) => g.text)).toEqual(['a', 'h', 'k', 'b']);
    expect(r.sources.map((s) => s.text).join(' ')).toBe('c f a h k b x q c f a h k');
    r.matrix.forEach((row, k) => {
      expect(row.filter((a) => a !== null)).toHaveLength(10 + k);
      const best = row.reduce<number>((bi, a, i) => (a !== null && a > (row[bi] ?? -Infinity) ? i : bi), 0);
      expect(r.sources[best]).toMatchObject({ text: r.generated[k].text, generated: false, index: 3 + k });
    });
  });
});
