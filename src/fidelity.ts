import fs from 'node:fs';
import type { Example } from './data/datasets.js';
import { usageError } from './errors.js';
import { explainText, prepare, prepareEncoded, type Prepared } from './explain.js';
import { faithfulness, plausibility, topKPrecision, type Faithfulness, type Plausibility } from './metrics/faithfulness.js';
import { randomizeInitializers, weightGroups } from './metrics/randomization.js';
import { emptyCoalition, fullCoalition } from './masking/replacement.js';
import { MaskedScorer } from './masking/scorer.js';
import { METHODS } from './methods/registry.js';
import type { BaselineKind, Granularity } from './methods/types.js';
import { readGraph, withGraph } from './model/load.js';
import { RunContext } from './runtime/context.js';
import type { Model } from './model/types.js';
import { encodeText } from './text/encode.js';
import { bootstrap, spearman, type Estimate } from './util/stats.js';
import { Rng } from './util/rng.js';

export const RECORD_SCHEMA = 'interp/fidelity-record@1';
export const LEADERBOARD_SCHEMA = 'interp/fidelity@1';

export interface FidelityConfig {
  methods: string[];
  params: Record<string, number>;
  baseline?: BaselineKind;
  granularity: Granularity;
  /** Classifier score the metrics read: probability (default, as ERASER), logit or log-odds. */
  score?: string;
  seed: number;
  softSamples: number;
  maxNormalise: number;
  stability: boolean;
}

/** One line of --out: one example explained by one method, and every metric on it. */
export interface FidelityRecord {
  schema: typeof RECORD_SCHEMA;
  key: string;
  model: string;
  example: string;
  method: string;
  params: Record<string, number | string>;
  seed: number;
  label: string | null;
  predicted: string;
  features: number;
  fullScore: number;
  baselineScore: number;
  forwardPasses: number;
  faithfulness: Omit<Faithfulness, 'deletion' | 'insertion'>;
  curves: { deletion: number[]; insertion: number[] };
  plausibility: Plausibility | null;
  /** Top-k precision against known weights (k = the features with a non-zero weight), when the example carries them. */
  recovery: number | null;
  stability: { inputEdit: number | null; seeds: number | null } | null;
}

/** What makes two records the same unit of work: resume skips keys already in --out. */
export function recordKey(model: string, example: string, method: string, config: FidelityConfig): string {
  const own = Object.entries(config.params).filter(([k]) => k in METHODS[method].params).sort();
  return JSON.stringify([model, example, method, own, config.baseline ?? 'default', config.granularity, config.score ?? 'probability', config.seed, config.stability]);
}

function goldTokens(p: Prepared, rationale: Example['rationale']): boolean[] | null {
  if (!rationale) return null;
  return p.features.map((f) => f.end > rationale.start && f.start < rationale.end);
}

function recoveryOf(p: Prepared, weights: Example['weights'], values: number[]): number | null {
  if (!weights) return null;
  const truth = p.features.map((f) => weights[f.text.toLowerCase()] ?? 0);
  const k = truth.filter((t) => t !== 0).length;
  return k === 0 ? null : topKPrecision(values, truth, k);
}

