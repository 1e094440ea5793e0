import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { explainText, type ExplainRequest } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { attackExplanation, type AttackSettings } from '../../../src/robustness/attack.js';
import { tempDir } from '../../helpers.js';

const TEXT = 'the movie was great but the plot was dull';

describe('the adversary of explanations on the planted additive classifier', () => {
  let model: Model;
  let settings: AttackSettings;
  beforeAll(async () => {
    const dir = tempDir('interp-robustness-');
    model = await loadModel(writePlanted(additiveClassifier(), dir));
    // Substitutes for the words of weight 0 only (by words of weight 0, 0.25 or 0.5): 'great' and 'dull' stay.
    const list = path.join(dir, 'substitutes.json');
    const zeroWords = {
      the: ['a', 'very'],
      movie: ['film', 'fine'],
      was: ['is', 'very'],
      plot: ['film', 'fine'],
      but: ['and', 'very'],
    };
    fs.writeFileSync(list, JSON.stringify(zeroWords));
    settings = {
      k: 2,
      budget: 20_000,
      maxEdits: 3,
      candidates: 3,
      beam: 4,
      tolerance: 0.1,
      seed: 0,
      proposer: { kind: 'list', file: list },
    };
  });

  const attack = async (request: ExplainRequest) =>
    attackExplanation(model, request, await explainText(model, request), settings);

  it('cannot break exact Shapley values by edits that leave the planted words alone', async () => {
    const r = await attack({ text: TEXT, method: 'shapley', target: { score: 'logit' } });
    // The search ran to its end: it kept edits that move the small attributions, never the top two.
    expect(r.budgetSpent).toBe(false);
    expect(r.edits).toBeGreaterThan(0);
    expect(r.spearman).toBeLessThan(1);
    expect(r.topK).toBe(1);
    expect(r.broken).toBe(false);
  });

  it('breaks LIME with few samples', async () => {
    const r = await attack({ text: TEXT, method: 'lime', params: { samples: 12 }, target: { score: 'logit' } });
    expect(r.broken).toBe(true);
    expect(r.topK).toBe(0.5);
    expect(r.diff).toBe('the movie was great but the [-plot-]{+fine+} was dull');
    // The control, as many random label-keeping substitutions, leaves LIME's top two in place: the search found what chance does not.
    expect(r.randomTopK).toBe(1);
  });

  it('keeps only edits that leave the prediction within the tolerance: at 0, LIME meets the same function and holds', async () => {
    const request = { text: TEXT, method: 'lime', params: { samples: 12 }, target: { score: 'logit' } };
    const r = await attackExplanation(model, request, await explainText(model, request), { ...settings, tolerance: 0 });
    expect(r.topK).toBe(1);
    expect(r.spearman).toBe(1);
  });
});
