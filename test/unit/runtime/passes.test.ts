import { describe, expect, it } from 'vitest';
import { InterpError } from '../../../src/errors.js';
import { chargeRun, countingPasses, RunContext, withinCall } from '../../../src/runtime/context.js';

const call = (maxPasses: number) => RunContext.call({ maxPasses });

describe('the one pass counter', () => {
  it('counts nothing and refuses nothing outside a call', () => {
    expect(() => chargeRun(undefined, 1e9)).not.toThrow();
  });

  it('refuses the batch that would pass the budget, before it runs', async () => {
    const c = call(10);
    const error = await withinCall(c, async () => {
      chargeRun(undefined, 6);
      chargeRun(undefined, 4);
      chargeRun(undefined, 1);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterpError);
    expect((error as InterpError).kind).toBe('limit');
    expect((error as InterpError).message).toBe(
      "the request needs more than --max-passes 10 forward passes; lower the method's budget or the input length",
    );
    expect([c.forward, c.batches]).toEqual([10, 2]);
  });

  it('counts inner calls into the outer one, whose budget still holds', async () => {
    const outer = call(12);
    const counted = await withinCall(outer, async () => {
      chargeRun(undefined, 5);
      const inner = await countingPasses(async () => {
        chargeRun(undefined, 3);
        await new Promise((r) => setTimeout(r, 1));
        chargeRun(undefined, 2);
        return 'done';
      });
      const over = await countingPasses(async () => chargeRun(undefined, 3)).catch((e: InterpError) => e.kind);
      return [inner, over];
    });
    expect(counted).toEqual([{ result: 'done', passes: 5 }, 'limit']);
    expect(outer.forward).toBe(10);
  });

  it('charges a context handed down and the call it runs in, each once, backward passes included', async () => {
    const outer = call(100);
    const report = new RunContext();
    const part = report.child();
    await withinCall(outer, async () => {
      chargeRun(part, 4, 4);
      chargeRun(report, 2);
      // A context that is also the call's is charged once, not twice.
      chargeRun(outer, 1);
    });
    expect([part.forward, part.backward, part.batches]).toEqual([4, 4, 1]);
    expect([report.forward, report.backward, report.batches]).toEqual([6, 4, 2]);
    expect([outer.forward, outer.backward, outer.batches]).toEqual([7, 4, 3]);
  });

  it('tells progress the passes so far after each batch', async () => {
    const seen: number[] = [];
    await withinCall(RunContext.call({ maxPasses: Infinity, progress: (p) => seen.push(p) }), async () => {
      chargeRun(undefined, 3);
      chargeRun(undefined, 2);
    });
    expect(seen).toEqual([3, 5]);
  });

  it('stops a call at its next batch once stopped from outside', async () => {
    const c = call(100);
    const run = withinCall(c, async () => {
      chargeRun(undefined, 1);
      await new Promise((r) => setTimeout(r, 5));
      chargeRun(undefined, 1);
    });
    c.stopped = 'timed out';
    await expect(run).rejects.toThrow('stopped: timed out');
  });

  it('keeps concurrent calls apart', async () => {
    const [a, b] = [call(100), call(100)];
    const work = (n: number) => async () => {
      for (let i = 0; i < n; i++) {
        chargeRun(undefined, 1);
        await new Promise((r) => setTimeout(r, 0));
      }
    };
    await Promise.all([withinCall(a, work(7)), withinCall(b, work(3))]);
    expect([a.forward, b.forward]).toEqual([7, 3]);
  });
});
