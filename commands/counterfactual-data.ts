import { evaluateCounterfactuals } from '../src/counterfactual/dataset.js';
import type { CounterfactualRequest } from '../src/counterfactual/report.js';
import type { Example } from '../src/data/datasets.js';
import type { Model } from '../src/model/types.js';
import { evaluationTable } from '../src/render/counterfactual.js';
import { outOf, type DataFlags } from './data.js';
import { emit, progressSpinner, warnOrRefuse, type OutputFlags } from './output.js';

/** `counterfactual --data`: the dataset figures and the decision boundary. */
export async function evaluate(
  model: Model,
  examples: Example[],
  request: Omit<CounterfactualRequest, 'text'>,
  flags: OutputFlags & DataFlags & { out?: string },
): Promise<void> {
  const progress = progressSpinner('counterfactuals', 'examples');
  const report = await evaluateCounterfactuals(model, examples, request, {
    out: outOf(flags),
    onProgress: progress.count,
  }).finally(progress.stop);
  warnOrRefuse(report.warnings);
  await emit(flags, report, { table: evaluationTable });
}