/** Explain one example with every configured method and measure each explanation. */
export async function evaluateExample(model: Model, modelName: string, example: Example, config: FidelityConfig, skip: ReadonlySet<string>): Promise<FidelityRecord[]> {
  const todo = config.methods.filter((m) => !skip.has(recordKey(modelName, example.id, m, config)));
  if (todo.length === 0) return [];
  const request = { text: example.text, method: todo[0], baseline: config.baseline, granularity: config.granularity, truncate: true, target: { score: config.score } };
  const prepared = await prepare(model, request);
  const baselineScore = prepared.baselineScore!;
  const records: FidelityRecord[] = [];
  for (const method of todo) {
    const own = Object.fromEntries(Object.entries(config.params).filter(([k]) => k in METHODS[method].params));
    const attribution = await explainText(model, { ...request, method, params: own, seed: config.seed }, { prepared });
    const values = attribution.features.map((f) => f.attribution);
    const n = prepared.features.length;
    const score = new MaskedScorer(model, prepared.encoding, prepared.features, prepared.target, prepared.replacement, new RunContext())
      .know(fullCoalition(n), prepared.fullScore)
      .know(emptyCoalition(n), baselineScore).score;
    const { deletion, insertion, ...scalars } = await faithfulness(score, values, prepared.fullScore, { seed: config.seed, softSamples: config.softSamples, maxNormalise: config.maxNormalise });
    const gold = goldTokens(prepared, example.rationale);
    let stability: FidelityRecord['stability'] = null;
    if (config.stability) stability = await stabilityOf(model, example, method, own, config, prepared, values);
    records.push({
      schema: RECORD_SCHEMA,
      key: recordKey(modelName, example.id, method, config),
      model: modelName,
      example: example.id,
      method,
      params: attribution.params,
      seed: config.seed,
      label: example.label ?? null,
      predicted: prepared.target.name,
      features: n,
      fullScore: prepared.fullScore,
      baselineScore,
      forwardPasses: attribution.forwardPasses,
      faithfulness: scalars,
      curves: { deletion, insertion },
      plausibility: gold ? plausibility(values, gold) : null,
      recovery: recoveryOf(prepared, example.weights, values),
      stability,
    });
  }
  return records;
}

/**
 * Rank correlation of the attributions (a) after deleting the feature with the smallest |attribution|
 * from the text, on the features that remain; (b) for sampling methods, under another seed.
 */
async function stabilityOf(model: Model, example: Example, method: string, params: Record<string, number>, config: FidelityConfig, prepared: Prepared, values: number[]) {
  let inputEdit: number | null = null;
  if (prepared.features.length >= 3) {
    const weakest = values.map((v, i) => [Math.abs(v), i]).sort((a, b) => a[0] - b[0] || a[1] - b[1])[0][1];
    const f = prepared.features[weakest];
    const text = (example.text.slice(0, f.start) + example.text.slice(f.end)).replace(/\s+/g, ' ').trim();
    try {
      const edited = await explainText(model, { text, method, params, seed: config.seed, baseline: config.baseline, granularity: config.granularity, target: { target: prepared.target.name, score: config.score }, truncate: true });
      const kept = prepared.features.filter((_, i) => i !== weakest).map((g) => g.text);
      const editedValues = edited.features.map((g) => g.attribution);
      if (editedValues.length === kept.length) inputEdit = spearman(values.filter((_, i) => i !== weakest), editedValues);
    } catch {
      inputEdit = null;
    }
  }
  let seeds: number | null = null;
  if (METHODS[method].sampling) {
    const other = await explainText(model, { text: example.text, method, params, seed: config.seed + 1, baseline: config.baseline, granularity: config.granularity, truncate: true }, { prepared });
    seeds = spearman(values, other.features.map((g) => g.attribution));
  }
  return { inputEdit, seeds };
}

/** Complete JSONL records of a results file; a partial last line (a run killed mid-write) is dropped and cut off. */
export function readRecords(file: string, repair = false): FidelityRecord[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const records: FidelityRecord[] = [];
  let goodEnd = 0;
  let offset = 0;
  for (const line of text.split('\n')) {
    const end = offset + Buffer.byteLength(line) + 1;
    if (line.trim()) {
      try {
        const r = JSON.parse(line);
        if (r.schema === RECORD_SCHEMA) {
          records.push(r);
          goodEnd = Math.min(end, Buffer.byteLength(text));
        }
      } catch {
        break;
      }
    } else goodEnd = Math.min(end, Buffer.byteLength(text));
    offset = end;
  }
  if (repair && goodEnd < Buffer.byteLength(text)) fs.truncateSync(file, goodEnd);
  return records;
}

export type MetricName = (typeof METRICS)[number]['name'];

