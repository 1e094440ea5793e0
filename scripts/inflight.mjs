#!/usr/bin/env node
/* global process, console */
// Can two batches run at once on one onnxruntime session? Records the session runs one explanation makes
// (feeds copied), then replays them, interleaved round by round, through:
//   ORT default      one session at onnxruntime's default threads (how interp opens sessions), one batch at a time
//   intra 1          one session at one intra-op thread, one batch at a time
//   1 session, 2 in flight   the intra-1 session with two runs awaited together (Promise.all over two lanes)
//   2 sessions, 1 each       two intra-1 sessions of the same graph, each lane running its own
//   2 workers, 1 each        two worker threads, each with an intra-1 session, feeds posted to them
//   main + 1 worker          the main thread's intra-1 session and one worker's, alternate batches (one copy of
//                            the weights more, not two); "at ORT default": the main session at default threads
//   main + 1 worker, halves  every batch cut into two halves by rows, one on each (two lanes even for one batch)
// For each it also reports how busy the main thread's event loop was during the replay (Node's
// eventLoopUtilization: the share of the time not spent waiting for events): a run that executes on the main
// thread keeps it near 100%, one that runs elsewhere lets it wait. Every mode's outputs are compared with the
// intra-1 replay's (largest |difference| of any output). Needs dist/ (npx tsc -p tsconfig.json). Not part of
// the test suite.
//
//   node scripts/inflight.mjs ../shared/models/distilbert-sst2-mini 24,68 [rounds] [methods]
import * as ort from 'onnxruntime-node';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { loadModel } from '../dist/src/model/load.js';
import { explainText } from '../dist/src/explain.js';
import { benchInput } from '../dist/src/bench.js';
import { RunContext } from '../dist/src/runtime/context.js';

const [spec, lengthsArg = '24', roundsArg = '5', methodsArg] = process.argv.slice(2);
const lengths = lengthsArg.split(',').map(Number);
const rounds = Number(roundsArg);
const METHODS = methodsArg ? methodsArg.split(',') : ['occlusion', 'kernel-shap', 'shapley'];
const PARAMS = { samples: 200, permutations: 10 };
const ONE = { intraOpNumThreads: 1, interOpNumThreads: 1 };

// Every session interp opens, with what it was opened from, so that the replay can open it again.
const sources = new WeakMap();
const create = ort.InferenceSession.create.bind(ort.InferenceSession);
ort.InferenceSession.create = async (source, options) => {
  const session = await create(source, options);
  sources.set(session, { source, options: options ?? {} });
  return session;
};
const reopen = (session, threads) => {
  const { source, options } = sources.get(session);
  const { intraOpNumThreads: _a, interOpNumThreads: _b, optimizedModelFilePath: _c, ...rest } = options;
  return create(source, { ...rest, ...threads });
};

const copyTensor = (t) => ({ type: t.type, data: t.data.slice(), dims: [...t.dims] });
const toTensor = (t) => new ort.Tensor(t.type, t.data, t.dims);
const toFeeds = (feeds) => Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, toTensor(t)]));

/** The session runs one explanation makes: each with its feeds (copied), fetches and session. */
async function record(model, text, method) {
  const runs = [];
  const observe = (session) =>
    new Proxy(session, {
      get(target, prop) {
        if (prop === 'run')
          return (feeds, fetches) => {
            const copy = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, copyTensor(t)]));
            runs.push({ feeds: copy, fetches, session: target });
            return target.run(feeds, fetches);
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  await explainText(model, { text, method, params: PARAMS, seed: 1 }, { run: new RunContext(observe) });
  return runs;
}

const WORKER = `
const ort = require('onnxruntime-node');
const { parentPort, workerData } = require('node:worker_threads');
const sessions = [];
parentPort.on('message', async (m) => {
  if (m.open) {
    for (const { source, options } of m.open) sessions.push(await ort.InferenceSession.create(source, options));
    parentPort.postMessage('ok');
    return;
  }
  const feeds = Object.fromEntries(Object.entries(m.feeds).map(([n, t]) => [n, new ort.Tensor(t.type, t.data, t.dims)]));
  const out = await sessions[m.session].run(feeds, m.fetches);
  const res = Object.fromEntries(Object.entries(out).map(([n, t]) => [n, t.data]));
  parentPort.postMessage(res, Object.values(res).map((d) => d.buffer));
});`;

/** Everything one recording replays on: per distinct session, its variants, and two workers holding intra-1 copies. */
async function prepare(runs) {
  const distinct = [...new Set(runs.map((r) => r.session))];
  const variants = new Map();
  for (const s of distinct)
    variants.set(s, { def: await reopen(s, {}), one: await reopen(s, ONE), other: await reopen(s, ONE) });
  const open = distinct.map((s) => {
    const { source, options } = sources.get(s);
    const { intraOpNumThreads: _a, interOpNumThreads: _b, optimizedModelFilePath: _c, ...rest } = options;
    return { source, options: { ...rest, ...ONE } };
  });
  const workers = [0, 1].map(() => new Worker(WORKER, { eval: true }));
  const call = (w, m) => new Promise((resolve) => (w.once('message', resolve), w.postMessage(m)));
  await Promise.all(workers.map((w) => call(w, { open })));
  const index = new Map(distinct.map((s, i) => [s, i]));
  return { variants, workers, call, index };
}

/** Run the recorded batches with `lanes` lanes, each pulling the next batch; returns the outputs by batch. */
async function replay(runs, lanes, runOne) {
  const outputs = new Array(runs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      while (next < runs.length) {
        const i = next++;
        outputs[i] = await runOne(runs[i], lane);
      }
    }),
  );
  return outputs;
}

