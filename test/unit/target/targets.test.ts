import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the example plugin is plain JavaScript, as users copy it.
import { contrast } from '../../../examples/plugins/contrast.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import type { TargetKind, TargetRequest } from '../../../src/target/kind.js';
import { scoreBothWays } from '../../../src/target/agreement.js';
import { labelTarget } from '../../../src/target/label.js';
import { registerTargetKind, targetKinds } from '../../../src/target/registry.js';

type Case = { model: 'sst2-tiny' | 'tiny-lm'; request: TargetRequest };
const TEXTS = { 'sst2-tiny': 'the movie was great but the plot was dull', 'tiny-lm': 'Once upon a time there was' };

/** Every registered kind, every score variant it has: a kind with no cases here fails the first test. */
const CASES: Record<string, Case[]> = {
  label: ['probability', 'logit', 'log-odds'].map((score) => ({ model: 'sst2-tiny', request: { score } })),
  'next-token': [{ model: 'tiny-lm', request: {} }],
  continuation: (['sum', 'mean'] as const).map((reduce) => ({
    model: 'tiny-lm',
    request: { continuation: ' a little girl', reduce },
  })),
  contrast: [{ model: 'tiny-lm', request: { kind: 'contrast', target: ' a/ the' } }],
};

// A label whose graph head weighs the score twice: the agreement check must catch it.
const broken: TargetKind = {
  ...(labelTarget as unknown as TargetKind),
  kind: 'broken-label',
  resolve: async (ctx) => ({ ...(await labelTarget.resolve(ctx))!, kind: 'broken-label' }),
  head: (t) => ({ ...labelTarget.head(t as never), weight: [2] }),
};

const models: Partial<Record<Case['model'], Model>> = {};

const bothScores = async (c: Case) =>
  scoreBothWays((models[c.model] ??= await loadModel(c.model)), TEXTS[c.model], c.request);

describe('target records: the CPU score and the in-graph score head agree', () => {
  beforeAll(() => {
    registerTargetKind(contrast as TargetKind);
    registerTargetKind(broken);
  });

  it('every registered kind has cases', () => {
    const kinds = targetKinds()
      .map((k) => k.kind)
      .filter((k) => k !== 'broken-label');
    expect(kinds.sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [kind, cases] of Object.entries(CASES)) {
    for (const c of cases) {
      it(`${kind} ${JSON.stringify(c.request)} on ${c.model}`, async () => {
        const [cpu, graph] = await bothScores(c);
        expect(Number.isFinite(cpu)).toBe(true);
        expect(Math.abs(cpu - graph)).toBeLessThan(1e-5);
      });
    }
  }

  it('a record whose graph head is wrong disagrees', async () => {
    const [cpu, graph] = await bothScores({ model: 'sst2-tiny', request: { kind: 'broken-label', score: 'logit' } });
    expect(Math.abs(cpu - graph)).toBeGreaterThan(1e-3);
  });
});