/** Leaderboard metrics: name, how to read it from a record, and which direction is better. */
export const METRICS = [
  { name: 'comprehensiveness', better: 'higher', read: (r: FidelityRecord) => r.faithfulness.aopcComprehensiveness },
  { name: 'sufficiency', better: 'lower', read: (r: FidelityRecord) => r.faithfulness.aopcSufficiency },
  { name: 'naopc-comprehensiveness', better: 'higher', read: (r: FidelityRecord) => r.faithfulness.naopcComprehensiveness },
  { name: 'naopc-sufficiency', better: 'lower', read: (r: FidelityRecord) => r.faithfulness.naopcSufficiency },
  { name: 'soft-comprehensiveness', better: 'higher', read: (r: FidelityRecord) => r.faithfulness.softComprehensiveness },
  { name: 'soft-sufficiency', better: 'lower', read: (r: FidelityRecord) => r.faithfulness.softSufficiency },
  { name: 'deletion-auc', better: 'lower', read: (r: FidelityRecord) => r.faithfulness.deletionAuc },
  { name: 'insertion-auc', better: 'higher', read: (r: FidelityRecord) => r.faithfulness.insertionAuc },
  { name: 'token-f1', better: 'higher', read: (r: FidelityRecord) => r.plausibility?.tokenF1 ?? null },
  { name: 'iou-f1', better: 'higher', read: (r: FidelityRecord) => r.plausibility?.iouMatch ?? null },
  { name: 'auprc', better: 'higher', read: (r: FidelityRecord) => r.plausibility?.auprc ?? null },
  { name: 'topk-recovery', better: 'higher', read: (r: FidelityRecord) => r.recovery ?? null },
  { name: 'stability-edit', better: 'higher', read: (r: FidelityRecord) => r.stability?.inputEdit ?? null },
  { name: 'stability-seed', better: 'higher', read: (r: FidelityRecord) => r.stability?.seeds ?? null },
] as const;

export type { Estimate };
export { bootstrap };

export interface LeaderboardRow {
  method: string;
  examples: number;
  forwardPasses: number;
  metrics: Partial<Record<MetricName, Estimate>>;
  /** Mean curves on a common grid of 21 points of [0, 1]. */
  curves: { deletion: number[]; insertion: number[] };
}

export interface Leaderboard {
  schema: typeof LEADERBOARD_SCHEMA;
  models: string[];
  rows: LeaderboardRow[];
  randomization?: RandomizationRow[];
}

function resample(curve: readonly number[], points = 21): number[] {
  return Array.from({ length: points }, (_, i) => {
    const x = (i / (points - 1)) * (curve.length - 1);
    const lo = Math.floor(x);
    const hi = Math.min(curve.length - 1, lo + 1);
    return curve[lo] + (curve[hi] - curve[lo]) * (x - lo);
  });
}

/** Merge records (from any number of shards; duplicates by key count once) into one leaderboard. */
export function leaderboard(records: FidelityRecord[], seed = 0): Leaderboard {
  const unique = new Map(records.map((r) => [r.key, r]));
  const byMethod = new Map<string, FidelityRecord[]>();
  for (const r of unique.values()) byMethod.set(r.method, [...(byMethod.get(r.method) ?? []), r]);
  const rows: LeaderboardRow[] = [...byMethod.entries()].map(([method, rs]) => {
    const metrics: LeaderboardRow['metrics'] = {};
    for (const m of METRICS) {
      const values = rs.map(m.read).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (values.length) metrics[m.name] = bootstrap(values, seed);
    }
    const mean = (curves: number[][]) => curves[0].map((_, i) => curves.reduce((s, c) => s + c[i], 0) / curves.length);
    return {
      method,
      examples: rs.length,
      forwardPasses: rs.reduce((s, r) => s + r.forwardPasses, 0),
      metrics,
      curves: { deletion: mean(rs.map((r) => resample(r.curves.deletion))), insertion: mean(rs.map((r) => resample(r.curves.insertion))) },
    };
  });
  rows.sort((a, b) => (b.metrics.comprehensiveness?.mean ?? -Infinity) - (a.metrics.comprehensiveness?.mean ?? -Infinity));
  return { schema: LEADERBOARD_SCHEMA, models: [...new Set([...unique.values()].map((r) => r.model))], rows };
}

export interface Threshold {
  method: string | null;
  metric: MetricName;
  bound: 'min' | 'max';
  value: number;
}

