import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/model/load.js';
import { createSession } from '../../../src/model/sessions.js';
import { AGREEMENT, checkScoringGraph, chooseScoringSession } from '../../../src/model/scoringGraph.js';
import { explainText } from '../../../src/explain.js';
import type { Session } from '../../../src/runtime/tensor.js';
import { llama, skipWithoutShared } from '../../helpers.js';

/** A session that answers every run with `logits`, and records whether it was released. */
function stub(logits: number[]): Session & { released: boolean } {
  const s = {
    released: false,
    run: async () => ({ logits: { data: Float32Array.from(logits), dims: [2, 2] } }),
    release: async () => {
      s.released = true;
    },
  };
  return s as unknown as Session & { released: boolean };
}

describe('the optimised scoring graph is used only where it agrees with the plain graph', () => {
  // Two logits of 0: probabilities 1/2 each, and a logit moved by δ moves them by about δ/4.
  const base = [0, 0, 100, 0];
  const cases: [string, number[], boolean][] = [
    ['identical', base, true],
    ['probabilities 7.5e-6 apart', [3e-5, 0, 100, 0], true],
    ['a large logit moved by 1e-3 (its probability is 1 either way)', [0, 0, 100 + 1e-3, 0], true],
    ['probabilities 2e-5 apart', [8e-5, 0, 100, 0], false],
    ['NaN in the optimised graph only', [0, NaN, 100, 0], false],
  ];
  for (const [name, optimizedLogits, agrees] of cases) {
    it(`${name}: ${agrees ? 'keeps the optimised session' : 'falls back to the plain one'}`, async () => {
      const optimized = stub(optimizedLogits);
      const plain = stub(base);
      const { session, graph } = await chooseScoringSession(optimized, async () => plain, {}, 'logits');
      expect(session).toBe(agrees ? optimized : plain);
      expect(graph.fellBack).toBe(!agrees);
      expect(graph.level).toBe(agrees ? 'all' : 'disabled');
      expect(graph.maxDiff <= AGREEMENT).toBe(agrees);
      // The session not kept is released; the one kept is not.
      expect([optimized.released, plain.released]).toEqual(agrees ? [false, true] : [true, false]);
    });
  }

  it('the same non-finite number in both graphs agrees (a model with NaN weights fails on its runs instead)', async () => {
    const { graph } = await chooseScoringSession(stub([NaN, 1, 0, 0]), async () => stub([NaN, 1, 0, 0]), {}, 'logits');
    expect(graph).toEqual({ level: 'all', maxDiff: 0, fellBack: false });
  });

  it('the embedded classifier runs the optimised graph: its probabilities agree with the plain graph within 1e-5', async () => {
    const model = await loadModel('sst2-tiny');
    expect(model.scoringGraph?.fellBack).toBe(false);
    expect(model.scoringGraph?.level).toBe('all');
    expect(model.scoringGraph!.maxDiff).toBeLessThanOrEqual(AGREEMENT);
    const r = await explainText(model, { text: 'a gorgeous and moving film', method: 'occlusion' });
    expect(r.diagnostics).not.toHaveProperty('scoringGraph');
  });

  it('a forced disagreement (tolerance 0) runs the plain graph and says so in the diagnostics', async () => {
    const model = await loadModel('sst2-tiny');
    const openPlain = () => createSession(model.onnxPath, {}, model.id, null, 'disabled');
    // The optimised graph differs from the plain one in the last bits: a tolerance of 0 fails it.
    const checked = await checkScoringGraph(
      { ...model, session: await createSession(model.onnxPath, {}, model.id) },
      openPlain,
      0,
    );
    expect(checked.graph.fellBack).toBe(true);
    expect(checked.graph.maxDiff).toBeGreaterThan(0);
    const plainModel = { ...model, session: checked.session, scoringGraph: checked.graph };
    const request = { text: 'a gorgeous and moving film', method: 'occlusion' };
    const [fast, plain] = [await explainText(model, request), await explainText(plainModel, request)];
    expect(plain.diagnostics.scoringGraph).toMatch(/^plain: onnxruntime's optimised graph differed from it by /);
    // Both graphs' attributions agree to the bound the check holds them to.
    plain.features.forEach((f, i) => expect(Math.abs(f.attribution - fast.features[i].attribution)).toBeLessThan(1e-5));
  });

  it.skipIf(skipWithoutShared)('the llama with a KV cache is checked through its sliced head', async () => {
    const model = await loadModel(llama);
    expect(model.scoringGraph).toBeDefined();
    expect(Number.isFinite(model.scoringGraph!.maxDiff)).toBe(true);
    expect(model.scoringGraph!.fellBack).toBe(model.scoringGraph!.maxDiff > AGREEMENT);
  });
});
