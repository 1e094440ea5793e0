import { describe, expect, it } from 'vitest';
import type { Leaderboard } from '../../../src/fidelity/leaderboard.js';
import type { SwapResult } from '../../../src/bias/swap.js';
import type { LensResult } from '../../../src/concepts/lens.js';
import { attentionChart } from '../../../src/render/attention.js';
import { swapChart } from '../../../src/render/bias.js';
import { lensChart } from '../../../src/render/concepts.js';
import { curvesChart } from '../../../src/render/fidelity.js';
import { sessionOptions } from '../../../src/runtime/session.js';

/** The charts as a reader meets them: readable scales, orders that mean something, labels that do not collide. */

type Spec = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('charts', () => {
  it('the logit lens colours by log-probability, so that small probabilities are not all dark', () => {
    const lens = {
      model: 'm',
      positions: [
        { index: 0, token: ' a', cells: [{ layer: 0, tracked: { probability: 1e-4, token: ' there', rank: 9 } }] },
      ],
    } as unknown as LensResult;
    const spec = lensChart(lens) as Spec;
    expect(spec.encoding.color.field).toBe('log10');
    expect(spec.encoding.color.scale.domain).toEqual([-6, 0]);
    expect(spec.data.values[0].log10).toBeCloseTo(-4, 9);
    expect(spec.data.values[0].token).toBe('␣there');
  });

  it('the bias dot plot lists groups by mean, highest first, in both of its layers', () => {
    const groups = [
      { group: 'a', mean: 0.2, low: 0.1, high: 0.3, n: 3 },
      { group: 'b', mean: 0.9, low: 0.8, high: 1, n: 3 },
      { group: 'c', mean: 0.5, low: 0.4, high: 0.6, n: 3 },
    ];
    const spec = swapChart({
      model: 'm',
      target: { name: ' x' },
      pValue: 0.5,
      groups,
    } as unknown as SwapResult) as Spec;
    for (const layer of spec.layer) expect(layer.encoding.y.sort).toEqual(['b', 'c', 'a']);
  });

  it("the curves' axis title fits under its panel", () => {
    const board = {
      rows: [{ method: 'm', curves: { deletion: [1, 0], insertion: [0, 1] } }],
    } as unknown as Leaderboard;
    const spec = curvesChart(board) as Spec;
    // About 6 px a character: the title must stay within the panel's width.
    expect(spec.spec.encoding.x.title.length * 6).toBeLessThan(spec.spec.width);
  });

  it("the model view's labels stand upright and short, so they stay under their own panel", () => {
    const m = new Float64Array(16).fill(0.25);
    const panels = [0, 1].flatMap((layer) => [0, 1].map((head) => ({ layer, head, matrix: m })));
    const spec = attentionChart(panels, 4, ['a', 'b', 'c', 'd'], 't', 64) as Spec;
    // Room for the longest label ("0: a", 4 characters at Vega's 8 px estimate), so that none is cut.
    expect(spec.spec.encoding.x.axis).toMatchObject({ labelAngle: -90, labelLimit: 36 });
  });

  // Level 3 (error) still let onnxruntime's red kernel line through on a failed run; interp says it in one line itself.
  it('onnxruntime speaks on stderr only when fatal', () => {
    expect(sessionOptions().logSeverityLevel).toBe(4);
  });
});
