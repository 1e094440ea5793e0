#!/usr/bin/env node
/* global process, console */
// What onnxruntime does with a second core on interp's own shapes: explanations per second of the
// perturbation methods and IG under several session settings, each loaded once in this process and
// timed interleaved (setting A, B, C, A, B, C, ...) so that a shared machine's load falls on all alike.
// Also: a method's recorded batches replayed through two worker threads, each with a one-thread session,
// taking alternate batches. Needs dist/ (npx tsc -p tsconfig.json). Not part of the test suite.
//
//   node scripts/cores.mjs ../shared/models/distilbert-sst2-mini 24,68 [rounds]
import * as ort from 'onnxruntime-node';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../dist/src/model/load.js';
import { explainText } from '../dist/src/explain.js';
import { benchInput } from '../dist/src/bench.js';
import { RunContext } from '../dist/src/runtime/context.js';
import { SPINNING_ENTRY } from '../dist/src/runtime/session.js';

const [spec, lengthsArg = '24', roundsArg = '5', methodsArg, mode = 'threads'] = process.argv.slice(2);
const lengths = lengthsArg.split(',').map(Number);
const rounds = Number(roundsArg);
const METHODS = methodsArg ? methodsArg.split(',') : ['occlusion', 'kernel-shap', 'shapley', 'integrated-gradients'];
const PARAMS = { samples: 200, permutations: 10, steps: 50 };

// Each setting's overrides of the session options interp builds; applied by wrapping the one factory.
const THREAD_SETTINGS = {
  'intra 1': { intraOpNumThreads: 1, interOpNumThreads: 1 },
  'intra 2': { intraOpNumThreads: 2, interOpNumThreads: 1 },
  'ort default': {},
  'intra 2, parallel, inter 2': { intraOpNumThreads: 2, interOpNumThreads: 2, executionMode: 'parallel' },
  'intra 1, parallel, inter 2': { intraOpNumThreads: 1, interOpNumThreads: 2, executionMode: 'parallel' },
  // interp turns spinning off; this setting turns it back on, as onnxruntime's default has it.
  'intra 2, spinning': { intraOpNumThreads: 2, interOpNumThreads: 1, spin: '1' },
};
// Or: onnxruntime's graph optimisation levels at the default threads, scores compared with 'disabled'.
const LEVELS = Object.fromEntries(
  ['disabled', 'basic', 'extended', 'all'].map((l) => [l, { graphOptimizationLevel: l, keepThreads: true }]),
);
const SETTINGS = mode === 'levels' ? LEVELS : THREAD_SETTINGS;
const BASE = Object.keys(SETTINGS)[0];
let current = {};
const create = ort.InferenceSession.create.bind(ort.InferenceSession);
ort.InferenceSession.create = (source, options) => {
  const { spin, keepThreads, ...rest } = current;
  const merged = { ...options, ...rest };
  if (spin !== undefined) merged.extra = { session: { ...options?.extra?.session, [SPINNING_ENTRY]: spin } };
  if (!keepThreads && !('intraOpNumThreads' in current)) delete merged.intraOpNumThreads;
  if (!keepThreads && !('interOpNumThreads' in current)) delete merged.interOpNumThreads;
  return create(source, merged);
};

