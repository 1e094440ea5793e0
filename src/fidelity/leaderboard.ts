import { usageFault } from '../errors.js';
import { METHODS } from '../methods/registry.js';
import { bootstrap, type Estimate } from '../util/stats.js';
import type { FidelityRecord } from './types.js';
import type { RandomizationRow } from './randomization.js';

export const LEADERBOARD_SCHEMA = 'interp/fidelity@1';

export type MetricName = (typeof METRICS)[number]['name'];

/** Leaderboard metrics: name, how to read it from a record, and which direction is better. */
export const METRICS = [
  {
    name: 'comprehensiveness',
    better: 'higher',
    read: (r: FidelityRecord) => r.faithfulness.aopcComprehensiveness,
  },
  { name: 'sufficiency', better: 'lower', read: (r: FidelityRecord) => r.faithfulness.aopcSufficiency },
  {
    name: 'naopc-comprehensiveness',
    better: 'higher',
    read: (r: FidelityRecord) => r.faithfulness.naopcComprehensiveness,
  },
  {
    name: 'naopc-sufficiency',
    better: 'lower',
    read: (r: FidelityRecord) => r.faithfulness.naopcSufficiency,
  },
  {
    name: 'soft-comprehensiveness',
    better: 'higher',
    read: (r: FidelityRecord) => r.faithfulness.softComprehensiveness,
  },
  { name: 'soft-sufficiency', better: 'lower', read: (r: FidelityRecord) => r.faithfulness.softSufficiency },
  { name: 'deletion-auc', better: 'lower', read: (r: FidelityRecord) => r.faithfulness.deletionAuc },
  { name: 'insertion-auc', better: 'higher', read: (r: FidelityRecord) => r.faithfulness.insertionAuc },
  { name: 'token-f1', better: 'higher', read: (r: FidelityRecord) => r.plausibility?.tokenF1 ?? null },
  { name: 'iou-f1', better: 'higher', read: (r: FidelityRecord) => r.plausibility?.iouMatch ?? null },
  { name: 'auprc', better: 'higher', read: (r: FidelityRecord) => r.plausibility?.auprc ?? null },
  { name: 'topk-recovery', better: 'higher', read: (r: FidelityRecord) => r.recovery ?? null },
  { name: 'stability-edit', better: 'higher', read: (r: FidelityRecord) => r.stability?.inputEdit ?? null },
  { name: 'stability-seed', better: 'higher', read: (r: FidelityRecord) => r.stability?.seeds ?? null },
  // --robustness: the top-k share left after the adversary, the share of examples it broke, and the random control.
  { name: 'robustness-topk', better: 'higher', read: (r: FidelityRecord) => r.robustness?.topK ?? null },
  {
    name: 'robustness-broken',
    better: 'lower',
    read: (r: FidelityRecord) => (r.robustness ? (r.robustness.broken ? 1 : 0) : null),
  },
  { name: 'robustness-edits', better: 'higher', read: (r: FidelityRecord) => r.robustness?.edits ?? null },
  { name: 'robustness-random-topk', better: 'higher', read: (r: FidelityRecord) => r.robustness?.randomTopK ?? null },
] as const;

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

/**
 * Records in one order whatever order they were read in (shards, resumed runs, retried array tasks): by
 * example (numerically where ids are numbers), then method, model and key. The bootstrap resamples in this
 * order, so n merged shards give the bytes of one run.
 */
const canonical = (a: FidelityRecord, b: FidelityRecord) =>
  a.example.localeCompare(b.example, 'en', { numeric: true }) ||
  a.method.localeCompare(b.method) ||
  a.model.localeCompare(b.model) ||
  (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Merge records (from any number of shards; duplicates by key count once) into one leaderboard. */
export function leaderboard(records: FidelityRecord[], seed = 0): Leaderboard {
  const unique = new Map([...records].sort(canonical).map((r) => [r.key, r]));
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
      curves: {
        deletion: mean(rs.map((r) => resample(r.curves.deletion))),
        insertion: mean(rs.map((r) => resample(r.curves.insertion))),
      },
    };
  });
  rows.sort(
    (a, b) =>
      (b.metrics.comprehensiveness?.mean ?? -Infinity) - (a.metrics.comprehensiveness?.mean ?? -Infinity) ||
      a.method.localeCompare(b.method),
  );
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
  if (!m) throw usageFault(bound, `{param} must look like METRIC=VALUE or METHOD:METRIC=VALUE, got '${raw}'`);
  const metric = m[2] as MetricName;
  if (!METRICS.some((x) => x.name === metric))
    throw usageFault(
      bound,
      `unknown metric '${m[2]}' in {param}; choose one of ${METRICS.map((x) => x.name).join(', ')}`,
    );
  return { method: m[1] ?? null, metric, bound, value: Number(m[3]) };
}

/**
 * Every (method, threshold) pair not met, as one readable line each. A threshold without a method gates the
 * explanation methods only: control methods (`random`) are there to be beaten, never to pass.
 */
export function checkThresholds(board: Leaderboard, thresholds: Threshold[]): string[] {
  const misses: string[] = [];
  const gated = (method: string) => METHODS[method]?.family !== 'control';
  for (const t of thresholds) {
    const rows = board.rows.filter((r) => (t.method === null ? gated(r.method) : r.method === t.method));
    if (t.method && rows.length === 0) misses.push(`${t.method}: no results to check ${t.metric} against`);
    for (const r of rows) {
      const e = r.metrics[t.metric];
      if (!e) {
        misses.push(`${r.method}: ${t.metric} was not measured`);
        continue;
      }
      if (t.bound === 'min' && e.mean < t.value)
        misses.push(
          `${r.method}: ${t.metric} ${e.mean.toFixed(4)} < ${t.value} (short by ${(t.value - e.mean).toFixed(4)})`,
        );
      if (t.bound === 'max' && e.mean > t.value)
        misses.push(
          `${r.method}: ${t.metric} ${e.mean.toFixed(4)} > ${t.value} (over by ${(e.mean - t.value).toFixed(4)})`,
        );
    }
  }
  return misses;
}
