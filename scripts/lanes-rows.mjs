#!/usr/bin/env node
/* global process, console, performance, setTimeout */
// One batch of `rows` rows of 27 tokens, run whole on a one-thread session and cut across two lanes of one thread
// (runtime/lanes.ts), alternating, 60 times each; medians. Needs dist/ (npx tsc -p tsconfig.json). Not part of the
// test suite.
//
//   node scripts/lanes-rows.mjs ../shared/models/distilbert-sst2-mini/onnx/model.onnx [2,3,4,6,8,12,25]
import * as ort from 'onnxruntime-node';
import { openSession } from '../dist/src/runtime/session.js';
import { lanesOf } from '../dist/src/runtime/lanes.js';

const [file, rowsArg = '2,3,4,6,8,12,25'] = process.argv.slice(2);
// The worker at once, and every batch cut, however short (the point is to measure where cutting pays).
process.env.INTERP_LANES_AFTER_MS = '0';
process.env.INTERP_LANES_MIN_CUT_MS = '0';
const one = await openSession(file, { threads: 1 });
const two = await openSession(file, { threads: 2, lanes: 2 });
const TOKENS = 27;
const feeds = (rows) => {
  const ids = new BigInt64Array(rows * TOKENS).fill(2000n);
  return {
    input_ids: new ort.Tensor('int64', ids, [rows, TOKENS]),
    attention_mask: new ort.Tensor(
      'int64',
      ids.map(() => 1n),
      [rows, TOKENS],
    ),
  };
};
await two.run(feeds(4), ['logits']); // starts the worker
while (!lanesOf(two).ready) await new Promise((resolve) => setTimeout(resolve, 20));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const rows of rowsArg.split(',').map(Number)) {
  const times = { whole: [], cut: [] };
  for (let i = 0; i < 60; i++)
    for (const [name, session] of [
      ['whole', one],
      ['cut', two],
    ]) {
      const f = feeds(rows);
      const t0 = performance.now();
      await session.run(f, ['logits']);
      times[name].push(performance.now() - t0);
    }
  const [whole, cut] = [median(times.whole), median(times.cut)];
  console.log(
    `${rows} × ${TOKENS}: whole ${whole.toFixed(2)} ms, cut ${cut.toFixed(2)} ms, ${(whole / cut).toFixed(2)}×`,
  );
}
await Promise.all([one.release(), two.release()]);
