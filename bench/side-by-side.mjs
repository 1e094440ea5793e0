/* global performance, process, console, URL, Buffer, setTimeout */
// interp beside Captum on the same token ids and budgets (issue 35). Not part of the test suite.
// Run after `npx tsc -p tsconfig.json`:
//   node bench/side-by-side.mjs [--model distilbert|gpt2] [--lengths 24,68] [--rounds 3] [--repeats 1] [--settle 0]
//                               [--python python3]
//                               [--methods occlusion,integrated-gradients] [--accuracy] [--out section.md]
// --model gpt2 is the bench's 124M GPT-2 (`gpt2-small:` on ../shared/models/gpt2-tokenizer, built into the
// cache once); its budgets are smaller (Shapley 5 permutations, KernelSHAP and LIME 200), since Captum
// runs every variant whole.
// The peer (bench/peer/captum_peer.py) runs where `python3 -c "import torch, captum"` works (set
// PYTHONPATH for a source checkout of captum); otherwise its columns say "absent". Rounds are
// interleaved: interp, then Captum at 1 thread, then at 2 threads, for every case, `--rounds` times;
// each cell is the median over rounds. --repeats r times every case r times in a row within a round, on both
// sides alike, and takes their median as the round's (for calls of a few milliseconds). Peak RSS is each process's maximum resident set.
// --accuracy adds time-to-accuracy: the budget each side needs to reach Spearman ≥ 0.95 and relative
// L2 error ≤ 0.1 against exact Shapley values on a 12-word input, and the time at that budget.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchModelFolder } from '../dist/src/bench.js';
import { explainText } from '../dist/src/explain.js';
import { loadModel } from '../dist/src/model/load.js';
import { decodeModel } from '../dist/src/onnx/proto.js';
import { readFloatTensor } from '../dist/src/onnx/tensor.js';
import { encodeText } from '../dist/src/text/encode.js';
import { spearman } from '../dist/src/util/stats.js';
import { benchSettings, words } from './filler.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
const ROUNDS = Number(flag('rounds', 3));
const REPEATS = Number(flag('repeats', 1));
const SETTLE_S = Number(flag('settle', 0));
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_S * 1000));
const PYTHON = flag('python', 'python3');
const PEER = path.join(path.dirname(new URL(import.meta.url).pathname), 'peer', 'captum_peer.py');
const ACCURACY_THREADS = flag('accuracy-threads', '1,2').split(',').map(Number);
/** benchSettings' methods, each with the peer's budget and the table's label. */
function methodsOf({ params }) {
  const { permutations } = params.shapley;
  const { samples } = params['kernel-shap'];
  const { steps } = params['integrated-gradients'];
  return [
    { method: 'occlusion', params: params.occlusion, budget: 0, label: 'occlusion' },
    {
      method: 'shapley',
      params: params.shapley,
      budget: permutations,
      label: `Shapley sampling, ${permutations} permutations`,
    },
    { method: 'kernel-shap', params: params['kernel-shap'], budget: samples, label: `KernelSHAP-${samples}` },
    { method: 'lime', params: params.lime, budget: params.lime.samples, label: `LIME-${params.lime.samples}` },
    { method: 'integrated-gradients', params: params['integrated-gradients'], budget: steps, label: `IG-${steps}` },
  ];
}
const DISTILBERT = benchSettings('distilbert');
const GPT2 = benchSettings('gpt2');
/**
 * The two networks compared. `around`: how many fixed tokens precede and follow the features (the peer
 * adds them back). distilbert: the POSITIVE logit, [MASK] baseline (interp's default). gpt2: log p(the
 * token interp predicts for the input) at the last position, <|endoftext|> baseline (--baseline unk). The baseline is
 * named on both: interp's gradient methods default to the zero embedding, where Captum's IG is given the token's.
 */
