import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, writePlanted } from '../../../fixtures/planted.js';
import { chainReport, type ChainRequest } from '../../../src/chain/chain.js';
import { heldOutSubsets, trainAndHeldOut } from '../../../src/chain/heldOut.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { chainTable } from '../../../src/render/chain.js';
import { Rng } from '../../../src/util/rng.js';

// Issue 30, item 22: the LDS is measured on ablations the surrogate was not fitted on.
const key = (c: Uint8Array) => c.join('');

describe('held-out ablations are never fitting ones', () => {
  it('6 segments, 48 training draws: 24 held-out subsets, distinct, none among the training ones', () => {
    for (const seed of [0, 1, 2, 3]) {
      const { train, heldOut, kind } = trainAndHeldOut(6, 48, 24, new Rng(seed));
      const used = new Set(train.map(key));
      expect(heldOut).toHaveLength(24);
      expect(new Set(heldOut.map(key)).size).toBe(24);
      expect(heldOut.filter((c) => used.has(key(c)))).toEqual([]);
      expect(['sampled', 'all', 'reserved']).toContain(kind);
    }
  });

  it('5 segments (32 subsets): a share is reserved before fitting, and the fit draws only from the rest', () => {
    const { train, heldOut, kind } = trainAndHeldOut(5, 48, 24, new Rng(0));
    expect(kind).toBe('reserved');
    expect(heldOut).toHaveLength(16);
    const held = new Set(heldOut.map(key));
    expect(held.size).toBe(16);
    expect(train.filter((c) => held.has(key(c)))).toEqual([]);
  });

  it('few unused subsets are all enumerated; many are sampled without replacement; 30 segments by rejection', () => {
    const loo = [0, 1, 2].map((i) => Uint8Array.from({ length: 3 }, (_, j) => (j === i ? 0 : 1)));
    const all = heldOutSubsets(3, 24, [...loo, Uint8Array.from([1, 1, 1])], new Rng(0));
    expect(all.kind).toBe('all');
    expect(all.subsets.map(key).sort()).toEqual(['000', '001', '010', '100']);
    const big = heldOutSubsets(30, 50, [], new Rng(0));
    expect(big.kind).toBe('sampled');
    expect(new Set(big.subsets.map(key)).size).toBe(50);
  });
});

describe('chain reports which held-out draw its LDS used', () => {
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

  it('leave-one-out on 3 segments: the 4 subsets neither left-one-out nor full, and the table says so', async () => {
    const r = await chainReport(model, request);
    expect(r.targets[0].lds).toMatchObject({ n: 4, heldOut: 'all' });
    expect(chainTable(r)).toContain('LDS on held-out ablations: all 4 subsets not used for fitting');
  });
});
