import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADDITIVE_WEIGHTS, additiveClassifier, negationClassifier, writePlanted } from '../../../fixtures/planted.js';
import type { Example } from '../../../src/data/datasets.js';
import { builtInCalibration, chooseMethod, explainAuto } from '../../../src/fidelity/choose.js';
import type { FidelityConfig } from '../../../src/fidelity/types.js';
import { loadModel } from '../../../src/model/load.js';
import { countingPasses } from '../../../src/runtime/context.js';

/**
 * `fidelity --choose` on planted models, whose true attributions are known: the chosen method recovers them
 * exactly (top-k recovery 1 on every calibration example), the random control is never chosen, the reason
 * names the leaderboard it chose from, and the cached choice is read back without a forward pass.
 */
const config = (methods: string[]): FidelityConfig => ({
  methods,
  params: {},
  choices: {},
  granularity: 'token',
  seed: 0,
  softSamples: 20,
  maxNormalise: 40,
  stability: false,
});
const METHODS = ['occlusion', 'kernel-shap', 'integrated-gradients', 'grad-x-input', 'attention', 'random'];

beforeAll(() => {
  process.env.INTERP_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-choose-'));
});

describe('choosing the method on planted models', () => {
  it('additive classifier (a known weight per word): the chosen method recovers the weights exactly', async () => {
    const model = await loadModel(writePlanted(additiveClassifier()));
    const texts = [
      'the movie was great',
      'a film is boring',
      'the plot was dull',
      'a movie is fun',
      'the film was awful',
      'the plot is good',
    ];
    const data: Example[] = texts.map((text, i) => ({ id: String(i + 1), text, weights: ADDITIVE_WEIGHTS }));
    const choice = await chooseMethod(model, data, config(METHODS), 'planted');
    expect(choice.chosen).not.toBe('random');
    const row = choice.board.rows.find((r) => r.method === choice.chosen)!;
    expect(row.metrics['topk-recovery']).toMatchObject({ mean: 1, low: 1, high: 1 });
    expect(choice.candidates.map((c) => c.method)).toEqual(METHODS.filter((m) => m !== 'random'));
    const best = choice.candidates.find((c) => c.method === choice.chosen)!;
    for (const c of choice.candidates)
      if (c.efficiency) expect(best.efficiency!.mean).toBeGreaterThanOrEqual(c.efficiency.mean);
    expect(choice.reason).toContain(choice.chosen);
    expect(choice.reason).toContain(choice.runnerUp!);
    expect(choice.reason.startsWith('not separable')).toBe(!choice.separable);
    const q = choice.bestByQuality;
    const naopc = (m: string) => choice.candidates.find((c) => c.method === m)!.naopc!;
    for (const c of choice.candidates) if (c.naopc) expect(naopc(q.method).mean).toBeGreaterThanOrEqual(c.naopc.mean);
    expect(q.separable).toBe(naopc(q.method).low > naopc(q.runnerUp!).high);
  });

  it('negation classifier, built-in calibration: the choice puts the attribution on "not"; cached, it runs nothing', async () => {
    const model = await loadModel(writePlanted(negationClassifier()));
    const data = builtInCalibration(0).map((e) => ({ ...e, weights: { not: 1 } }));
    expect(data.length).toBeGreaterThan(6);
    const first = await chooseMethod(model, data, config(METHODS), 'built-in');
    expect(first.cached).toBe(false);
    const row = first.board.rows.find((r) => r.method === first.chosen)!;
    expect(row.metrics['topk-recovery']).toMatchObject({ mean: 1, low: 1, high: 1 });
    const { result: again, passes } = await countingPasses(() =>
      chooseMethod(model, data, config(METHODS), 'built-in'),
    );
    expect(passes).toBe(0);
    expect({ ...again, cached: false }).toEqual(first);
    expect(again.cached).toBe(true);
  });

  it('explain --method auto explains with the chosen method and carries the choice without its board', async () => {
    const model = await loadModel(writePlanted(negationClassifier()));
    const r = await explainAuto(model, { text: 'the movie was not good', method: 'auto', seed: 0 });
    expect(r.method).toBe(r.choice.chosen);
    expect('board' in r.choice).toBe(false);
    const nonzero = r.features.filter((f) => f.attribution !== 0).map((f) => f.text.trim());
    expect(nonzero).toEqual(['not']);
  });
});