const MODELS = {
  distilbert: {
    folder: () => '../shared/models/distilbert-sst2-mini',
    label: 'distilbert-sst2-mini (../shared/models/distilbert-sst2-mini), the POSITIVE logit, token baseline [MASK]',
    request: DISTILBERT.request,
    around: [1, 1],
    lengths: '24,68,117',
    methods: methodsOf(DISTILBERT),
  },
  gpt2: {
    folder: () => benchModelFolder('gpt2-small:../shared/models/gpt2-tokenizer', log),
    label:
      "the bench's 124M GPT-2 (`gpt2-small:../shared/models/gpt2-tokenizer`, seeded weights), log p(predicted next token) at the last position, token baseline <|endoftext|> (--baseline unk)",
    request: GPT2.request,
    around: [1, 0],
    lengths: '24,128',
    methods: methodsOf(GPT2),
  },
};
const MODEL_NAME = flag('model', 'distilbert');
const NET = MODELS[MODEL_NAME];
if (!NET) throw new Error(`--model ${MODEL_NAME}: choose one of ${Object.keys(MODELS).join(', ')}`);
const LENGTHS = flag('lengths', NET.lengths).split(',').map(Number);
// --methods integrated-gradients,occlusion: a subset, for example to read one method's peak RSS on its own.
const ONLY = flag('methods', null)?.split(',');
const METHODS = NET.methods.filter((m) => !ONLY || ONLY.includes(m.method));
function log(line) {
  process.stderr.write(`side-by-side: ${line}\n`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * The ONNX initializers as one float32 file and a JSON index, for the peer to rebuild the model; written by a
 * process of its own (this script with --export-weights), since decoding the graph here would count its copies
 * (about 2 GB for the 124M GPT-2) into interp's peak RSS.
 */
function exportWeights(folder) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-peer-'));
  const script = new URL(import.meta.url).pathname;
  const r = spawnSync(process.execPath, [script, '--export-weights', folder, dir], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`exporting the weights of ${folder} for the peer failed`);
  return dir;
}

function writeWeights(folder, dir) {
  const model = decodeModel(fs.readFileSync(path.join(folder, 'onnx', 'model.onnx')));
  const index = {};
  const chunks = [];
  let offset = 0;
  for (const t of model.graph.initializer) {
    const f = readFloatTensor(t);
    if (!f) continue;
    const bytes = Buffer.from(new Float32Array(f.data).buffer);
    index[t.name] = [offset, t.dims.map(Number)];
    chunks.push(bytes);
    offset += bytes.length;
  }
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(chunks));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
}

function peerAvailable() {
  const r = spawnSync(PYTHON, ['-c', 'import torch, captum.attr'], { encoding: 'utf8' });
  return r.status === 0;
}

/**
 * The peer runs are started by a small launcher process, itself started before interp loads anything. Were this
 * process to start them, Linux's fork would mark every page it holds copy-on-write, and the first write to
 * each afterwards faults: measured here, the first Shapley sampling call after even `true` was started took
 * 0.70–0.86 s against 0.19 s, with 16,800 minor page faults and 0.1 s of system time more (rounds 2 and 3 of
 * earlier runs of this script: Shapley sampling and IG-50 at 24 tokens 2–5× slower than round 1).
 */
const LAUNCHER = `
const { execFile } = require('node:child_process');
process.on('message', ({ id, file, args }) =>
  execFile(file, args, { encoding: 'utf8', maxBuffer: 1 << 26 }, (e, out, err) =>
    process.send({ id, error: e ? e.message + err : null, out })));
`;
let launcher = null;
function startLauncher() {
  const child = spawn(process.execPath, ['-e', LAUNCHER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let next = 0;
  child.on('message', ({ id, error, out }) => {
    const { resolve, reject } = waiting.get(id);
    waiting.delete(id);
    if (error) reject(new Error(error));
    else resolve(out);
  });
  launcher = {
    run: (file, runArgs) =>
      new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        child.send({ id, file, args: runArgs });
      }),
    stop: () => child.kill(),
  };
}

async function runPeer(weights, threads, cases, repeats = 1) {
  const job = path.join(weights, `job-${threads}.json`);
  fs.writeFileSync(job, JSON.stringify({ weights, model: MODEL_NAME, threads, repeats, cases }));
  return JSON.parse(await launcher.run(PYTHON, [PEER, job]));
}

