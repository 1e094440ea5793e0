import { describe, expect, it } from 'vitest';
import { InterpError } from '../../../src/errors.js';
import { chargePasses, countingPasses, withLimits, type CallLimits } from '../../../src/runtime/limits.js';

const limits = (maxPasses: number): CallLimits => ({ maxPasses, passes: 0, stopped: null });

describe('call limits', () => {
  it('count nothing and refuse nothing outside a call', () => {
    expect(() => chargePasses(1e9)).not.toThrow();
  });

  it('refuse the batch that would pass the budget, before it runs', async () => {
    const l = limits(10);
    const error = await withLimits(l, async () => {
      chargePasses(6);
      chargePasses(4);
      chargePasses(1);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterpError);
    expect((error as InterpError).kind).toBe('limit');
    expect((error as InterpError).message).toBe(
      "the request needs more than --max-passes 10 forward passes; lower the method's budget or the input length",
    );
    expect(l.passes).toBe(10);
  });

  it('count inner calls into the outer limits, which still hold', async () => {
    const outer = limits(12);
    const counted = await withLimits(outer, async () => {
      chargePasses(5);
      const inner = await countingPasses(async () => {
        chargePasses(3);
        await new Promise((r) => setTimeout(r, 1));
        chargePasses(2);
        return 'done';
      });
      const over = await countingPasses(async () => chargePasses(3)).catch((e: InterpError) => e.kind);
      return [inner, over];
    });
    expect(counted).toEqual([{ result: 'done', passes: 5 }, 'limit']);
    expect(outer.passes).toBe(10);
  });

  it('stop a call at its next batch once stopped from outside', async () => {
    const l = limits(100);
    const run = withLimits(l, async () => {
      chargePasses(1);
      await new Promise((r) => setTimeout(r, 5));
      chargePasses(1);
    });
    l.stopped = 'timed out';
    await expect(run).rejects.toThrow('stopped: timed out');
  });

  it('keep concurrent calls apart', async () => {
    const [a, b] = [limits(100), limits(100)];
    const work = (n: number) => async () => {
      for (let i = 0; i < n; i++) {
        chargePasses(1);
        await new Promise((r) => setTimeout(r, 0));
      }
    };
    await Promise.all([withLimits(a, work(7)), withLimits(b, work(3))]);
    expect([a.passes, b.passes]).toEqual([7, 3]);
  });
});
