import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeRandomGpt2Folder } from '../../../fixtures/exports.js';
import { inductionLM, PLANTED_HEADS, writePlanted } from '../../../fixtures/planted.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { hiddenStates, runFromHidden } from '../../../src/concepts/activations.js';
import { patchReport, type PatchRequest } from '../../../src/patch/patch.js';
import { encodeText } from '../../../src/text/encode.js';
import { openSessions } from '../../../src/runtime/session.js';
import { repoRoot, tempDir } from '../../helpers.js';

/**
 * The planted induction LM on "a b c d a" predicts "b": the induction head (layer 1) at the last position
 * attends to position 2, whose previous token is "a", and copies its token. Hidden state l is the residual
 * stream after layer l − 1 (0: the embeddings), so the induction head's output is hidden state 2.
 */
let model: Model;
const base: PatchRequest = { text: 'a b c d a', corrupted: 'a x c d a', noise: 3, samples: 1, seed: 0 };
const last = 5; // <s> a b c d a
const copied = 2;
const inductionState = PLANTED_HEADS.induction.layer + 1;

beforeAll(async () => {
  model = await loadModel(writePlanted(inductionLM()));
});

describe('interp patch on the planted induction LM', () => {
  for (const corruption of [{ corrupted: 'a x c d a' }, { corrupted: undefined, corrupt: 'b', samples: 5, noise: 20 }])
    it(`restores the answer at the induction head's layer and the last position (${corruption.corrupted ? 'a corrupted prompt' : 'noise on “b”'})`, async () => {
      const r = await patchReport(model, { ...base, ...corruption });
      expect(r.target.name).toBe('b');
      expect(r.cleanScore - r.corruptedScore).toBeGreaterThan(5);
      expect(r.layers).toBe(3);
      // After the induction head, the answer lives at the last position only.
      expect(r.recovered[inductionState][last]).toBeCloseTo(1, 3);
      r.recovered[inductionState].forEach((v, p) => p !== last && expect(Math.abs(v)).toBeLessThan(0.05));
      // Before it, the last position holds nothing of the answer: restoring it there brings nothing back.
      for (let l = 0; l < inductionState; l++) expect(Math.abs(r.recovered[l][last])).toBeLessThan(0.05);
      // ...the copied token does, at every layer below the head, and only there.
      for (let l = 0; l < inductionState; l++) expect(r.recovered[l][copied]).toBeGreaterThan(0.8);
      expect(r.strongest[0].recovered).toBeCloseTo(1, 3);
    });

  it('with heads: only the induction head at the last position restores the answer', async () => {
    const r = await patchReport(model, { ...base, heads: true });
    const { layer, head } = PLANTED_HEADS.induction;
    expect(r.heads!.recovered[layer][head][last]).toBeCloseTo(1, 4);
    r.heads!.recovered.forEach((heads, l) =>
      heads.forEach((row, h) =>
        row.forEach((v, p) => (l === layer && h === head && p === last) || expect(Math.abs(v)).toBeLessThan(1e-3)),
      ),
    );
    expect(r.heads!.strongest[0]).toMatchObject({ layer, head, position: last });
  });

  it('refuses prompts of different lengths, words not in the text, and both or neither corruption', async () => {
    await expect(patchReport(model, { ...base, corrupted: 'a x c d' })).rejects.toThrow(
      /patching needs the same length/,
    );
    await expect(patchReport(model, { ...base, corrupted: undefined, corrupt: 'q' })).rejects.toThrow(
      /'q' not found in the text/,
    );
    await expect(patchReport(model, { ...base, corrupt: 'b' })).rejects.toThrow(/one of them/);
    await expect(patchReport(model, { ...base, corrupted: undefined })).rejects.toThrow(/one of them/);
  });
});

describe('interp patch holds one graph cut at a time', () => {
  // Each layer's restorations run through the graph cut at that layer, which holds its own copy of the
  // weights above the cut: were they all kept (or run at once), a 24-layer 0.5B model would hold 12 copies.
  it('opens as many sessions at once on a 6-layer model as on a 2-layer one', async () => {
    const dir = tempDir('interp-patch-depth-');
    const most = async (layers: number) => {
      const folder = writeRandomGpt2Folder(path.join(dir, `lm-${layers}`), path.join(repoRoot, 'models', 'tiny-lm'), {
        ...{ layers, heads: 2, dim: 16, positions: 64, seed: 1 },
      });
      const deep = await loadModel(folder);
      const before = openSessions();
      const r = await patchReport(deep, {
        ...base,
        text: 'the cat sat on the mat',
        corrupted: 'the dog sat on the mat',
      });
      expect(r.layers).toBe(layers + 1);
      return openSessions().most - before.open;
    };
    const [shallow, deep] = [await most(2), await most(6)];
    expect(shallow).toBeGreaterThan(0);
    expect(deep).toBe(shallow);
  }, 60_000);
});

describe('a restored run brings back the last position only where the target reads nothing else', () => {
  // At 129 tokens of a 50,257-token vocabulary, one layer's 129 restorations held 3.3 GB of [T, vocab] logits
  // (a 0.5B model's patch reached 14.3 GB); a next-token target reads position T − 1 alone.
  it("runFromHidden's 'last' logits are the last row of its 'all' logits, [rows, 1, vocab]", async () => {
    const { ids } = encodeText(model, 'a b c d a');
    const T = ids.length;
    const D = (await hiddenStates(model, ids))[0].length / T;
    const hidden = Float32Array.from({ length: 3 * T * D }, (_, i) => Math.sin(i)); // [row, position, d_model]
    const all = await runFromHidden(model, 1, ids, hidden, 3, undefined, 'all');
    const last = await runFromHidden(model, 1, ids, hidden, 3, undefined, 'last');
    const V = all.dims[2];
    expect(all.dims).toEqual([3, T, V]);
    expect(last.dims).toEqual([3, 1, V]);
    for (let r = 0; r < 3; r++)
      expect(Array.from(last.data.subarray(r * V, (r + 1) * V))).toEqual(
        Array.from(all.data.subarray((r * T + T - 1) * V, (r * T + T) * V)),
      );
  });
});
