#!/usr/bin/env node
/* global process, console, performance */
// Every method at one intra-op thread against N threads (default 2), and with `lanes` also in two lanes of N/2
// threads each (runtime/lanes.ts), timed interleaved in one process: the same model loaded once per setting
// (`loadModel(spec, { threads, lanes })`), rounds alternating between them after one untimed round, medians of wall
// and CPU time (every thread, lane workers included) per explanation, the largest difference of any attribution from
// the one-thread run, and how many session runs the lanes cut (the untimed round included). Inputs are cut from one
// filler sentence; budgets as bench/side-by-side.mjs sets them (distilbert: Shapley sampling 25 permutations,
// KernelSHAP and LIME 500; other models 5 and 200; IG 50 steps). Needs dist/ (npx tsc -p tsconfig.json). Not part of
// the test suite.
//
//   node scripts/threads.mjs MODEL 24,68 [rounds] [methods|all] [threads] [lanes]
import os from 'node:os';
import { explainText } from '../dist/src/explain.js';
import { loadModel } from '../dist/src/model/load.js';
import { lanesOf } from '../dist/src/runtime/lanes.js';
import { benchSettings, words } from '../bench/filler.mjs';

const [spec, lengthsArg = '24', roundsArg = '3', methodsArg = 'all', threadsArg = '2', lanesArg] =
  process.argv.slice(2);
const N = Number(threadsArg);
const SETTINGS = {
  'intra 1': { threads: 1, lanes: 1 },
  [`intra ${N}`]: { threads: N, lanes: 1 },
  ...(lanesArg === 'lanes' ? { [`2 lanes of ${Math.max(1, N >> 1)}`]: { threads: N, lanes: 2 } } : {}),
};
const names = Object.keys(SETTINGS);
const models = new Map();
for (const name of names) models.set(name, await loadModel(spec, SETTINGS[name]));
const { request, params: PARAMS } = benchSettings(spec);
const METHODS = methodsArg === 'all' ? Object.keys(PARAMS) : methodsArg.split(',');
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const lanes = names[2] && lanesOf(models.get(names[2]).session);

console.log(`# ${spec}: ${names.join(', ')}; medians of ${roundsArg} interleaved rounds (load ${load()})`);
for (const n of lengthsArg.split(',').map(Number)) {
  const text = words(n);
  for (const method of METHODS) {
    const wall = new Map(names.map((s) => [s, []]));
    const cpu = new Map(names.map((s) => [s, []]));
    const values = new Map();
    const before = lanes && { ...lanes };
    for (let round = -1; round < Number(roundsArg); round++)
      for (const name of names) {
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
    const reference = values.get(names[0]);
    const diff = Math.max(...[...values.values()].flatMap((v) => v.map((x, i) => Math.abs(x - reference[i]))));
    const base = median(wall.get(names[0]));
    const cells = names.map((s) => {
      const m = median(wall.get(s));
      return `${s} ${m.toFixed(1)} ms ${(base / m).toFixed(2)}× (CPU ${median(cpu.get(s)).toFixed(0)} ms)`;
    });
    const cut = lanes ? ` | lanes: ${lanes.split - before.split} runs cut, ${lanes.whole - before.whole} whole` : '';
    console.log(`${method}@${n}: ${cells.join(' | ')} | max |Δ| ${diff.toExponential(1)}${cut}`);
  }
}
console.log(`# load at end ${load()}${lanes ? `; lanes ready ${lanes.ready}, failed ${lanes.failed}` : ''}`);