async function runInterp(model, text, m, seed = 1) {
  const t0 = performance.now();
  const u0 = process.resourceUsage();
  const r = await explainText(model, {
    ...NET.request,
    text,
    method: m.method,
    params: m.params,
    seed,
    choices: m.choices,
  });
  const u1 = process.resourceUsage();
  // CPU time (user, system) and page faults beside the wall time, to tell a slow run from a starved one.
  const usage = {
    userS: (u1.userCPUTime - u0.userCPUTime) / 1e6,
    systemS: (u1.systemCPUTime - u0.systemCPUTime) / 1e6,
    minorFaults: u1.minorPageFault - u0.minorPageFault,
    majorFaults: u1.majorPageFault - u0.majorPageFault,
  };
  return { seconds: (performance.now() - t0) / 1000, usage, values: r.features.map((f) => f.attribution), r };
}

/** Feature token ids (without the fixed tokens around them) of a text, as the peer's forward function expects. */
function featureIds(model, text) {
  const ids = [...encodeText(model, text).ids].map(Number);
  return ids.slice(NET.around[0], ids.length - NET.around[1]);
}

/** Every case, `--rounds` times interleaved; `onRound` sees the medians so far after each round. */
async function timing(model, weights, peer, onRound) {
  const cases = [];
  for (const n of LENGTHS) {
    for (const m of METHODS) cases.push({ key: `${m.method}@${n}`, n, m, text: words(n) });
  }
  const cells = new Map(cases.map((c) => [c.key, { interp: [], t1: [], t2: [] }]));
  let peerRss = { 1: 0, 2: 0 };
  let fullCheck = null;
  // Untimed, as the peer's own warm-up: sessions, the gradient graph and lazy imports are paid here.
  for (const m of METHODS) await runInterp(model, words(LENGTHS[0]), m);
  const interpRound = async (round) => {
    // The peer warms every method up (untimed) at the start of each round's process; interp does the same at the
    // start of each round (without it, the first case of a round, occlusion at 24 tokens, took 12-14 ms where
    // repeated calls take 8).
    for (const m of METHODS) await runInterp(model, words(LENGTHS[0]), m);
    for (const c of cases) {
      const repeats = [];
      for (let i = 0; i < REPEATS; i++) repeats.push(await runInterp(model, c.text, c.m));
      const r = repeats.sort((a, b) => a.seconds - b.seconds)[REPEATS >> 1];
      cells.get(c.key).interp.push(r.seconds);
      c.usage = r.usage;
      c.target = r.r.target.tokenIds?.[0];
      c.values = r.values;
    }
    log(
      `round ${round + 1}: interp ${cases
        .map(
          (c) =>
            `${c.key} ${cells.get(c.key).interp.at(-1).toFixed(3)} (user ${c.usage.userS.toFixed(3)}, ` +
            `system ${c.usage.systemS.toFixed(3)}, ${c.usage.minorFaults} minor and ${c.usage.majorFaults} major faults)`,
        )
        .join(', ')}`,
    );
  };
  const peerRound = async (round, threads) => {
    const peerCases = cases.map((c) => ({
      key: c.key,
      method: c.m.method,
      ids: featureIds(model, c.text),
      budget: c.m.budget,
      seed: round,
      ...(MODEL_NAME === 'gpt2' ? { target: c.target } : {}),
    }));
    const out = await runPeer(weights, threads, peerCases, REPEATS);
    peerRss[threads] = Math.max(peerRss[threads], out.peakRssMiB);
    for (const c of cases) {
      cells.get(c.key)[`t${threads}`].push(out.cases[c.key].seconds);
      // Deterministic methods compute the same numbers on both sides: how far apart they are.
      if (DETERMINISTIC.has(c.m.method) && c.values) cells.get(c.key).gap = relL2(c.values, out.cases[c.key].values);
    }
    log(
      `round ${round + 1}: captum ${threads}t ${cases.map((c) => `${c.key} ${out.cases[c.key].seconds.toFixed(3)}`).join(', ')}`,
    );
    if (!fullCheck && cases[0].values) {
      const c = cases[0];
      const mine = (await runInterp(model, c.text, METHODS[0])).r.fullScore;
      fullCheck = { interp: mine, captum: out.cases[c.key].fullScore, tokens: c.n };
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Each side may start after a pause (--settle seconds, default 0). It was once thought to explain interp's
    // slower later rounds; their cause was this process starting the peer itself (see LAUNCHER).
    await settle();
    await interpRound(round);
    if (peer) {
      await settle();
      await peerRound(round, 1);
      await settle();
      await peerRound(round, 2);
    }
    onRound({ cases, cells, peerRss, fullCheck, rounds: round + 1 });
  }
  return { cases, cells, peerRss, fullCheck, rounds: ROUNDS };
}

const DETERMINISTIC = new Set(['occlusion', 'integrated-gradients']);
function relL2(a, b) {
  return Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0) / b.reduce((s, x) => s + x * x, 0));
}
const tiedSpearman = (a, exact) => {
  const tol = 1e-6 * Math.max(...exact.map(Math.abs));
  const snap = (xs) => xs.map((x) => Math.round(x / tol) * tol);
  return spearman(snap(a), snap(exact));
};

