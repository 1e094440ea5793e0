import { describe, expect, it } from 'vitest';
import { auc, plausibility } from '../../../src/metrics/faithfulness.js';

describe('metric maths', () => {
  it('plausibility: token F1, IOU and average precision on a hand-worked example', async () => {
    // Ranking: 2, 0, 3, 1; gold: {0, 1}. Top-2 = {2, 0}: one hit. IOU = 1/3. AP = (1/2 + 2/4) / 2.
    const p = plausibility([0.5, 0.1, 0.9, 0.2], [true, true, false, false])!;
    expect(p.tokenF1).toBe(0.5);
    expect(p.iou).toBeCloseTo(1 / 3, 12);
    expect(p.iouMatch).toBe(0);
    expect(p.auprc).toBeCloseTo(0.5, 12);
    expect(plausibility([1, 2], [false, false])).toBeNull();
  });

  it('area under a curve on [0, 1] by trapezoids', async () => {
    expect(auc([1, 1, 1])).toBe(1);
    expect(auc([0, 0.5, 1])).toBeCloseTo(0.5, 12);
  });
});
