import { describe, expect, it } from 'vitest';
import { holm, wilson } from '../../../src/util/stats.js';

describe('Wilson interval and Holm correction against hand-computed values', () => {
  it('Wilson 95 % interval of 0 of 3 and 5 of 10', () => {
    const zero = wilson(0, 3);
    expect(zero.rate).toBe(0);
    expect(zero.low).toBe(0);
    expect(zero.high).toBeCloseTo(0.5615, 4);
    const half = wilson(5, 10);
    expect(half.low).toBeCloseTo(0.2366, 4);
    expect(half.high).toBeCloseTo(0.7634, 4);
  });

  it('Holm step-down, monotone, in the order given', () => {
    const adjusted = holm([0.01, 0.04, 0.03]);
    expect(adjusted[0]).toBeCloseTo(0.03, 12);
    expect(adjusted[1]).toBeCloseTo(0.06, 12);
    expect(adjusted[2]).toBeCloseTo(0.06, 12);
    expect(holm([0.5, 0.9])).toEqual([1, 1]);
  });
});
