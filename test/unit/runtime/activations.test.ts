import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, writePlanted } from '../../../fixtures/planted.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { runWithCache } from '../../../src/runtime/activations.js';
import { RunContext } from '../../../src/runtime/context.js';
import { encodeText } from '../../../src/text/encode.js';

let lm: Model;
beforeAll(async () => {
  lm = await loadModel(writePlanted(inductionLM()));
});

describe('runWithCache', () => {
  it('a short row of a padded batch holds exactly what it holds when run alone, at its own length', async () => {
    const short = encodeText(lm, 'c f a').ids;
    const long = encodeText(lm, 'c f a h k b x q').ids;
    const names = ['hidden.0', 'hidden.2', 'attn.0.pattern', 'attn.1.v'] as const;
    const run = new RunContext();
    const [a, b] = await runWithCache(lm, [short, long], names, run);
    expect(run.forward).toBe(2);
    expect(run.batches).toBe(1);
    const [alone] = await runWithCache(lm, [short], names);
    const T = short.length;
    expect(a.get('attn.0.pattern').dims).toEqual([2, T, T]); // [head, query, key]
    expect(b.get('attn.0.pattern').dims).toEqual([2, long.length, long.length]);
    expect(a.get('hidden.2').dims[0]).toBe(T); // [pos, dModel]
    expect(a.get('attn.1.v').dims[1]).toBe(T); // [head, key, headDim]
    for (const name of names) {
      const [x, y] = [a.get(name).data, alone.get(name).data];
      expect(x.length).toBe(y.length);
      x.forEach((v, i) => expect(v).toBeCloseTo(y[i], 6));
    }
    // Attention rows sum to 1 over the real keys only: no padding leaked in.
    const p = a.get('attn.0.pattern').data;
    for (let q = 0; q < T; q++) expect(p.subarray(q * T, (q + 1) * T).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  });

  it('names a missing activation', async () => {
    await expect(runWithCache(lm, [[1, 2]], ['hidden.9'])).rejects.toThrow(/has no activation hidden\.9/);
  });
});
