import { beforeAll, describe, expect, it } from 'vitest';
import { circuitReport } from '../../src/circuit/circuit.js';
import { loadModel } from '../../src/model/load.js';
import type { Model } from '../../src/model/types.js';
import { pearson } from '../../src/util/stats.js';
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

  it('EAP-IG (gradients at q, k, v averaged on the path) edges sum to IG per component (Pearson 0.995); its top 6 edges keep 0.803', async () => {
    const ig = await circuitReport(model, {
      clean: 'When Lily and Tim went to the park, Tim gave a ball to',
      corrupted: 'When Lily and Tim went to the park, Lily gave a ball to',
      ...{ answer: ' Lily', wrong: ' Tim', ablation: 'corrupted', k: 6, exactBudget: 0, steps: 16 },
      ...{ method: 'ig', edges: true },
    });
    const sums = ig.components.map((c) =>
      ig.edges!.ranking.filter((e) => e.sender === c.component).reduce((s, e) => s + e.score, 0),
    );
    expect(
      pearson(
        sums,
        ig.components.map((c) => c.effect),
      ),
    ).toBeGreaterThan(0.99);
    expect(ig.edges!.circuit[0]).toBe('L4H2 → logits');
    // Edge-ablated, AtP's top 6 edges keep 0.402 (below); EAP-IG's 0.803, CPR 0.908 (measured).
    expect(ig.edges!.faithfulness).toBeGreaterThan(0.75);
  });

  it('AtP* ranks as exact patching does (Spearman 0.933, Pearson 0.985 measured; AtP 0.924, 0.960); EAP edges sum to AtP per component; the edge curve', async () => {
    const base = {
      clean: 'When Lily and Tim went to the park, Tim gave a ball to',
      corrupted: 'When Lily and Tim went to the park, Lily gave a ball to',
      ...{ answer: ' Lily', wrong: ' Tim', ablation: 'corrupted' as const, k: 6, exactBudget: 1000, steps: 16 },
      edges: true,
    };
    const [atp, star] = [
      await circuitReport(model, { ...base, method: 'atp' }),
      await circuitReport(model, { ...base, method: 'atp*' }),
    ];
    expect(star.agreement!.spearman).toBeGreaterThanOrEqual(0.9);
    expect(star.agreement!.pearson).toBeGreaterThan(atp.agreement!.pearson);
    // 5 receiving layers: 9·l senders × (8 heads × q, k, v + 1 feed-forward block), 8 heads into their own
    // layer's block, and 45 components into the logits.
    expect(atp.edges!.ranking).toHaveLength(2335);
    // The edges carry the receiver's change exactly (norms included) where AtP linearises: close, not equal.
    const sums = atp.components.map((c) =>
      atp.edges!.ranking.filter((e) => e.sender === c.component).reduce((s, e) => s + e.score, 0),
    );
    expect(
      pearson(
        sums,
        atp.components.map((c) => c.effect),
      ),
    ).toBeGreaterThan(0.98);
    expect(atp.edges!.circuit[0]).toBe('L4H2 → logits');
    // Ablated edge by edge, the top 6 edges keep 0.402 of the logit difference (the components they touch
    // kept 0.95+); the curve measured: 0.199 at 1 edge, 0.786 at 8, 0.920 at 64, 1.000 at 1024; CPR 0.969.
    const curve = atp.edges!.curve;
    expect(atp.edges!.faithfulness).toBeCloseTo(0.4023, 3);
    expect(curve[curve.length - 1]).toEqual({ size: 2335, faithfulness: expect.closeTo(1, 6) });
    expect(curve.find((c) => c.size === 64)!.faithfulness).toBeGreaterThan(0.9);
    expect(atp.edges!.cpr).toBeGreaterThan(0.95);
    // The softmax's Jacobian against the finite change: where no softmax saturates, EAP's linear q and k
    // edges follow the recomputed ones (Pearson 0.980, 0.981 measured over 720 each); v, feed-forward and
    // logits edges are the same under both rules.
    const recomputed = new Map(star.edges!.ranking.map((e) => [e.edge, e.score]));
    for (const input of ['q', 'k', 'v', 'mlp', 'logits']) {
      const linear = atp.edges!.ranking.filter((e) => e.input === input);
      const r = pearson(
        linear.map((e) => e.score),
        linear.map((e) => recomputed.get(e.edge)!),
      );
      expect(r, input).toBeGreaterThan(input === 'q' || input === 'k' ? 0.95 : 1 - 1e-9);
    }
  });
});
