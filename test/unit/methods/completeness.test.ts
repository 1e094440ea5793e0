import { beforeAll, describe, expect, it } from 'vitest';
import { additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { explainText } from '../../../src/explain.js';
import { completenessOf } from '../../../src/methods/completeness.js';
import { methodNames, methodNamed } from '../../../src/methods/config.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { tempDir } from '../../helpers.js';

describe('completeness, computed once for every method that declares it', () => {
  it('is Σ values against f(x) − f(baseline), relative to the gap', () => {
    expect(completenessOf([1, 2, 0.5], 4, 1)).toEqual({ sum: 3.5, gap: 3, error: 0.5, relativeError: 0.5 / 3 });
    expect(completenessOf([0], 2, 2).relativeError).toBe(0);
  });

  let model: Model;
  beforeAll(async () => {
    model = await loadModel(writePlanted(additiveClassifier(), tempDir('interp-completeness-')));
  });

  it('every declaring method reports it, and only those; on the planted additive model it holds', async () => {
    const declaring = methodNames().filter((m) => methodNamed(m).completeness);
    expect(declaring.sort()).toEqual(['integrated-gradients', 'kernel-shap', 'lrp', 'partition-shap', 'shapley']);
    for (const method of methodNames()) {
      const r = await explainText(model, { text: 'the movie was great but dull', method, target: { score: 'logit' } });
      if (!methodNamed(method).completeness) {
        expect(r.completeness, method).toBeUndefined();
        continue;
      }
      const c = r.completeness!;
      const sum = r.features.reduce((a, f) => a + f.attribution, 0);
      expect(c.sum, method).toBeCloseTo(sum, 12);
      // The planted model is linear in its embeddings: exact methods and the gradient paths are complete.
      expect(c.error, method).toBeLessThan(1e-4);
      if (methodNamed(method).completeness === 'exact')
        expect(c.gap, method).toBeCloseTo(r.fullScore - r.baselineScore, 9);
    }
  });
});
