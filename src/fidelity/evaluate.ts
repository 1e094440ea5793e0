import type { Example } from '../data/datasets.js';
import { InterpError } from '../errors.js';
import { explainText, prepare, preparedScorer, type Prepared } from '../explain.js';
import { methodNamed } from '../methods/config.js';
import { faithfulness, plausibility, topKPrecision } from '../metrics/faithfulness.js';
import type { Model } from '../model/types.js';
import { RunContext, withinCall } from '../runtime/context.js';
import { spearman } from '../util/stats.js';
import { attackExplanation } from '../robustness/attack.js';
import { RECORD_SCHEMA, type FidelityConfig, type FidelityRecord } from './types.js';

/** What makes two records the same unit of work: resume skips keys already in --out. */
export function recordKey(model: string, example: string, method: string, config: FidelityConfig): string {
  const m = methodNamed(method);
  const own: [string, number | string][] = Object.entries(config.params).filter(([k]) => k in m.params);
  own.push(...Object.entries(config.choices).filter(([k]) => k in (m.choices ?? {})));
  return JSON.stringify([
    model,
    example,
    method,
    own.sort(),
    config.baseline ?? 'default',
    config.granularity,
    config.score ?? 'probability',
    config.seed,
    config.stability,
    // Robustness settings join the key only when asked for: keys of records without them stay as they were.
    ...(config.robustness ? [robustnessKey(config.robustness)] : []),
  ]);
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

/**
 * Explain one example with every configured method and measure each explanation: one call of its own, so
 * that its records (pass counts included) are the same whichever examples ran before it, and wherever.
 */
export function evaluateExample(...args: Parameters<typeof evaluateCalled>): Promise<FidelityRecord[]> {
  return withinCall(RunContext.call(), () => evaluateCalled(...args));
}

async function evaluateCalled(
  model: Model,
  modelName: string,
  example: Example,
  config: FidelityConfig,
  skip: ReadonlySet<string>,
): Promise<FidelityRecord[]> {
  const todo = config.methods.filter((m) => !skip.has(recordKey(modelName, example.id, m, config)));
  if (todo.length === 0) return [];
  const request = {
    text: example.text,
    method: todo[0],
    baseline: config.baseline,
    granularity: config.granularity,
    truncate: true,
    target: { score: config.score },
  };
  const prepared = await prepare(model, request);
  // Prepared with the token baseline (the default): the deletion metrics need it.
  const baselineScore = prepared.baselineScore!;
  const records: FidelityRecord[] = [];
  // One scorer for every method's metrics: what does not depend on the method (the normalising greedy
  // bounds, the full and empty inputs) runs once per example, and coalitions two methods share run once.
  const { score } = preparedScorer(model, prepared);
  for (const method of todo) {
    const attribution = await explainText(
      model,
      { ...request, method, params: config.params, choices: config.choices, seed: config.seed },
      { prepared },
    );
    const values = attribution.features.map((f) => f.attribution);
    const n = prepared.features.length;
    const { deletion, insertion, ...scalars } = await faithfulness(score, values, prepared.fullScore, {
      seed: config.seed,
      softSamples: config.softSamples,
      maxNormalise: config.maxNormalise,
    });
    const gold = goldTokens(prepared, example.rationale);
    let stability: FidelityRecord['stability'] = null;
    if (config.stability) stability = await stabilityOf(model, example, method, config, prepared, values);
    const methodRequest = { ...request, method, params: config.params, choices: config.choices, seed: config.seed };
    const robustness = config.robustness
      ? await attackExplanation(model, methodRequest, attribution, config.robustness)
      : undefined;
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
      ...(robustness && { robustness }),
    });
  }
  return records;
}

/** What of the attack settings changes its result: the proposer by kind and file, not by its loaded model. */
function robustnessKey(s: NonNullable<FidelityConfig['robustness']>) {
  const proposer =
    s.proposer.kind === 'list'
      ? `list:${s.proposer.file}`
      : s.proposer.kind === 'mlm'
        ? `mlm:${s.proposer.model.id}`
        : s.proposer.kind;
  return { ...s, proposer };
}

/**
 * Rank correlation of the attributions (a) after deleting the feature with the smallest |attribution|
 * from the text, on the features that remain; (b) for sampling methods, under another seed.
 */
async function stabilityOf(
  model: Model,
  example: Example,
  method: string,
  config: FidelityConfig,
  prepared: Prepared,
  values: number[],
) {
  const { params, choices } = config;
  let inputEdit: number | null = null;
  if (prepared.features.length >= 3) {
    const weakest = values.map((v, i) => [Math.abs(v), i]).sort((a, b) => a[0] - b[0] || a[1] - b[1])[0][1];
    const f = prepared.features[weakest];
    const text = (example.text.slice(0, f.start) + example.text.slice(f.end)).replace(/\s+/g, ' ').trim();
    try {
      const edited = await explainText(model, {
        text,
        method,
        params,
        choices,
        seed: config.seed,
        baseline: config.baseline,
        granularity: config.granularity,
        target: { target: prepared.target.name, score: config.score },
        truncate: true,
      });
      const kept = prepared.features.filter((_, i) => i !== weakest).map((g) => g.text);
      const editedValues = edited.features.map((g) => g.attribution);
      if (editedValues.length === kept.length)
        inputEdit = spearman(
          values.filter((_, i) => i !== weakest),
          editedValues,
        );
    } catch (e) {
      // An edit can leave a text with nothing to attribute: no stability score then. Anything else is a fault.
      if (!(e instanceof InterpError && e.kind === 'usage')) throw e;
    }
  }
  let seeds: number | null = null;
  if (methodNamed(method).sampling) {
    const other = await explainText(
      model,
      {
        text: example.text,
        method,
        params,
        choices,
        seed: config.seed + 1,
        baseline: config.baseline,
        granularity: config.granularity,
        truncate: true,
      },
      { prepared },
    );
    seeds = spearman(
      values,
      other.features.map((g) => g.attribution),
    );
  }
  return { inputEdit, seeds };
}
