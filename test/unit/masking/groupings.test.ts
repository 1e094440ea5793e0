import { beforeAll, describe, expect, it } from 'vitest';
import { ADDITIVE_WEIGHTS, additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { explainText } from '../../../src/explain.js';
import { buildFeatures, GRANULARITIES, grouping } from '../../../src/masking/registry.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { encodeText } from '../../../src/text/encode.js';

let additive: Model;
beforeAll(async () => {
  additive = await loadModel(writePlanted(additiveClassifier()));
});

describe('feature groupings', () => {
  it('the registry holds token, word, sentence and line, and refuses other names', () => {
    expect(GRANULARITIES).toEqual(['token', 'word', 'sentence', 'line']);
    expect(() => grouping('paragraph')).toThrow(
      /unknown granularity 'paragraph'; choose one of token, word, sentence, line/,
    );
  });

  it('lines end after a line break', () => {
    const e = encodeText(additive, 'the movie was great\nthe plot was dull\n\nfun');
    const features = buildFeatures(e, 'line');
    expect(features.map((f) => f.text.trim())).toEqual(['the movie was great', 'the plot was dull', 'fun']);
  });

  it('sentences end after terminal punctuation; special tokens belong to none', () => {
    const e = encodeText(additive, 'the movie was great . the plot was dull ! fun');
    const features = buildFeatures(e, 'sentence');
    expect(features.map((f) => f.text)).toEqual(['the movie was great .', 'the plot was dull !', 'fun']);
    const all = features.flatMap((f) => f.positions);
    expect(all).toEqual(e.ids.map((_, i) => i).filter((i) => !e.special[i]));
  });

  it('a text without terminal punctuation is one sentence', () => {
    expect(buildFeatures(encodeText(additive, 'great but dull'), 'sentence')).toHaveLength(1);
  });

  it('exact Shapley over sentences of the additive model gives each sentence the sum of its planted weights', async () => {
    const r = await explainText(additive, {
      text: 'great fun . boring plot . very good',
      method: 'shapley',
      granularity: 'sentence',
      target: { target: 'POSITIVE', score: 'logit' },
    });
    const weight = (s: string) => s.split(' ').reduce((t, w) => t + (ADDITIVE_WEIGHTS[w] ?? 0), 0);
    expect(r.features).toHaveLength(3);
    for (const f of r.features) expect(f.attribution).toBeCloseTo(weight(f.text), 5);
  });
});