const ACCURACY = [
  {
    label: 'KernelSHAP',
    interp: { method: 'kernel-shap', key: 'samples' },
    peer: 'kernel-shap',
    ladder: [32, 64, 128, 256, 512, 1024, 2048],
  },
  {
    label: 'Shapley sampling',
    interp: { method: 'shapley', key: 'permutations' },
    peer: 'shapley',
    ladder: [2, 4, 8, 16, 32, 64, 128, 256],
  },
  { label: 'LIME', interp: { method: 'lime', key: 'samples' }, peer: 'lime', ladder: [64, 256, 1024, 2048] },
];

/** Smallest budget on each side whose median over seeds reaches both targets, with its median time. */
async function accuracy(model, weights, peer, seeds = 3) {
  const text = 'the acting was not great but the story kept me watching closely';
  const exactRun = await explainText(model, { ...NET.request, text, method: 'shapley', params: { 'exact-limit': 12 } });
  const exact = exactRun.features.map((f) => f.attribution);
  const ids = featureIds(model, text);
  const rows = [];
  for (const a of ACCURACY) {
    const row = { label: a.label, interp: null, captum: null };
    for (const budget of a.ladder) {
      if (!row.interp) {
        const params = { [a.interp.key]: budget, ...(a.interp.method === 'shapley' ? { 'exact-limit': 1 } : {}) };
        const runs = [];
        for (let seed = 1; seed <= seeds; seed++)
          runs.push(await runInterp(model, text, { method: a.interp.method, params }, seed));
        const rho = median(runs.map((r) => tiedSpearman(r.values, exact)));
        const err = median(runs.map((r) => relL2(r.values, exact)));
        if (rho >= 0.95 && err <= 0.1) row.interp = { budget, rho, err, seconds: median(runs.map((r) => r.seconds)) };
        log(`accuracy: interp ${a.label} ${budget}: rho ${rho.toFixed(3)} L2 ${err.toFixed(3)}`);
      }
      if (peer && !row.captum) {
        const cases = Array.from({ length: seeds }, (_, s) => ({
          key: `s${s}`,
          method: a.peer,
          ids,
          budget,
          seed: s + 1,
        }));
        const best = [];
        for (const threads of ACCURACY_THREADS) best.push(await runPeer(weights, threads, cases));
        const vals = Object.values(best[0].cases);
        const rho = median(vals.map((c) => tiedSpearman(c.values, exact)));
        const err = median(vals.map((c) => relL2(c.values, exact)));
        const seconds = Math.min(...best.map((b) => median(Object.values(b.cases).map((c) => c.seconds))));
        row.captumLast = { budget, rho, err, seconds };
        if (rho >= 0.95 && err <= 0.1) row.captum = row.captumLast;
        log(
          `accuracy: captum ${a.label} ${budget}: rho ${rho.toFixed(3)} L2 ${err.toFixed(3)} ${seconds.toFixed(3)} s`,
        );
      }
      if (row.interp && (row.captum || !peer)) break;
    }
    rows.push(row);
  }
  return { rows, text };
}

