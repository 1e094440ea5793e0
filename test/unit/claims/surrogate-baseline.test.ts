import { beforeAll, describe, expect, it } from 'vitest';
import { ADDITIVE_WEIGHTS, additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { surrogateReport, type SurrogateRequest } from '../../../src/concepts/surrogate.js';
import type { Example } from '../../../src/data/datasets.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { surrogateTable } from '../../../src/render/surrogate.js';
import { Rng } from '../../../src/util/rng.js';

// Issue 30, item 25: every surrogate fidelity stands beside the majority-class baseline.
let model: Model;
const words = Object.keys(ADDITIVE_WEIGHTS).filter((w) => /^[a-z]+$/.test(w));

function corpus(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: String(i),
    text: Array.from({ length: 3 + rng.int(5) }, () => words[rng.int(words.length)]).join(' '),
  }));
}

const request = (over: Partial<SurrogateRequest>): SurrogateRequest => ({
  train: corpus(400, 5),
  holdout: 0.25,
  bigrams: false,
  minCount: 2,
  maxFeatures: 5000,
  method: 'occlusion',
  explain: 0,
  top: 10,
  seed: 0,
  tree: 2,
  ...over,
});

beforeAll(async () => {
  model = await loadModel(writePlanted(additiveClassifier()));
});

describe('concepts surrogate: the majority-class baseline beside every fidelity', () => {
  it('a fitted surrogate beats the baseline, and the table says so for the linear model and the tree', async () => {
    const r = await surrogateReport(model, request({}));
    // The planted corpus is roughly balanced: the majority label of training holds for about half the held-out rows.
    expect(r.majority.fidelity.mean).toBeGreaterThan(0.3);
    expect(r.majority.fidelity.mean).toBeLessThan(0.7);
    expect(r.fidelity.mean).toBeGreaterThan(r.majority.fidelity.mean);
    expect(r.beatsMajority).toBe(true);
    expect(r.tree!.beatsMajority).toBe(r.tree!.fidelity.mean > r.majority.fidelity.mean);
    const table = surrogateTable(r);
    expect(table.match(/majority-class baseline \(always (POSITIVE|NEGATIVE)\)/g)).toHaveLength(2);
    expect(table).not.toMatch(/NOT beaten/);
  });

  it('a surrogate with no features can only answer the majority label: it is said not to beat the baseline', async () => {
    // Every feature is dropped (seen in fewer than min-count examples), so both surrogates answer one label.
    const r = await surrogateReport(model, request({ minCount: 1_000_000 }));
    expect(r.features).toBe(0);
    expect(r.fidelity.mean).toBeCloseTo(r.majority.fidelity.mean, 12);
    expect(r.beatsMajority).toBe(false);
    expect(r.tree!.beatsMajority).toBe(false);
    expect(surrogateTable(r).match(/NOT beaten/g)).toHaveLength(2);
  });
});
