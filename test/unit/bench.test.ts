import { describe, expect, it } from 'vitest';
import { regressions, type BenchReport, type BenchRow } from '../../src/bench.js';

const row = (medianMs: number, vsForwards: number): BenchRow =>
  ({ model: 'm', method: 'occlusion', length: 8, medianMs, vsForwards }) as BenchRow;
const report = (rows: BenchRow[]) => ({ rows }) as BenchReport;

describe('the bench gate', () => {
  it('compares time over plain forwards of the same run, so a busier machine is no regression', () => {
    // Wall time tripled, but so did the plain forwards: the ratio is unchanged.
    expect(regressions(report([row(30, 1.2)]), report([row(10, 1.2)]), 0.15)).toEqual([]);
  });

  it('a method that got slower than the plain forwards is one', () => {
    const misses = regressions(report([row(10, 2.4)]), report([row(10, 1.2)]), 0.15);
    expect(misses).toEqual(['occlusion on m at 8 tokens: 1.20 → 2.40× the plain forwards (+100%)']);
  });

  it('a report without the ratio falls back to wall time', () => {
    expect(regressions(report([row(30, 0)]), report([row(10, 0)]), 0.15)).toEqual([
      'occlusion on m at 8 tokens: 10.00 → 30.00 ms (+200%)',
    ]);
  });
});
