#!/usr/bin/env node
/* global process, console, performance */
// Whole explanations with onnxruntime's intra-op spinning on or off (interp's default is off), at two threads:
// every method in turn at each length, as bench/side-by-side.mjs runs them (so that each call follows another
// method's, on another session), one untimed round then ROUNDS timed; prints each cell's median wall and CPU
// time (every thread). One setting per process, since a session's pool spins after its own runs whatever the
// next session's setting: alternate processes for a comparison. Budgets as bench/side-by-side.mjs sets them.
// Needs dist/ (npx tsc -p tsconfig.json). Not part of the test suite.
//
//   for i in 1 2 3 4 5; do for s in 1 0; do node scripts/spinning.mjs $s MODEL 24,68 5; done; done
import * as ort from 'onnxruntime-node';
import { explainText } from '../dist/src/explain.js';
import { loadModel } from '../dist/src/model/load.js';
import { SPINNING_ENTRY } from '../dist/src/runtime/session.js';
import { benchSettings, words } from '../bench/filler.mjs';

const [spin, spec, lengthsArg = '24', roundsArg = '5', methodsArg] = process.argv.slice(2);
if (spin !== '0' && spin !== '1') throw new Error('usage: spinning.mjs 0|1 MODEL [lengths] [rounds] [methods]');
const create = ort.InferenceSession.create.bind(ort.InferenceSession);
ort.InferenceSession.create = (source, options = {}) =>
  create(source, { ...options, extra: { session: { ...options.extra?.session, [SPINNING_ENTRY]: spin } } });

const { request, params: PARAMS } = benchSettings(spec);
const METHODS = methodsArg ? methodsArg.split(',') : Object.keys(PARAMS);
const model = await loadModel(spec, { threads: 2 });
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const n of lengthsArg.split(',').map(Number)) {
  const text = words(n);
  const wall = new Map(METHODS.map((m) => [m, []]));
  const cpu = new Map(METHODS.map((m) => [m, []]));
  for (let round = -1; round < Number(roundsArg); round++)
    for (const method of METHODS) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await explainText(model, { ...request, text, method, params: PARAMS[method], seed: 1 });
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (round < 0) continue;
      wall.get(method).push(ms);
      cpu.get(method).push((c.user + c.system) / 1e3);
    }
  for (const m of METHODS)
    console.log(`spin=${spin} ${m}@${n}: ${median(wall.get(m)).toFixed(1)} ms (CPU ${median(cpu.get(m)).toFixed(0)})`);
}
