#!/usr/bin/env node
/* global process, console, performance */
// Every method at one intra-op thread against N threads (default 2), timed interleaved in one process: the same
// model loaded once per setting (`loadModel(spec, { threads })`), rounds alternating between them, medians of
// wall and CPU time (every thread) per explanation, and the largest difference of any attribution between the
// two. Inputs are cut from one filler sentence; budgets as bench/side-by-side.mjs sets them (distilbert: Shapley
// sampling 25 permutations, KernelSHAP and LIME 500; other models 5 and 200; IG 50 steps). Needs dist/
// (npx tsc -p tsconfig.json). Not part of the test suite.
//
//   node scripts/threads.mjs MODEL 24,68 [rounds] [methods] [threads]
import os from 'node:os';
import { explainText } from '../dist/src/explain.js';
import { loadModel } from '../dist/src/model/load.js';
import { benchSettings, words } from '../bench/filler.mjs';

const [spec, lengthsArg = '24', roundsArg = '3', methodsArg, threadsArg = '2'] = process.argv.slice(2);
const SETTINGS = [1, Number(threadsArg)];
const models = new Map();
for (const t of SETTINGS) models.set(t, await loadModel(spec, { threads: t }));
const { request, params: PARAMS } = benchSettings(spec);
const METHODS = methodsArg ? methodsArg.split(',') : Object.keys(PARAMS);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

console.log(
  `# ${spec}: intra-op 1 against ${SETTINGS[1]}, medians of ${roundsArg} interleaved rounds (load ${load()})`,
);
for (const n of lengthsArg.split(',').map(Number)) {
  const text = words(n);
  for (const method of METHODS) {
    const wall = new Map(SETTINGS.map((t) => [t, []]));
    const cpu = new Map(SETTINGS.map((t) => [t, []]));
    const values = new Map();
    for (let round = -1; round < Number(roundsArg); round++)
      for (const t of SETTINGS) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = await explainText(models.get(t), { ...request, text, method, params: PARAMS[method], seed: 1 });
        const ms = performance.now() - t0;
        const c = process.cpuUsage(c0);
        if (round < 0)
          values.set(
            t,
            r.features.map((f) => f.attribution),
          );
        else {
          wall.get(t).push(ms);
          cpu.get(t).push((c.user + c.system) / 1e3);
        }
      }
    const [a, b] = SETTINGS.map((t) => values.get(t));
    const diff = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    const cells = SETTINGS.map(
      (t) => `intra ${t} ${median(wall.get(t)).toFixed(1)} ms (CPU ${median(cpu.get(t)).toFixed(0)} ms)`,
    );
    const ratio = median(wall.get(SETTINGS[0])) / median(wall.get(SETTINGS[1]));
    console.log(`${method}@${n}: ${cells.join(' | ')} | ${ratio.toFixed(2)}× | max |Δ| ${diff.toExponential(1)}`);
  }
}
console.log(`# load at end ${load()}`);
