import { describe, expect, it } from 'vitest';
import { maximizeUnit } from '../../../src/concepts/maximize.js';
import { loadModel } from '../../../src/model/load.js';
import { runWithCache } from '../../../src/runtime/activations.js';
import { RunContext } from '../../../src/runtime/context.js';
import { encodeText } from '../../../src/text/encode.js';
import { distilbert, skipWithoutShared } from '../../helpers.js';

// Issue 30, item 21: what --maximize reports is the activation of a text, so its tokens must be that text's.
describe('concepts top --maximize keeps to token sequences that text tokenizes to', () => {
  it.skipIf(skipWithoutShared)(
    'distilbert, 4 neurons (without the check one found sequence re-encodes to other ids): every input found decodes and re-encodes to the same ids',
    async () => {
      const model = await loadModel(distilbert);
      const start = encodeText(model, 'the film was a delight').ids;
      const [cache] = await runWithCache(model, [start], ['mlp.1'], new RunContext());
      const width = cache.get('mlp.1').dims[1];
      for (const neuron of [0, 7, 31, 100]) {
        const weights = new Float64Array(width);
        weights[neuron] = 1;
        const request = { start, position: 2, steps: 12, budget: 800, candidates: 512, swaps: 48, seed: 0 };
        const m = await maximizeUnit(model, { hook: 'mlp.1', weights }, request, new RunContext());
        expect(m.roundTrip).toBe(true);
        for (const b of m.best) expect(model.tokenizer.encode(b.text)).toEqual(b.ids);
        // Its activation is the printed text's: rerun from the text itself.
        const [again] = await runWithCache(model, [encodeText(model, m.best[0].text).ids], ['mlp.1'], new RunContext());
        expect(again.get('mlp.1').data[2 * width + neuron]).toBeCloseTo(m.best[0].activation, 4);
      }
    },
    120_000,
  );
});