// Distinct spellings of the same folder: distinct loaded models (and derived sessions) per setting.
const spellings = (s) => [s, `${s}/`, `${s}/.`, `./${s}`, `${s}//`, `${s}/./`, `./${s}/`];
const models = {};
let k = 0;
for (const [name, opts] of Object.entries(SETTINGS)) {
  current = opts;
  const model = await loadModel(spellings(spec)[k++]);
  model.graphId = `${model.graphId}#${name}`;
  models[name] = model;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function replayInWorkers(model, text, method) {
  // Record the batches of one explanation (feeds copied), then run them through two one-thread sessions in
  // workers, alternate batches, against the same batches through one session in this thread.
  const recorded = [];
  const observe = (session) =>
    new Proxy(session, {
      get(target, prop) {
        if (prop === 'run')
          return (feeds, fetches) => {
            const copy = Object.fromEntries(
              Object.entries(feeds).map(([n, t]) => [n, { type: t.type, data: t.data.slice(), dims: [...t.dims] }]),
            );
            recorded.push({ feeds: copy, fetches, session: target });
            return target.run(feeds, fetches);
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  current = SETTINGS['intra 1'];
  await explainText(models['intra 1'], { text, method, params: PARAMS }, { run: new RunContext(observe) });
  const plainSession = models['intra 1'].session;
  if (recorded.some((r) => r.session !== plainSession)) return null; // derived graphs: not replayable by path
  const worker = () =>
    new Worker(
      `const ort = require('onnxruntime-node'); const { parentPort, workerData } = require('node:worker_threads');
       let s; parentPort.on('message', async (m) => {
         if (m.open) { s = await ort.InferenceSession.create(workerData, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' }); parentPort.postMessage('ok'); return; }
         const feeds = Object.fromEntries(Object.entries(m.feeds).map(([n, t]) => [n, new ort.Tensor(t.type, t.data, t.dims)]));
         const out = await s.run(feeds, m.fetches);
         const res = Object.fromEntries(Object.entries(out).map(([n, t]) => [n, t.data]));
         parentPort.postMessage(res, Object.values(res).map((d) => d.buffer));
       });`,
      { eval: true, workerData: model.onnxPath },
    );
  const workers = [worker(), worker()];
  const call = (w, m) => new Promise((resolve) => (w.once('message', resolve), w.postMessage(m)));
  await Promise.all(workers.map((w) => call(w, { open: true })));
  const two = async () => {
    const lanes = [0, 1].map(async (lane) => {
      for (let i = lane; i < recorded.length; i += 2) await call(workers[lane], recorded[i]);
    });
    await Promise.all(lanes);
  };
  const one = async (session) => {
    for (const r of recorded) {
      const feeds = Object.fromEntries(
        Object.entries(r.feeds).map(([n, t]) => [n, new ort.Tensor(t.type, t.data, t.dims)]),
      );
      await session.run(feeds, r.fetches);
    }
  };
  const time = async (f) => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  await two();
  await one(models['intra 1'].session);
  await one(models['intra 2'].session);
  const ratios = { 'intra 2': [], 'two workers': [] };
  for (let r = 0; r < rounds; r++) {
    const base = await time(() => one(models['intra 1'].session));
    ratios['intra 2'].push(base / (await time(() => one(models['intra 2'].session))));
    ratios['two workers'].push(base / (await time(two)));
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return { batches: recorded.length, ...Object.fromEntries(Object.entries(ratios).map(([n, v]) => [n, median(v)])) };
}

console.log(`# ${spec}: explanations per second by setting, median of ${rounds} interleaved rounds (ratio to ${BASE})`);
for (const length of lengths) {
  const text = benchInput(models[BASE], length);
  for (const method of METHODS) {
    const times = Object.fromEntries(Object.keys(models).map((n) => [n, []]));
    const scores = {};
    for (let r = -1; r < rounds; r++) {
      for (const [name, model] of Object.entries(models)) {
        current = SETTINGS[name];
        const t = performance.now();
        const result = await explainText(model, { text, method, params: PARAMS, seed: 1 });
        if (r >= 0) times[name].push(performance.now() - t);
        scores[name] = [result.fullScore, ...result.features.map((f) => f.attribution)];
      }
    }
    const base = median(times[BASE]);
    const cells = Object.entries(times).map(([n, ts]) => {
      const m = median(ts);
      const diff = Math.max(...scores[n].map((x, i) => Math.abs(x - scores[BASE][i])));
      return `${n}: ${(1000 / m).toFixed(1)}/s (${(base / m).toFixed(2)}×, max |Δscore| ${diff.toExponential(1)})`;
    });
    console.log(`${method} @${length}: ${cells.join(' | ')}`);
    if (mode === 'threads' && method !== 'integrated-gradients') {
      const w = await replayInWorkers(models['intra 1'], text, method);
      if (w)
        console.log(
          `  replay of its ${w.batches} batches: intra 2 ${w['intra 2'].toFixed(2)}×, two workers (intra 1 each, alternate batches) ${w['two workers'].toFixed(2)}× of one intra-1 session`,
        );
    }
  }
}
