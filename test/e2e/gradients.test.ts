import { describe, expect, it } from 'vitest';
import { explainText, prepare } from '../../src/explain.js';
import { gradientContext } from '../../src/gradients/context.js';
import { loadModel } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { Rng } from '../../src/util/rng.js';
import { distilbert, llama, runCli, skipWithoutShared } from '../helpers.js';

/**
 * The gradient of the target score with respect to the input embeddings, against central finite
 * differences along two unit directions: the gradient's own (where the derivative is largest) and a
 * random one. Error = |⟨g, v⟩ − FD| / ‖g‖. Curvature (large steps) and float32
 * rounding (small steps) limit FD from both sides, so the best of six step sizes and their Richardson
 * extrapolations counts.
 */
async function gradientError(
  model: Model,
  text: string,
  target: { target?: string; score?: string; continuation?: string } = {},
): Promise<number> {
  const p = await prepare(model, { text, method: 'saliency', target });
  const g = await gradientContext(model, p.encoding, p.features, p.target, 'zero');
  const [{ gradient }] = await g.run([g.input]);
  const norm = Math.sqrt(gradient.reduce((s, v) => s + v * v, 0));
  expect(norm).toBeGreaterThan(0);
  const rng = new Rng(7);
  const random = Float32Array.from(gradient, () => rng.normal());
  const rnorm = Math.sqrt(random.reduce((s, v) => s + v * v, 0));
  const directions = [gradient.map((v) => v / norm), random.map((v) => v / rnorm)];
  let worst = 0;
  for (const v of directions) {
    const analytic = v.reduce((s, vi, i) => s + vi * gradient[i], 0);
    const steps = [0.01, 0.005, 0.0025, 0.00125, 0.000625, 0.0003125];
    const rows = steps.flatMap((h) => [g.input.map((x, i) => x + h * v[i]), g.input.map((x, i) => x - h * v[i])]);
    const out = await g.run(rows);
    const central = steps.map((h, k) => (out[2 * k].score - out[2 * k + 1].score) / (2 * h));
    // Richardson extrapolation of each halving cancels the h² term of the central difference.
    const estimates = [...central, ...central.slice(1).map((half, k) => (4 * half - central[k]) / 3)];
    worst = Math.max(worst, Math.min(...estimates.map((e) => Math.abs(e - analytic) / norm)));
  }
  return worst;
}

describe.skipIf(skipWithoutShared)('gradients on the shared models', () => {
  it('distilbert-sst2-mini: backward graph matches finite differences', async () => {
    const model = await loadModel(distilbert);
    expect(await gradientError(model, 'the film was a delight , warm and funny', { score: 'logit' })).toBeLessThan(
      1e-3,
    );
    expect(await gradientError(model, 'a dull , lifeless mess', {})).toBeLessThan(1e-3);
  });

  it('llama-stories260k-kv: backward graph matches finite differences', async () => {
    const model = await loadModel(llama);
    expect(await gradientError(model, 'Once upon a time there was a little', {})).toBeLessThan(1e-3);
  });

  it('distilbert-sst2-mini: IG with 64 steps is complete to within 1 % of f(x) − f(baseline)', async () => {
    const model = await loadModel(distilbert);
    for (const score of ['probability', 'logit']) {
      const r = await explainText(model, {
        text: 'the film was a delight , warm and funny',
        method: 'integrated-gradients',
        target: { score },
        params: { steps: 64 },
      });
      const gap = r.fullScore - r.baselineScore;
      const sum = r.features.reduce((s, f) => s + f.attribution, 0);
      expect(Math.abs(sum - gap) / Math.abs(gap)).toBeLessThan(0.01);
      expect(r.diagnostics.relativeCompletenessError as number).toBeLessThan(0.01);
    }
  });

  it('the CLI explains a llama continuation with IG, and the same seed gives the same smoothgrad bytes', async () => {
    // A zero embedding sits at RMSNorm's singularity, where the path integrand spikes; the pad embedding does not.
    const ig = await runCli([
      'explain',
      'Once upon a time',
      '--model',
      llama,
      '--continuation',
      ', there was',
      '--method',
      'integrated-gradients',
      '--steps',
      '16',
      '--baseline',
      'pad',
      '--json',
    ]);
    expect(ig.code).toBe(0);
    const parsed = JSON.parse(ig.stdout);
    expect(parsed.target.kind).toBe('continuation');
    expect(parsed.diagnostics.relativeCompletenessError).toBeLessThan(0.02);
    const args = [
      'explain',
      'a gripping film',
      '--model',
      distilbert,
      '--method',
      'smoothgrad',
      '--samples',
      '6',
      '--seed',
      '3',
      '--json',
    ];
    const [a, b] = [await runCli(args), await runCli(args)];
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });
});
