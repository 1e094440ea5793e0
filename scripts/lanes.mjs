#!/usr/bin/env node
/* global process, console, performance */
// Every method at one thread, at two intra-op threads, and in two lanes of one thread each (runtime/lanes.ts),
// timed interleaved in one process: the same model loaded once per setting, rounds alternating between them,
// medians of wall and CPU time (every thread, the lanes' workers included) per explanation, the largest
// difference of any attribution from the one-thread run, and how many session runs the lanes cut. Inputs and
// budgets as bench/side-by-side.mjs sets them (bench/filler.mjs). Needs dist/ (npx tsc -p tsconfig.json). Not
// part of the test suite.
//
//   node scripts/lanes.mjs MODEL 24,68 [rounds] [methods]
import os from 'node:os';
import { explainText } from '../dist/src/explain.js';
import { loadModel } from '../dist/src/model/load.js';
import { lanesOf } from '../dist/src/runtime/lanes.js';
import { benchSettings, words } from '../bench/filler.mjs';

const [spec, lengthsArg = '24', roundsArg = '3', methodsArg] = process.argv.slice(2);
const SETTINGS = {
  'one thread': { threads: 1, lanes: 1 },
  'two threads': { threads: 2, lanes: 1 },
  'two lanes': { threads: 2, lanes: 2 },
};
const models = new Map();
for (const [name, options] of Object.entries(SETTINGS)) models.set(name, await loadModel(spec, options));
const { request, params: PARAMS } = benchSettings(spec);
const METHODS = methodsArg ? methodsArg.split(',') : Object.keys(PARAMS);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const lanes = lanesOf(models.get('two lanes').session);

console.log(`# ${spec}: medians of ${roundsArg} interleaved rounds (load ${load()})`);
for (const n of lengthsArg.split(',').map(Number)) {
  const text = words(n);
  for (const method of METHODS) {
    const wall = new Map(Object.keys(SETTINGS).map((s) => [s, []]));
    const cpu = new Map(Object.keys(SETTINGS).map((s) => [s, []]));
    const values = new Map();
    const before = { ...lanes };
    for (let round = -1; round < Number(roundsArg); round++)
      for (const name of Object.keys(SETTINGS)) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = await explainText(models.get(name), { ...request, text, method, params: PARAMS[method], seed: 1 });
        const ms = performance.now() - t0;
        const c = process.cpuUsage(c0);
        if (round < 0)
          values.set(
            name,
            r.features.map((f) => f.attribution),
          );
        else {
          wall.get(name).push(ms);
          cpu.get(name).push((c.user + c.system) / 1e3);
        }
      }
    const reference = values.get('one thread');
    const diff = Math.max(...[...values.values()].flatMap((v) => v.map((x, i) => Math.abs(x - reference[i]))));
    const base = median(wall.get('one thread'));
    const cells = Object.keys(SETTINGS).map((s) => {
      const m = median(wall.get(s));
      return `${s} ${m.toFixed(1)} ms ${(base / m).toFixed(2)}× (CPU ${median(cpu.get(s)).toFixed(0)} ms)`;
    });
    const cut = `${lanes.split - before.split} runs cut, ${lanes.whole - before.whole} whole`;
    console.log(`${method}@${n}: ${cells.join(' | ')} | max |Δ| ${diff.toExponential(1)} | lanes: ${cut}`);
  }
}
console.log(`# load at end ${load()}; lanes ready ${lanes.ready}, failed ${lanes.failed}`);