const dataOf = (out) => Object.fromEntries(Object.entries(out).map(([n, t]) => [n, t.data ?? t]));

/** A recorded batch cut into its first and second half of rows (every feed whose first dimension is the rows). */
function halves(r) {
  const rows = r.feeds.input_ids.dims[0];
  const cut = Math.ceil(rows / 2);
  const part = (from, to) => ({
    ...r,
    feeds: Object.fromEntries(
      Object.entries(r.feeds).map(([n, t]) => {
        if (t.dims[0] !== rows) return [n, t];
        const per = t.data.length / rows;
        return [n, { type: t.type, data: t.data.slice(from * per, to * per), dims: [to - from, ...t.dims.slice(1)] }];
      }),
    ),
  });
  return [part(0, cut), part(cut, rows)];
}

/** Two halves' outputs joined back along the rows. */
function joinRows([a, b]) {
  return Object.fromEntries(
    Object.entries(a).map(([n, d]) => {
      const j = new d.constructor(d.length + b[n].length);
      j.set(d);
      j.set(b[n], d.length);
      return [n, j];
    }),
  );
}

function modes(env) {
  const run = (session, r) => session.run(toFeeds(r.feeds), r.fetches).then(dataOf);
  const one = (r) => env.variants.get(r.session).one;
  const viaWorker = (r) =>
    env.call(env.workers[0], { feeds: r.feeds, fetches: r.fetches, session: env.index.get(r.session) });
  return {
    'ORT default': (runs) => replay(runs, 1, (r) => run(env.variants.get(r.session).def, r)),
    'intra 1': (runs) => replay(runs, 1, (r) => run(env.variants.get(r.session).one, r)),
    '1 session, 2 in flight': (runs) => replay(runs, 2, (r) => run(env.variants.get(r.session).one, r)),
    '2 sessions, 1 each': (runs) =>
      replay(runs, 2, (r, lane) => run(env.variants.get(r.session)[lane ? 'other' : 'one'], r)),
    '2 workers, 1 each': (runs) =>
      replay(runs, 2, (r, lane) =>
        env.call(env.workers[lane], { feeds: r.feeds, fetches: r.fetches, session: env.index.get(r.session) }),
      ),
    // One copy of the weights more, not two: the main thread's intra-1 session is one lane, a worker the other.
    'main + 1 worker': (runs) => replay(runs, 2, (r, lane) => (lane ? viaWorker(r) : run(one(r), r))),
    'main at ORT default + 1 worker': (runs) =>
      replay(runs, 2, (r, lane) => (lane ? viaWorker(r) : run(env.variants.get(r.session).def, r))),
    // The same with every batch cut into two halves by rows, one half on each lane: two lanes even for one batch.
    'main + 1 worker, halves': async (runs) => {
      const out = [];
      for (const r of runs) {
        if (r.feeds.input_ids.dims[0] < 2) {
          out.push(await run(one(r), r));
          continue;
        }
        const [a, b] = halves(r);
        out.push(joinRows(await Promise.all([run(one(a), a), viaWorker(b)])));
      }
      return out;
    },
  };
}

function maxDiff(a, b) {
  let d = 0;
  a.forEach((out, i) => {
    for (const [n, data] of Object.entries(out)) {
      const other = b[i][n];
      for (let k = 0; k < data.length; k++) d = Math.max(d, Math.abs(Number(data[k]) - Number(other[k])));
    }
  });
  return d;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

const model = await loadModel(spec);
console.log(
  `# ${spec}: replayed batches of one explanation, median of ${rounds} interleaved rounds; ratio = ORT default's time / this mode's time (load average at start ${load()})`,
);
for (const length of lengths) {
  const text = benchInput(model, length);
  for (const method of METHODS) {
    const runs = await record(model, text, method);
    const env = await prepare(runs);
    const all = modes(env);
    const times = Object.fromEntries(Object.keys(all).map((n) => [n, []]));
    const busyness = Object.fromEntries(Object.keys(all).map((n) => [n, []]));
    const diffs = {};
    let reference;
    for (let r = -1; r < rounds; r++) {
      for (const [name, mode] of Object.entries(all)) {
        const elu = performance.eventLoopUtilization();
        const t = performance.now();
        const outputs = await mode(runs);
        const ms = performance.now() - t;
        const busy = performance.eventLoopUtilization(elu).utilization;
        if (r < 0) {
          if (name === 'intra 1') reference = outputs;
          else if (reference) diffs[name] = maxDiff(outputs, reference);
          continue;
        }
        times[name].push(ms);
        busyness[name].push(busy);
      }
    }
    diffs['ORT default'] = maxDiff(await all['ORT default'](runs), reference);
    const base = median(times['ORT default']);
    const cells = Object.keys(all).map((n) => {
      const m = median(times[n]);
      const d = n === 'intra 1' ? '' : `, Δ ${diffs[n].toExponential(1)}`;
      return `${n}: ${m.toFixed(1)} ms ${(base / m).toFixed(2)}× (main thread busy ${(100 * median(busyness[n])).toFixed(0)}%${d})`;
    });
    console.log(`${method} @${length} (${runs.length} batches): ${cells.join(' | ')}`);
    await Promise.all(env.workers.map((w) => w.terminate()));
    for (const v of env.variants.values()) await Promise.all([v.def.release(), v.one.release(), v.other.release()]);
  }
}
console.log(`# load average at end ${load()}`);
