import { describe, expect, it } from 'vitest';
import {
  benchInput,
  benchModel,
  regressions,
  withoutKvCache,
  type BenchReport,
  type BenchRow,
} from '../../src/bench.js';
import { explainText } from '../../src/explain.js';
import { loadModel } from '../../src/model/load.js';
import { RunContext } from '../../src/runtime/context.js';

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

describe('bench rows without a KV cache', () => {
  it('a causal LM with a KV cache gets a row per perturbation method run as a model without one: same passes, same attributions, every variant whole', async () => {
    const model = await loadModel('tiny-lm');
    const noKv = withoutKvCache(model)!;
    expect(noKv).not.toBeNull();
    const options = {
      methods: ['occlusion', 'integrated-gradients'],
      lengths: [12],
      runs: 1,
      warmup: 0,
      params: { steps: 4 },
    };
    const { rows } = await benchModel(model, 'tiny-lm', options);
    // IG reuses no prefix: it has no such row.
    expect(rows.map((r) => r.method)).toEqual(['occlusion', 'occlusion (no KV cache)', 'integrated-gradients']);
    expect(rows[1].forwardPasses).toBe(rows[0].forwardPasses);
    // Every variant runs whole: more onnxruntime time than with the input's keys and values reused.
    const spent = async (m: typeof model) => {
      let tokens = 0;
      const run = new RunContext(
        (session) =>
          new Proxy(session, {
            get(target, prop) {
              if (prop !== 'run') return Reflect.get(target, prop, target);
              return (feeds: Record<string, { dims: readonly number[] }>, fetches: string[]) => {
                tokens += feeds.input_ids.dims[0] * feeds.input_ids.dims[1];
                return target.run(feeds as never, fetches);
              };
            },
          }),
      );
      const result = await explainText(m, { text: benchInput(model, 12), method: 'occlusion' }, { run });
      return { tokens, values: result.features.map((f) => f.attribution) };
    };
    const [withKv, without] = [await spent(model), await spent(noKv)];
    expect(without.tokens).toBeGreaterThan(withKv.tokens);
    without.values.forEach((v, i) => expect(Math.abs(v - withKv.values[i])).toBeLessThan(1e-5));
  });

  it('a classifier has no such row', async () => {
    expect(withoutKvCache(await loadModel('sst2-tiny'))).toBeNull();
  });
});
