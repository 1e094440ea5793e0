import { beforeAll, describe, expect, it } from 'vitest';
import { additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { explainText } from '../../../src/explain.js';
import { METHODS } from '../../../src/methods/registry.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';

/** Every registered method, on the planted additive model: the contract a new method must meet. */
const TEXT = 'the movie was great but boring and very fun';
const target = { target: 'POSITIVE', score: 'logit' };

let model: Model;
beforeAll(async () => {
  model = await loadModel(writePlanted(additiveClassifier()));
});

describe.each(Object.values(METHODS).map((m) => [m.name, m] as const))('%s', (name, method) => {
  it('finite values, one per feature, within its declared cost, the same bytes for the same seed', async () => {
    const a = await explainText(model, { text: TEXT, method: name, target, seed: 3 });
    const b = await explainText(model, { text: TEXT, method: name, target, seed: 3 });
    expect(a.features).toHaveLength(TEXT.split(' ').length);
    for (const f of a.features) expect(Number.isFinite(f.attribution)).toBe(true);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    if (method.cost === 'exact') expect(a.forwardPasses).toBe(a.declaredCost);
    else expect(a.forwardPasses).toBeLessThanOrEqual(a.declaredCost);
    expect(['perturbation', 'gradient', 'attention', 'control']).toContain(method.family);
    for (const spec of Object.values(method.params)) {
      expect(spec.min).toBeLessThanOrEqual(spec.default);
      expect(spec.default).toBeLessThanOrEqual(spec.max);
    }
  });

  // On the additive model every path is straight and LRP conserves exactly, so 'path' methods are complete too.
  if (method.completeness)
    it(`is complete (${method.completeness}): attributions sum to f(x) − f(baseline)`, async () => {
      const r = await explainText(model, { text: TEXT, method: name, target, seed: 3 });
      const sum = r.features.reduce((s, f) => s + f.attribution, 0);
      expect(sum).toBeCloseTo(r.fullScore - r.baselineScore, 4);
    });
});
