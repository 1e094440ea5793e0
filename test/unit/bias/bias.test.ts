import { describe, expect, it } from 'vitest';
import { sharedPositions } from '../../../src/bias/pairs.js';
import { fillTemplates, permutationTest } from '../../../src/bias/swap.js';
import { effectSize, weatPValue } from '../../../src/bias/weat.js';

describe('bias maths', () => {
  it("templates fill every slot value and group term, and keep the template words' spans", async () => {
    const v = fillTemplates(['The {group} was a {job}.'], { a: ['x y'], b: ['z'] }, { job: ['cook', 'pilot'] });
    expect(v.map((x) => x.text)).toEqual([
      'The x y was a cook.',
      'The z was a cook.',
      'The x y was a pilot.',
      'The z was a pilot.',
    ]);
    expect(v[0].words.map((w) => v[0].text.slice(w.start, w.end))).toEqual(['The', 'was', 'a', 'cook.']);
  });

  it('permutation test: a perfect split is significant, identical groups are not', async () => {
    expect(permutationTest([0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 1], 2, 2000, 1).pValue).toBeLessThan(0.05);
    expect(permutationTest([1, 1, 1, 1], [0, 0, 1, 1], 2, 500, 1).pValue).toBe(1);
  });

  it('WEAT effect size equals the hand-computed value', async () => {
    const v = (x: number, y: number) => Float64Array.of(x, y);
    // s(x1)=1, s(x2)=0.2, s(y1)=−1, s(y2)=−0.2; d = 1.2 / sd([1, .2, −1, −.2], n−1) = 1.2 / sqrt(2.08 / 3).
    const d = effectSize([v(1, 0), v(0.8, 0.6)], [v(0, 1), v(0.6, 0.8)], [v(1, 0)], [v(0, 1)]);
    expect(d).toBeCloseTo(1.2 / Math.sqrt(2.08 / 3), 12);
    // Of the 24 orderings, those putting both X items first reach the observed statistic: 4/24.
    const p = weatPValue([v(1, 0), v(0.8, 0.6)], [v(0, 1), v(0.6, 0.8)], [v(1, 0)], [v(0, 1)], 20000, 3);
    expect(p).toBeCloseTo(4 / 24, 1);
  });

  it('shared tokens of a minimal pair (longest common subsequence)', async () => {
    expect(sharedPositions([1, 2, 3, 4, 5], [1, 2, 9, 4, 5])).toEqual([0, 1, 3, 4]);
  });
});
