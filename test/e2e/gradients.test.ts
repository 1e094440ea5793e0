import { describe, expect, it } from 'vitest';
import { explainText } from '../../src/explain.js';
import { loadModel } from '../../src/model/load.js';
import { distilbert, llama, runCli, skipWithoutShared } from '../helpers.js';
import { gradientError } from '../support/gradients.js';

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
      expect(r.completeness!.relativeError).toBeLessThan(0.01);
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
    expect(parsed.completeness.relativeError).toBeLessThan(0.02);
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