function markdown(t, acc, peer) {
  const f = (x) => (x === undefined ? 'absent' : x.toFixed(3));
  const lines = [
    `### Side by side: ${MODEL_NAME}`,
    '',
    `Produced by \`node bench/side-by-side.mjs${acc ? ' --accuracy' : ''}\` on ${os.cpus().length} cores (${os.cpus()[0].model}), ` +
      `Node ${process.version}; Captum ${peer ? 'from a source checkout on PyTorch (Debian python3-torch)' : 'absent'}. ` +
      `${NET.label} on both sides; the peer is the same ` +
      'network rebuilt in plain PyTorch from the ONNX initializers. Medians over ' +
      `${t.rounds ?? ROUNDS} interleaved rounds, seconds per explanation` +
      (REPEATS > 1 ? ` (each round's time the median of ${REPEATS} calls in a row, on both sides).` : '.'),
    '',
    "| method (budget) | tokens | interp | Captum, 1 thread | Captum, 2 threads | Captum's best ÷ interp | attributions apart (rel. L2) |",
    '|---|---|---|---|---|---|---|',
  ];
  for (const c of t.cases) {
    const cell = t.cells.get(c.key);
    const i = median(cell.interp);
    const t1 = cell.t1.length ? median(cell.t1) : undefined;
    const t2 = cell.t2.length ? median(cell.t2) : undefined;
    const best = t1 === undefined ? undefined : Math.min(t1, t2);
    lines.push(
      `| ${c.m.label} | ${c.n} | ${f(i)} | ${f(t1)} | ${f(t2)} | ${best === undefined ? '—' : `${(best / i).toFixed(2)}×`} | ${cell.gap === undefined ? '—' : cell.gap.toExponential(1)} |`,
    );
  }
  lines.push(
    '',
    `Peak RSS: interp ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (this Node process, all runs); ` +
      (peer
        ? `Captum ${t.peerRss[1].toFixed(0)} MiB at 1 thread, ${t.peerRss[2].toFixed(0)} MiB at 2 threads (each Python process).`
        : 'Captum absent.'),
  );
  if (t.fullCheck)
    lines.push(
      '',
      `Same function on both sides: the score at ${t.fullCheck.tokens} tokens ${t.fullCheck.interp.toFixed(6)} (interp) vs ${t.fullCheck.captum.toFixed(6)} (PyTorch).`,
    );
  if (acc) {
    lines.push(
      '',
      `### Time to accuracy`,
      '',
      `Input: "${acc.text}" (12 features). Exact Shapley values by enumeration (2^12 − 2 coalitions); a budget reaches the accuracy when the median over 3 seeds has Spearman ≥ 0.95 and relative L2 error ≤ 0.1. Budgets doubled from the smallest; Captum's time is its better setting among ${ACCURACY_THREADS.join(' and ')} thread(s).`,
      '',
      '| method | interp budget | interp s | Captum budget | Captum s | Captum ÷ interp |',
      '|---|---|---|---|---|---|',
    );
    for (const r of acc.rows) {
      const i = r.interp;
      // Not reached: the last budget tried, its error and time; the ratio is then a lower bound.
      const last = r.captumLast;
      const c =
        r.captum ??
        (last && {
          budget: `not by ${last.budget} (ρ ${last.rho.toFixed(3)}, L2 ${last.err.toFixed(3)})`,
          seconds: last.seconds,
          bound: true,
        });
      lines.push(
        `| ${r.label} | ${i ? i.budget : 'not reached'} | ${i ? i.seconds.toFixed(3) : '—'} | ${c ? c.budget : peer ? 'not reached' : 'absent'} | ${c ? c.seconds.toFixed(3) : '—'} | ${i && c ? `${c.bound ? '> ' : ''}${(c.seconds / i.seconds).toFixed(1)}×` : '—'} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

async function main() {
  // Before any model is loaded: from here on this process starts no other (see LAUNCHER).
  const peer = peerAvailable();
  if (peer) startLauncher();
  const folder = NET.folder();
  if (!peer) console.error(`side-by-side: ${PYTHON} cannot import torch and captum; the peer columns say absent`);
  const weights = peer ? exportWeights(folder) : null;
  const model = await loadModel(folder);
  const out = flag('out', null);
  // The section so far is written after every round, so that a run cut short still leaves its medians.
  const partial = (t) => out && fs.writeFileSync(out, markdown(t, null, peer));
  const t = args.includes('--only-accuracy')
    ? { cases: [], cells: new Map(), peerRss: { 1: 0, 2: 0 } }
    : await timing(model, weights, peer, partial);
  const acc =
    args.includes('--accuracy') || args.includes('--only-accuracy') ? await accuracy(model, weights, peer) : null;
  const md = markdown(t, acc, peer);
  if (out) fs.writeFileSync(out, md);
  process.stdout.write(md);
  if (weights) fs.rmSync(weights, { recursive: true, force: true });
  launcher?.stop();
}

if (args[0] === '--export-weights') writeWeights(args[1], args[2]);
else await main();
