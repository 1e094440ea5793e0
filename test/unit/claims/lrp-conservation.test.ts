import { beforeAll, describe, expect, it } from 'vitest';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { summarizeAttribution } from '../../../src/summary/explain.js';

// Issue 30, item 20: LRP's conservation error is reported, not hidden behind a claim that relevance is conserved.
let model: Model;
beforeAll(async () => {
  model = await loadModel('sst2-tiny');
});

describe('lrp on the embedded classifier states how far relevance is from conserved', () => {
  it('completeness: the score change beside the relevance sum, and what is not conserved', async () => {
    for (const score of ['probability', 'logit'] as const) {
      const r = await explainText(model, { text: 'not bad', method: 'lrp', target: { score } });
      const c = r.completeness!;
      const change = r.fullScore - r.baselineScore;
      const sum = r.features.reduce((a, f) => a + f.attribution, 0);
      expect(c.gap).toBeCloseTo(change, 6);
      expect(c.sum).toBeCloseTo(sum, 12);
      expect(c.relativeError).toBeCloseTo(Math.abs(sum - change) / Math.abs(change), 6);
      expect(r.diagnostics.conservation).toMatch(/biases, GELU\/tanh nonlinearities, the pooler/);
    }
  });

  it('the logit conserves more than the probability (0.83 → 0.04 on “not bad”)', async () => {
    const error = async (score: 'probability' | 'logit') =>
      (await explainText(model, { text: 'not bad', method: 'lrp', target: { score } })).completeness!.relativeError;
    expect(await error('probability')).toBeCloseTo(0.8347, 3);
    expect(await error('logit')).toBeCloseTo(0.038, 3);
  });

  it('--summary reports the conservation error as it reports IG completeness', async () => {
    const request = { text: 'not bad', method: 'lrp', target: { score: 'probability' } };
    const r = await explainText(model, request);
    const summary = await summarizeAttribution(model, request, r);
    const claim = summary.claims.find((c) => c.evidence.includes('/completeness/relativeError'));
    expect(claim?.text).toMatch(/^The relevances of lrp miss f\(x\) − f\(baseline\) by 83 % \(0\.102 against 0\.620\)/);
    expect(claim?.text).toMatch(/--score logit conserves more/);
  });
});
