import { beforeAll, describe, expect, it } from 'vitest';
import { circuitReport } from '../../src/circuit/circuit.js';
import { loadModel } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { llama, skipWithoutShared } from '../helpers.js';

// An IOI-style task on the shared TinyStories llama (grouped-query attention): AtP against exact patching.
describe.skipIf(skipWithoutShared)('circuit on the shared llama', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(llama);
  });

  it('attribution patching ranks the components as exact patching does (Spearman ≥ 0.9), from one backward pass', async () => {
    const r = await circuitReport(model, {
      clean: 'When Lily and Tim went to the park, Tim gave a ball to',
      corrupted: 'When Lily and Tim went to the park, Lily gave a ball to',
      ...{ answer: ' Lily', wrong: ' Tim', method: 'atp', ablation: 'corrupted', k: 6, exactBudget: 1000, steps: 16 },
    });
    // 5 layers × (8 heads + 1 feed-forward block).
    expect(r.components).toHaveLength(45);
    expect(r.metric.clean).toBeGreaterThan(r.metric.corrupted);
    expect(r.agreement!.spearman).toBeGreaterThanOrEqual(0.9);
    expect(r.agreement!.pearson).toBeGreaterThanOrEqual(0.9);
    expect(r.backwardPasses).toBe(1);
    // The curve runs from nothing kept (0) to everything kept (1).
    expect(r.faithfulness.curve[0].faithfulness).toBe(0);
    expect(r.faithfulness.curve[45].faithfulness).toBe(1);
  });

  it('the integrated-gradients estimate agrees better still (Pearson 0.994, Spearman 0.946 measured) and its circuit keeps more', async () => {
    const base = {
      clean: 'When Lily and Tim went to the park, Tim gave a ball to',
      corrupted: 'When Lily and Tim went to the park, Lily gave a ball to',
      ...{ answer: ' Lily', wrong: ' Tim', ablation: 'corrupted' as const, k: 6, exactBudget: 1000, steps: 16 },
    };
    const [atp, ig] = [
      await circuitReport(model, { ...base, method: 'atp' }),
      await circuitReport(model, { ...base, method: 'ig' }),
    ];
    expect(ig.agreement!.pearson).toBeGreaterThanOrEqual(0.99);
    expect(ig.agreement!.spearman).toBeGreaterThanOrEqual(0.9);
    expect(ig.faithfulness.atK).toBeGreaterThan(atp.faithfulness.atK);
  });
});
