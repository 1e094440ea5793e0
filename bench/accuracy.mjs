/* global performance, process, console */
// Time-to-accuracy of interp's sampling methods against exact Shapley values (issue 35, item 4).
// Not part of the test suite. Run after `npx tsc -p tsconfig.json`:
//   node bench/accuracy.mjs [--seeds 5] [--json out.json] [--quick]
// For each model and 12-feature input, exact Shapley values are computed by enumeration (shapley with
// its exact limit, 2^12 − 2 coalitions); then each sampling method runs over a ladder of budgets and
// several seeds. A budget reaches the accuracy when the median over seeds has Spearman ≥ 0.95 and a
// relative L2 error ‖φ − φ*‖ / ‖φ*‖ ≤ 0.1. The time reported is the median wall time at that budget.
import { explainText } from '../dist/src/explain.js';
import { loadModel } from '../dist/src/model/load.js';
import { spearman } from '../dist/src/util/stats.js';
import { additiveClassifier, sentimentModel, writePlanted } from '../dist/src/planted/additive.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
const SEEDS = Number(flag('seeds', 5));
const QUICK = args.includes('--quick');
export const SPEARMAN_TARGET = 0.95;
export const L2_TARGET = 0.1;

export const METHODS = [
  { label: 'KernelSHAP, paired', method: 'kernel-shap', budget: 'samples', choices: { pairing: 'paired' } },
  { label: 'KernelSHAP, independent', method: 'kernel-shap', budget: 'samples', choices: { pairing: 'independent' } },
  {
    label: 'Shapley sampling, stratified',
    method: 'shapley',
    budget: 'permutations',
    choices: { 'order-sampling': 'stratified' },
  },
  {
    label: 'Shapley sampling, antithetic',
    method: 'shapley',
    budget: 'permutations',
    choices: { 'order-sampling': 'antithetic' },
  },
  {
    label: 'Shapley sampling, independent',
    method: 'shapley',
    budget: 'permutations',
    choices: { 'order-sampling': 'independent' },
  },
  { label: 'LIME', method: 'lime', budget: 'samples', choices: {} },
];

const LADDER = {
  samples: [16, 32, 64, 128, 256, 512, 1024, 2048],
  permutations: [2, 4, 8, 16, 32, 64, 128, 256],
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const relL2 = (a, b) => {
  let num = 0;
  let den = 0;
  a.forEach((x, i) => {
    num += (x - b[i]) ** 2;
    den += b[i] ** 2;
  });
  return Math.sqrt(num / den);
};

/** Spearman with values within 1e-6 of the largest |φ*| counted as ties (the planted models' zero weights). */
const tiedSpearman = (a, exact) => {
  const tol = 1e-6 * Math.max(...exact.map(Math.abs));
  const snap = (xs) => xs.map((x) => Math.round(x / tol) * tol);
  return spearman(snap(a), snap(exact));
};

/** The exact Shapley values of one input, and a function that scores a method run against them. */
export async function exactShapley(model, { text, target, granularity }) {
  const r = await explainText(model, { text, method: 'shapley', target, granularity, params: { 'exact-limit': 12 } });
  if (r.diagnostics.mode !== 'exact') throw new Error(`not exact: ${r.features.length} features`);
  return r.features.map((f) => f.attribution);
}

async function timedRun(model, { text, target, granularity }, m, budget, seed) {
  const params = { [m.budget]: budget };
  if (m.method === 'shapley') params['exact-limit'] = 1;
  const t0 = performance.now();
  const r = await explainText(model, { text, method: m.method, target, granularity, params, choices: m.choices, seed });
  return { values: r.features.map((f) => f.attribution), seconds: (performance.now() - t0) / 1000 };
}

/** Smallest budget on the ladder whose median over seeds meets both targets, with its errors and time. */
export async function timeToAccuracy(model, input, exact, m, seeds = SEEDS) {
  const ladder = QUICK ? LADDER[m.budget].slice(0, 5) : LADDER[m.budget];
  const rows = [];
  for (const budget of ladder) {
    const runs = [];
    for (let seed = 1; seed <= seeds; seed++) runs.push(await timedRun(model, input, m, budget, seed));
    const row = {
      budget,
      spearman: median(runs.map((r) => tiedSpearman(r.values, exact))),
      relL2: median(runs.map((r) => relL2(r.values, exact))),
      seconds: median(runs.map((r) => r.seconds)),
    };
    rows.push(row);
    if (row.spearman >= SPEARMAN_TARGET && row.relL2 <= L2_TARGET) return { reached: row, rows };
  }
  return { reached: null, rows };
}

export const INPUTS = [
  {
    name: 'planted interaction (not flips the next word)',
    model: async () => loadModel(writePlanted(sentimentModel('interaction', 1))),
    text: 'not great but not boring and the film was very good fun',
    target: { target: 'POSITIVE', score: 'logit' },
  },
  {
    name: 'planted additive',
    model: async () => loadModel(writePlanted(additiveClassifier())),
    text: 'the movie was great but the plot was boring and very dull',
    target: { target: 'POSITIVE', score: 'logit' },
  },
  {
    name: 'distilbert-sst2-mini (DistilBERT, 3 layers, 128 wide)',
    model: async () => loadModel('../shared/models/distilbert-sst2-mini'),
    text: 'the acting was not great but the story kept me watching closely',
    target: { target: 'POSITIVE', score: 'logit' },
  },
  {
    name: 'llama-stories260k-kv (causal LM)',
    model: async () => loadModel('../shared/models/llama-stories260k-kv'),
    text: 'Once upon a time there was a little girl who loved her',
    target: undefined,
    granularity: 'word',
  },
];

export function accuracyMarkdown(results) {
  const lines = [
    `| input | method | budget to reach ρ ≥ ${SPEARMAN_TARGET} and rel. L2 ≤ ${L2_TARGET} | ρ | rel. L2 | median time (s) |`,
    '|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const ok = r.reached;
    const last = r.rows[r.rows.length - 1];
    lines.push(
      ok
        ? `| ${r.input} | ${r.label} | ${ok.budget} ${r.budget} | ${ok.spearman.toFixed(3)} | ${ok.relL2.toFixed(3)} | ${ok.seconds.toFixed(3)} |`
        : `| ${r.input} | ${r.label} | not reached by ${last.budget} | ${last.spearman.toFixed(3)} | ${last.relL2.toFixed(3)} | ${last.seconds.toFixed(3)} |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const only = flag('inputs', null);
  const results = [];
  for (const [k, input] of INPUTS.entries()) {
    if (only && !only.split(',').includes(String(k))) continue;
    const model = await input.model();
    const exact = await exactShapley(model, input);
    for (const m of METHODS) {
      const r = await timeToAccuracy(model, input, exact, m);
      results.push({ input: input.name, label: m.label, budget: m.budget, ...r });
      process.stderr.write(`${input.name} | ${m.label}: ${JSON.stringify(r.reached ?? r.rows.at(-1))}\n`);
    }
  }
  const out = flag('json', null);
  if (out) (await import('node:fs')).writeFileSync(out, JSON.stringify(results, null, 2));
  console.log(accuracyMarkdown(results));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
