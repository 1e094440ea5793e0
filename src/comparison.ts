import type { Summary } from './summary/claims.js';
import { usageFault } from './errors.js';
import { explainText, prepare, type Attribution, type ExplainRequest, type Prepared } from './explain.js';
import { methodNamed } from './methods/config.js';
import type { Model } from './model/types.js';
import { RunContext } from './runtime/context.js';
import { spearman } from './util/stats.js';

export const COMPARISON_SCHEMA = 'interp/comparison@1';

/** Several methods on one input, side by side, with the Spearman correlation of every pair. */
export interface Comparison {
  schema: typeof COMPARISON_SCHEMA;
  methods: string[];
  /** [method, method] rank correlations of the attributions. */
  correlations: number[][];
  results: Attribution[];
  /** With --summary: the result in words, each claim checked. */
  summary?: Summary;
}

/** Explain one input with each method, preparing the input (target, reference scores) once. */
export async function compareMethods(
  model: Model,
  request: ExplainRequest,
  methods: readonly string[],
  /** The input prepared already (with the token baseline where perturbation methods are among `methods`). */
  prepared?: Prepared,
): Promise<Comparison> {
  if (methods.length < 2)
    throw usageFault('compare', '{param} needs at least two methods, e.g. {param} occlusion,kernel-shap');
  const tokenBaseline = methods.some((m) => methodNamed(m).family !== 'gradient');
  const run = new RunContext();
  prepared ??= await prepare(model, { ...request, method: methods[0] }, { run, tokenBaseline });
  const results: Attribution[] = [];
  for (const method of methods) results.push(await explainText(model, { ...request, method }, { prepared, run }));
  const values = results.map((r) => r.features.map((f) => f.attribution));
  return {
    schema: COMPARISON_SCHEMA,
    methods: [...methods],
    correlations: values.map((a) => values.map((b) => spearman(a, b))),
    results,
  };
}
