import { beforeAll, describe, expect, it } from 'vitest';
import { sampleContinuations, settingDistribution } from '../../../src/decoding.js';
import { generateGreedy } from '../../../src/generate.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { distinctN } from '../../../src/sampling.js';
import { lastLogits } from '../../../src/target/target.js';
import { encodeText } from '../../../src/text/encode.js';
import { softmax } from '../../../src/util/maths.js';
import { Rng } from '../../../src/util/rng.js';
import { chiSquareTest } from '../../../src/util/stats.js';

const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);

describe('the distribution a decoding setting draws from', () => {
  it('temperature 0 and top-k 1 put all mass on the most likely token', () => {
    expect([...settingDistribution(logits, { temperature: 0, topK: 0, topP: 1 })]).toEqual([1, 0, 0]);
    expect([...settingDistribution(logits, { temperature: 1.7, topK: 1, topP: 1 })]).toEqual([1, 0, 0]);
  });

  it('top-p keeps the smallest set that reaches p, renormalised; temperature divides the logits first', () => {
    const p = settingDistribution(logits, { temperature: 1, topK: 0, topP: 0.6 });
    expect(p[0]).toBeCloseTo(0.625, 7);
    expect(p[1]).toBeCloseTo(0.375, 7);
    expect(p[2]).toBe(0);
    const hot = settingDistribution(logits, { temperature: 2, topK: 2, topP: 1 });
    const w = [Math.sqrt(0.5), Math.sqrt(0.3)];
    expect(hot[0]).toBeCloseTo(w[0] / (w[0] + w[1]), 7);
    expect(hot[2]).toBe(0);
  });
});

describe('distinct-n', () => {
  it('counts distinct n-grams over all n-grams, pooled', () => {
    expect(distinctN([[1, 2, 1, 2]], 1)).toBe(0.5);
    expect(distinctN([[1, 2, 1, 2]], 2)).toBeCloseTo(2 / 3, 12);
    expect(distinctN([[1], [1]], 2)).toBe(0);
  });
});

describe('chiSquareTest', () => {
  it('gives the textbook tail probabilities', () => {
    // χ²(1) at 3.841 and χ²(10) at 18.307 are the 5 % critical values; χ²(4) at 13.277 the 1 % one.
    const at = (statistic: number, df: number) => {
      const expected = new Array(df + 1).fill(100);
      const observed = [...expected];
      // One cell moved by d and another by −d gives statistic 2d²/100.
      const d = Math.sqrt((statistic * 100) / 2);
      observed[0] += d;
      observed[1] -= d;
      return chiSquareTest(observed, expected).pValue;
    };
    expect(at(3.841, 1)).toBeCloseTo(0.05, 4);
    expect(at(18.307, 10)).toBeCloseTo(0.05, 4);
    expect(at(13.277, 4)).toBeCloseTo(0.01, 4);
    expect(at(0.5, 2)).toBeCloseTo(Math.exp(-0.25), 10);
  });
});

describe('sampling continuations from the embedded LM', () => {
  let model: Model;
  let prompt: number[];
  beforeAll(async () => {
    model = await loadModel('tiny-lm');
    prompt = encodeText(model, 'Once upon a time there was a').ids;
  });

  it('temperature 0, and top-k 1 at any temperature, are greedy decoding', async () => {
    const greedy = await generateGreedy(model, prompt, 8);
    for (const setting of [
      { temperature: 0, topK: 0, topP: 1 },
      { temperature: 1.5, topK: 1, topP: 1 },
    ]) {
      const { samples } = await sampleContinuations(model, prompt, setting, 3, 8, new Rng(5));
      for (const s of samples) expect(s.ids).toEqual(greedy);
    }
  });

  it('first tokens drawn at temperature 1.3 follow softmax(logits / 1.3) (chi-square, fixed seed)', async () => {
    const n = 4000;
    const setting = { temperature: 1.3, topK: 0, topP: 1 };
    const { samples } = await sampleContinuations(model, prompt, setting, n, 1, new Rng(11));
    const row = await lastLogits(model, prompt);
    const observed = new Array(row.length).fill(0);
    for (const s of samples) observed[s.ids[0]]++;
    const expectedAt = (t: number) => [...softmax(row.map((x) => x / t))].map((p) => p * n);
    const fit = chiSquareTest(observed, expectedAt(1.3));
    expect(fit.df).toBeGreaterThan(20);
    expect(fit.pValue).toBeGreaterThan(0.01);
    // The test has the power to tell the temperature: against temperature 1 the same draws are rejected.
    expect(chiSquareTest(observed, expectedAt(1)).pValue).toBeLessThan(1e-6);
  });

  it('the same seed gives the same continuations; another seed does not', async () => {
    const setting = { temperature: 1, topK: 40, topP: 0.95 };
    const draw = (seed: number) => sampleContinuations(model, prompt, setting, 6, 6, new Rng(seed));
    const [a, b, c] = await Promise.all([draw(3), draw(3), draw(4)]);
    expect(JSON.stringify(a.samples)).toBe(JSON.stringify(b.samples));
    expect(JSON.stringify(a.samples)).not.toBe(JSON.stringify(c.samples));
  });
});
