import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, writePlanted } from '../../../fixtures/planted.js';
import { chainReport, type ChainRequest } from '../../../src/chain/chain.js';
import { loadModel } from '../../../src/model/load.js';
import { countingPasses } from '../../../src/runtime/context.js';
import type { Model } from '../../../src/model/types.js';
import { summarizeChain } from '../../../src/summary/chain.js';
import { lasso } from '../../../src/util/linalg.js';
import { Rng } from '../../../src/util/rng.js';

/**
 * The planted induction LM copies the token that followed the previous occurrence of the current token.
 * In "a b c . q r s . x y z ." with the forced answer "q r", the answer's "q" follows "." (after which
 * "q" came once, in segment 0 → 1) and its "r" follows "q" (which only segment 1 shows): segment 1,
 * "q r s .", is what the answer copies from.
 */
let model: Model;
const request: ChainRequest = {
  prompt: 'a b c . q r s . x y z .',
  generate: 0,
  answer: ' q r',
  segments: 'sentence',
  samples: 48,
  holdout: 24,
  exactLimit: 4,
  seed: 0,
};

beforeAll(async () => {
  model = await loadModel(writePlanted(inductionLM(['.'])));
});

describe('chain attribution on a planted copying LM', () => {
  it('ranks the segment the answer copies from first, by leave-one-out and by the surrogate', async () => {
    for (const exactLimit of [4, 0]) {
      const r = await chainReport(model, { ...request, exactLimit });
      expect(r.segments.map((s) => [s.text, s.source])).toEqual([
        ['a b c .', 'prompt'],
        ['q r s .', 'prompt'],
        ['x y z .', 'prompt'],
        ['q r', 'answer'],
      ]);
      expect(r.targets).toHaveLength(1);
      expect(r.targets[0].method).toBe(exactLimit ? 'leave-one-out' : 'surrogate');
      expect(r.answer.segment).toBe(3);
      expect(r.answer.support[0].segment).toBe(1);
      expect(r.answer.check!.removed[0]).toBe(1);
      expect(r.answer.check!.after).toBeLessThan(r.answer.check!.before - 1);
    }
  });

  it('reports the surrogate’s held-out fit (LDS) with an interval', async () => {
    const r = await chainReport(model, { ...request, exactLimit: 0 });
    const lds = r.targets[0].lds!;
    // 3 segments have 8 subsets: 4 are set aside before fitting (24 draws could only repeat them; issue 30).
    expect(lds.n).toBe(4);
    expect(lds.heldOut).toBe('reserved');
    expect(lds.low).toBeLessThanOrEqual(lds.value);
    expect(lds.value).toBeLessThanOrEqual(lds.high);
    // Fitted on 4 distinct subsets and measured on the 4 others, the honest LDS is 0.21 (it read > 0.5 when the
    // held-out draws repeated training subsets).
    expect(lds.value).toBeCloseTo(0.2108, 3);
  });

  it('attributes each generated segment to the ones before it', async () => {
    const { result: r, passes } = await countingPasses(() =>
      chainReport(model, { ...request, prompt: 'a b c . q r s . a b', generate: 3, answer: undefined }),
    );
    expect(r.segments.map((s) => [s.text, s.source])).toEqual([
      ['a b c .', 'prompt'],
      ['q r s .', 'prompt'],
      ['a b', 'prompt'],
      ['c.', 'generated'],
      ['a', 'generated'],
    ]);
    for (const t of r.targets) expect(t.weights).toHaveLength(t.segment);
    // Every pass the batching point ran, generation and the answer's check included, and no other.
    expect(r.forwardPasses).toBe(passes);
  });

  it('its summary names the copied segment, and drops the removal claim when the check contradicts it', async () => {
    const r = await chainReport(model, request);
    const s = summarizeChain(r);
    expect(s.text).toContain('It rests most on segment 1 (“q r s .”');
    expect(s.dropped).toEqual([]);
    const forged = { ...r, answer: { ...r.answer, check: { ...r.answer.check!, after: r.answer.check!.before + 1 } } };
    const f = summarizeChain(forged);
    expect(f.text).not.toContain('Removing segment');
    expect(f.dropped[0].text).toMatch(/^Removing segment 1/);
  });

  it('refuses a classifier and a chain with nothing to attribute', async () => {
    const classifier = await loadModel('sst2-tiny');
    await expect(chainReport(classifier, request)).rejects.toThrow(/needs a causal language model/);
    await expect(chainReport(model, { ...request, answer: undefined })).rejects.toThrow(/nothing to attribute/);
  });
});

describe('lasso', () => {
  it('recovers sparse planted coefficients and zeroes the rest as the penalty grows', () => {
    const rng = new Rng(1);
    const X = Array.from({ length: 200 }, () => Array.from({ length: 6 }, () => (rng.next() < 0.5 ? 1 : 0)));
    const y = X.map((x) => 0.5 + 2 * x[0] - 1 * x[2]);
    const exact = lasso(X, y, 0);
    exact.coef.forEach((c, j) => expect(c).toBeCloseTo([2, 0, -1, 0, 0, 0][j], 6));
    expect(exact.intercept).toBeCloseTo(0.5, 6);
    const sparse = lasso(X, y, 0.1);
    expect(sparse.coef[0]).toBeGreaterThan(1);
    expect(sparse.coef[2]).toBeLessThan(-0.2);
    for (const j of [1, 3, 4, 5]) expect(sparse.coef[j]).toBe(0);
    expect(lasso(X, y, 10).coef.every((c) => c === 0)).toBe(true);
  });
});
