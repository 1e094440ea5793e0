import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { explainText, prepare, type ExplainRequest } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** One explanation, with the number of onnxruntime runs it made (every session). */
async function counted(run: () => ReturnType<typeof explainText>) {
  const sessions = ort.InferenceSession as unknown as { prototype: ort.InferenceSession };
  const spy = vi.spyOn(sessions.prototype, 'run');
  const result = await run();
  const runs = spy.mock.calls.length;
  spy.mockRestore();
  return { result, runs };
}

const CASES: [string, ExplainRequest][] = [
  ['sst2-tiny', { text: 'the film was a delight from start to end', method: 'occlusion' }],
  ['tiny-lm', { text: 'once upon a time there was a little', method: 'occlusion' }],
];

describe("a method's planned coalitions run in the reference scores' batch", () => {
  it.each(CASES)('%s: occlusion makes one run fewer, with the same attributions and pass count', async (name, req) => {
    const model = await loadModel(name, {});
    await explainText(model, req); // sessions opened and warm
    const planned = await counted(() => explainText(model, req));
    // The same explanation with the references prepared apart (as --compare and fidelity share them): no plan.
    const apart = await counted(async () => explainText(model, req, { prepared: await prepare(model, req) }));
    const n = planned.result.features.length;
    expect(planned.result.forwardPasses).toBe(n + 2);
    expect(apart.result.forwardPasses).toBe(n + 2);
    expect(planned.runs).toBe(apart.runs - 1);
    const values = planned.result.features.map((f) => f.attribution);
    apart.result.features.forEach((f, i) => expect(values[i]).toBeCloseTo(f.attribution, 5));
    expect(planned.result.fullScore).toBeCloseTo(apart.result.fullScore, 6);
    expect(planned.result.baselineScore).toBeCloseTo(apart.result.baselineScore, 6);
  });

  it('counts a planned coalition that is a reference once: a window over every feature is the baseline', async () => {
    const model = await loadModel('sst2-tiny', {});
    const req: ExplainRequest = { ...CASES[0][1], params: { window: 64 } };
    const r = await explainText(model, req);
    expect(r.forwardPasses).toBe(2);
    const drop = r.fullScore - r.baselineScore;
    for (const f of r.features) expect(f.attribution).toBeCloseTo(drop, 6);
  });
});
