import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainText } from '../../../src/explain.js';
import { loadModel } from '../../../src/model/load.js';
import { lanesOf, withLanes } from '../../../src/runtime/lanes.js';
import { LANES_MAX_WEIGHT_BYTES, openSession, scoringLanes, sessionOptions } from '../../../src/runtime/session.js';
import type { Session } from '../../../src/runtime/tensor.js';

const CLASSIFIER = path.resolve('models/sst2-tiny/onnx/model.onnx');

// Workers start at the first splittable run, not after a session's open time of them, and cut every batch, however
// short (the test models' runs take well under a millisecond).
const TUNING = { INTERP_LANES_AFTER_MS: '0', INTERP_LANES_MIN_CUT_MS: '0' };
const saved: Record<string, string | undefined> = {};
beforeAll(() => {
  for (const [name, value] of Object.entries(TUNING)) [saved[name], process.env[name]] = [process.env[name], value];
});
afterAll(() => {
  for (const [name, value] of Object.entries(saved))
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
});

/** Rows of distinct ids (each row its own sentence), right-padded, with the mask the graph asks for: [rows, tokens]. */
function classifierFeeds(rows: number, tokens: number): Record<string, ort.Tensor> {
  const ids = new BigInt64Array(rows * tokens);
  const mask = new BigInt64Array(rows * tokens);
  for (let r = 0; r < rows; r++)
    for (let t = 0; t < tokens - (r % 3); t++) {
      ids[r * tokens + t] = BigInt(100 + ((r * 37 + t * 11) % 900));
      mask[r * tokens + t] = 1n;
    }
  return {
    input_ids: new ort.Tensor('int64', ids, [rows, tokens]),
    attention_mask: new ort.Tensor('int64', mask, [rows, tokens]),
  };
}

async function untilReady(session: Session): Promise<void> {
  for (let i = 0; i < 200 && !lanesOf(session)!.ready && !lanesOf(session)!.failed; i++)
    await new Promise((resolve) => setTimeout(resolve, 25));
  expect(lanesOf(session)!.failed).toBeNull();
  expect(lanesOf(session)!.ready).toBe(true);
}

const bits = (t: ort.Tensor) => [...new Uint32Array((t.data as Float32Array).slice().buffer)];

describe('lanes cut a batch by rows across worker copies of the session', () => {
  it('joins outputs equal to the whole batch, bit for bit, for odd and even row counts', async () => {
    const [plain, laned] = [
      await openSession(CLASSIFIER, { threads: 1 }),
      await openSession(CLASSIFIER, { threads: 2, lanes: 2 }),
    ];
    try {
      await laned.run(classifierFeeds(4, 9), ['logits']); // starts the workers
      await untilReady(laned);
      for (const rows of [2, 7, 24]) {
        const feeds = classifierFeeds(rows, 13);
        const before = lanesOf(laned)!.split;
        const [want, got] = [await plain.run(feeds, ['logits']), await laned.run(feeds, ['logits'])];
        expect(lanesOf(laned)!.split).toBe(before + 1);
        expect(got.logits.dims).toEqual([rows, 2]);
        expect(bits(got.logits)).toEqual(bits(want.logits));
      }
      // One row is never cut.
      const whole = lanesOf(laned)!.whole;
      await laned.run(classifierFeeds(1, 5), ['logits']);
      expect(lanesOf(laned)!.whole).toBe(whole + 1);
    } finally {
      await Promise.all([plain.release(), laned.release()]);
    }
  });

  it('a lane whose graph will not open leaves the session running whole, with the same outputs', async () => {
    const options = sessionOptions({ threads: 1 });
    const [plain, main] = [
      await openSession(CLASSIFIER, { threads: 1 }),
      await openSession(CLASSIFIER, { threads: 1 }),
    ];
    const laned = withLanes(
      main,
      { source: '/nonexistent/model.onnx', options },
      {
        lanes: 2,
        startAfterMs: 0,
        minCutMs: 0,
      },
    );
    try {
      const feeds = classifierFeeds(6, 8);
      await laned.run(feeds, ['logits']);
      for (let i = 0; i < 200 && !lanesOf(laned)!.failed; i++) await new Promise((r) => setTimeout(r, 25));
      expect(lanesOf(laned)!.failed).toMatch(/^a lane could not open the graph: /);
      const [want, got] = [await plain.run(feeds, ['logits']), await laned.run(feeds, ['logits'])];
      expect(bits(got.logits)).toEqual(bits(want.logits));
      expect(lanesOf(laned)!.split).toBe(0);
    } finally {
      await Promise.all([plain.release(), laned.release()]);
    }
  });
});

describe('scoringLanes', () => {
  it('two lanes where there are two threads or more and the weights are small; $INTERP_LANES decides when set', () => {
    const saved = process.env.INTERP_LANES;
    delete process.env.INTERP_LANES;
    try {
      expect([scoringLanes(1, 1e6), scoringLanes(2, 1e6), scoringLanes(8, LANES_MAX_WEIGHT_BYTES)]).toEqual([1, 2, 2]);
      // The 124M GPT-2's 500 MB ran faster on two intra-op threads than in two lanes.
      expect(scoringLanes(2, LANES_MAX_WEIGHT_BYTES + 1)).toBe(1);
      process.env.INTERP_LANES = '3';
      expect([scoringLanes(1, 1e6), scoringLanes(2, 1e9)]).toEqual([3, 3]);
    } finally {
      if (saved === undefined) delete process.env.INTERP_LANES;
      else process.env.INTERP_LANES = saved;
    }
  });
});

describe('explanations in two lanes equal those in one', () => {
  // Shapley sampling runs many batches; on the causal LM they continue a KV cache ([rows, heads, past, dim] feeds)
  // through a sliced head ([rows, positions, vocab] logits).
  it.each([
    ['sst2-tiny', 'a gorgeous and moving film, though the middle drags'],
    ['tiny-lm', 'once upon a time there was a little girl who'],
  ])('%s, Shapley sampling', async (spec, text) => {
    const [one, two] = [
      await loadModel(spec, { threads: 1, lanes: 1 }),
      await loadModel(spec, { threads: 2, lanes: 2 }),
    ];
    const request = { text, method: 'shapley', params: { permutations: 6, 'exact-limit': 1 }, seed: 3 };
    await explainText(two, request); // starts the workers
    await untilReady(two.session);
    const split = lanesOf(two.session)!.split;
    const [want, got] = [await explainText(one, request), await explainText(two, request)];
    expect(lanesOf(two.session)!.split).toBeGreaterThan(split);
    expect(got.features.map((f) => f.attribution)).toEqual(want.features.map((f) => f.attribution));
    expect(got.forwardPasses).toBe(want.forwardPasses);
  });
});