export function parseThreshold(raw: string, bound: 'min' | 'max'): Threshold {
  const m = /^(?:([\w-]+):)?([\w-]+)=(-?[\d.]+(?:e-?\d+)?)$/.exec(raw.trim());
  if (!m) throw usageError(`--${bound} must look like METRIC=VALUE or METHOD:METRIC=VALUE, got '${raw}'`);
  const metric = m[2] as MetricName;
  if (!METRICS.some((x) => x.name === metric)) throw usageError(`unknown metric '${m[2]}' in --${bound}; choose one of ${METRICS.map((x) => x.name).join(', ')}`);
  return { method: m[1] ?? null, metric, bound, value: Number(m[3]) };
}

/** Every (method, threshold) pair not met, as one readable line each. */
export function checkThresholds(board: Leaderboard, thresholds: Threshold[]): string[] {
  const misses: string[] = [];
  for (const t of thresholds) {
    const rows = board.rows.filter((r) => t.method === null || r.method === t.method);
    if (t.method && rows.length === 0) misses.push(`${t.method}: no results to check ${t.metric} against`);
    for (const r of rows) {
      const e = r.metrics[t.metric];
      if (!e) {
        misses.push(`${r.method}: ${t.metric} was not measured`);
        continue;
      }
      if (t.bound === 'min' && e.mean < t.value) misses.push(`${r.method}: ${t.metric} ${e.mean.toFixed(4)} < ${t.value} (short by ${(t.value - e.mean).toFixed(4)})`);
      if (t.bound === 'max' && e.mean > t.value) misses.push(`${r.method}: ${t.metric} ${e.mean.toFixed(4)} > ${t.value} (over by ${(e.mean - t.value).toFixed(4)})`);
    }
  }
  return misses;
}

export interface RandomizationRow {
  method: string;
  /** Cumulative: every group up to and including this one is randomised. */
  step: string;
  spearman: Estimate;
}

/**
 * The model-randomisation test (Adebayo et al. 2018), cascading from the output down: randomise the
 * head, then each layer from the top, then the embeddings, each on top of the last, and measure the
 * rank correlation of each method's attributions with those of the trained model. A method whose
 * attributions stay correlated is not explaining the model.
 */
export async function randomizationCascade(model: Model, examples: Example[], config: FidelityConfig): Promise<RandomizationRow[]> {
  const proto = readGraph(model);
  const groups = weightGroups(proto);
  const originals = new Map<string, number[]>();
  const targets = new Map<string, Prepared['target']>();
  for (const example of examples) {
    const prepared = await prepare(model, { text: example.text, method: config.methods[0], baseline: config.baseline, granularity: config.granularity, truncate: true, target: { score: config.score } });
    targets.set(example.id, prepared.target);
    for (const method of config.methods) {
      const own = Object.fromEntries(Object.entries(config.params).filter(([k]) => k in METHODS[method].params));
      const a = await explainText(model, { text: example.text, method, params: own, seed: config.seed }, { prepared });
      originals.set(`${example.id}|${method}`, a.features.map((f) => f.attribution));
    }
  }
  const rows: RandomizationRow[] = [];
  const randomized = new Set<string>();
  const rng = new Rng(config.seed + 1);
  for (const group of groups) {
    // Cumulative: every group so far is randomised again, on top of the trained weights.
    for (const name of group.initializers) randomized.add(name);
    const broken = await withGraph(model, randomizeInitializers(proto, randomized, rng));
    const correlations = new Map<string, number[]>();
    for (const example of examples) {
      const encoding = encodeText(model, example.text, { truncate: true });
      // Explain the class the trained model predicted, so that only the weights change.
      const prepared = await prepareEncoded(broken, encoding, targets.get(example.id)!, { baseline: config.baseline, granularity: config.granularity });
      for (const method of config.methods) {
        const own = Object.fromEntries(Object.entries(config.params).filter(([k]) => k in METHODS[method].params));
        const a = await explainText(broken, { text: example.text, method, params: own, seed: config.seed }, { prepared });
        const rho = spearman(originals.get(`${example.id}|${method}`)!, a.features.map((f) => f.attribution));
        correlations.set(method, [...(correlations.get(method) ?? []), Number.isFinite(rho) ? rho : 0]);
      }
    }
    for (const [method, values] of correlations) rows.push({ method, step: group.name, spearman: bootstrap(values, config.seed) });
  }
  return rows;
}
