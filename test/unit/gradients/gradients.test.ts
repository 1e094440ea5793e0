import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADDITIVE_WEIGHTS,
  additiveClassifier,
  inductionLM,
  interactionClassifier,
  PLANTED_HEADS,
  writePlanted,
} from '../../../fixtures/planted.js';
import { attentionTimesGradient } from '../../../src/attention/gradient.js';
import { resolveTarget } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { gaussLegendre } from '../../../src/util/quadrature.js';
import { runCli } from '../../helpers.js';
import { gradientError } from '../../support/gradients.js';

const TEXT = 'the movie was great but the plot was boring and very dull';

describe('gradients end to end: planted and embedded models', () => {
  let additive: Model;
  let interaction: Model;
  let induction: Model;
  beforeAll(async () => {
    additive = await loadModel(writePlanted(additiveClassifier()));
    interaction = await loadModel(writePlanted(interactionClassifier()));
    induction = await loadModel(writePlanted(inductionLM()));
  });

  it('grad-x-input with a zero baseline equals the planted weights on the additive model', async () => {
    const r = await explainText(additive, {
      text: TEXT,
      method: 'grad-x-input',
      target: { target: 'POSITIVE', score: 'logit' },
      baseline: 'zero',
    });
    expect(r.baseline).toBe('zero');
    r.features.forEach((f) => expect(f.attribution).toBeCloseTo(ADDITIVE_WEIGHTS[f.text], 5));
    expect(r.baselineScore).toBeCloseTo(0, 6);
    expect(r.diagnostics.backwardPasses).toBe(2);
  });

  it('integrated gradients equal the planted weights too, and are complete', async () => {
    const r = await explainText(additive, {
      text: TEXT,
      method: 'integrated-gradients',
      target: { target: 'POSITIVE', score: 'logit' },
      params: { steps: 4 },
    });
    r.features.forEach((f) => expect(f.attribution).toBeCloseTo(ADDITIVE_WEIGHTS[f.text], 5));
    expect(r.completeness!.error).toBeLessThan(1e-5);
  });

  it('on the interaction model, IG splits "not good" as the path integral predicts', async () => {
    // POSITIVE = w(good)·(1 − 2·notPrev): along the straight path f(α) = 1.5α − 3α². The product term
    // −3α² splits evenly between "not" and "good" (−1.5 each), and "good" keeps its linear +1.5: (−1.5, 0).
    const r = await explainText(interaction, {
      text: 'not good',
      method: 'integrated-gradients',
      target: { target: 'POSITIVE', score: 'logit' },
      params: { steps: 8 },
    });
    expect(r.fullScore).toBeCloseTo(-1.5, 5);
    expect(r.features[0].attribution).toBeCloseTo(-1.5, 4);
    expect(r.features[1].attribution).toBeCloseTo(0, 4);
  });

  it('--tolerance doubles the steps until IG is complete: the left Riemann rule on the path of "not good"', async () => {
    const run = (params: Record<string, number>) =>
      explainText(interaction, {
        text: 'not good',
        method: 'integrated-gradients',
        target: { target: 'POSITIVE', score: 'logit' },
        params,
        choices: { rule: 'riemann-left' },
      });
    // f(α) = 1.5α − 3α², so the integrand f'(α) = 1.5 − 6α; n left points sum to −1.5 + 3/n: a relative error of 2/n.
    const fixed = await run({ steps: 2 });
    expect(fixed.completeness!.relativeError).toBeCloseTo(1, 5);
    const adaptive = await run({ steps: 2, tolerance: 0.05, 'max-steps': 256 });
    expect(adaptive.diagnostics.steps).toBe(64);
    expect(adaptive.completeness!.relativeError).toBeCloseTo(2 / 64, 5);
    expect(adaptive.forwardPasses).toBeLessThanOrEqual(adaptive.declaredCost);
  });

  for (const [name, text, target] of [
    ['sst2-tiny (logit)', 'a gripping , well acted and warm film', { score: 'logit' }],
    ['sst2-tiny (log-odds)', 'a gripping , well acted and warm film', { score: 'log-odds' }],
    ['tiny-lm (next token)', 'the film was a', {}],
    ['tiny-lm (continuation)', 'the film was', { continuation: ' a delight' }],
  ] as const) {
    it(`backward graph matches finite differences: ${name}`, async () => {
      const model = await loadModel(name.startsWith('sst2') ? 'sst2-tiny' : 'tiny-lm');
      expect(await gradientError(model, text, target)).toBeLessThan(1e-3);
    });
  }

  it('backward graph matches finite differences: the planted models', async () => {
    expect(await gradientError(additive, TEXT, { target: 'POSITIVE', score: 'probability' })).toBeLessThan(1e-3);
    expect(
      await gradientError(interaction, 'not good but not boring', { target: 'POSITIVE', score: 'log-odds' }),
    ).toBeLessThan(1e-3);
    expect(await gradientError(induction, 'a b c d a b c', {})).toBeLessThan(1e-3);
  });

  it('attention × gradient ranks the planted induction head first for an induced next token', async () => {
    const encoding = encodeText(induction, 'a b c d a b c');
    const target = await resolveTarget(induction, encoding.ids, {});
    expect(target.name).toBe('d');
    const result = await attentionTimesGradient(induction, encoding.ids, target);
    expect(result.importance[0]).toMatchObject(PLANTED_HEADS.induction);
    const T = encoding.ids.length;
    const map = result.layers[1][0];
    // The last "c" attends to the position after the earlier "c" (which holds "d"), and that link carries the gradient.
    const row = Array.from(map.subarray((T - 1) * T, T * T), Math.abs);
    expect(row.indexOf(Math.max(...row))).toBe(encoding.tokens.indexOf('d'));
  });

  it('the attention command reports attention × gradient and refuses --target without --gradient', async () => {
    const ok = await runCli(['attention', 'a gripping , well acted film', '--gradient', '--score', 'logit', '--json']);
    expect(ok.code).toBe(0);
    const parsed = JSON.parse(ok.stdout);
    expect(parsed.kind).toBe('attention-x-gradient');
    expect(parsed.importance).toHaveLength(parsed.shape.layers * parsed.shape.heads);
    const bad = await runCli(['attention', 'a film', '--target', 'POSITIVE']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--target and --score apply with --gradient/);
  });

  it('smoothgrad is reproducible by seed and changes with it', async () => {
    const run = (seed: number) =>
      explainText(additive, {
        text: TEXT,
        method: 'smoothgrad',
        target: { target: 'POSITIVE', score: 'probability' },
        seed,
        params: { samples: 8 },
      });
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.features)).not.toBe(JSON.stringify(c.features));
  });

  it('Gauss–Legendre nodes integrate polynomials of degree 2n − 1 exactly on [0, 1]', () => {
    const { nodes, weights } = gaussLegendre(5);
    for (let k = 0; k <= 9; k++)
      expect(nodes.reduce((s, x, i) => s + weights[i] * x ** k, 0)).toBeCloseTo(1 / (k + 1), 12);
  });
});
