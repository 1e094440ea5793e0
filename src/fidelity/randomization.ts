import type { Example } from '../data/datasets.js';
import { explainText, prepare, prepareEncoded, type Prepared } from '../explain.js';
import { readGraph, withGraph } from '../model/load.js';
import type { Model } from '../model/types.js';
import { randomizeInitializers, weightGroups } from '../onnx/randomize.js';
import { encodeText } from '../text/encode.js';
import { Rng } from '../util/rng.js';
import { bootstrap, spearman, type Estimate } from '../util/stats.js';
import type { FidelityConfig } from './types.js';

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
export async function randomizationCascade(
  model: Model,
  examples: Example[],
  config: FidelityConfig,
): Promise<RandomizationRow[]> {
  const proto = readGraph(model);
  const groups = weightGroups(proto);
  const originals = new Map<string, number[]>();
  const targets = new Map<string, Prepared['target']>();
  for (const example of examples) {
    const prepared = await prepare(model, {
      text: example.text,
      method: config.methods[0],
      baseline: config.baseline,
      granularity: config.granularity,
      truncate: true,
      target: { score: config.score },
    });
    targets.set(example.id, prepared.target);
    for (const method of config.methods) {
      const a = await explainText(
        model,
        { text: example.text, method, params: config.params, choices: config.choices, seed: config.seed },
        { prepared },
      );
      originals.set(
        `${example.id}|${method}`,
        a.features.map((f) => f.attribution),
      );
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
      const prepared = await prepareEncoded(broken, encoding, targets.get(example.id)!, {
        baseline: config.baseline,
        granularity: config.granularity,
      });
      for (const method of config.methods) {
        const a = await explainText(
          broken,
          { text: example.text, method, params: config.params, choices: config.choices, seed: config.seed },
          { prepared },
        );
        const rho = spearman(
          originals.get(`${example.id}|${method}`)!,
          a.features.map((f) => f.attribution),
        );
        correlations.set(method, [...(correlations.get(method) ?? []), Number.isFinite(rho) ? rho : 0]);
      }
    }
    for (const [method, values] of correlations)
      rows.push({ method, step: group.name, spearman: bootstrap(values, config.seed) });
  }
  return rows;
}
