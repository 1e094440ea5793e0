import { usageError } from '../errors.js';
import type { Model } from '../model/types.js';
import { logitRows, tokenName } from '../target/target.js';
import { encodeText } from '../text/encode.js';
import { argmax, softmax } from '../util/maths.js';

/**
 * What a test reads from the model for each text: the predicted label (or top next token) and the
 * probability of the test's target. Every text of the suite runs once, in batches.
 */
export interface Reading {
  /** The arg-max label (classifier) or next token (causal LM). */
  top: string;
  /** Probability of the scored label or token. */
  score: number;
  /** Probability of every label (classifier) or of the top token. */
  probs: number[];
}

export interface ScoreTarget {
  /** A label name (classifier) or a token's text (causal LM). */
  name: string;
  index: number;
}

/** The label or token a test scores: its own `target`, the suite's, the label it expects, or the last label. */
export function scoreTarget(model: Model, wanted: string | undefined): ScoreTarget {
  if (model.task === 'classification') {
    const labels = model.labels ?? [];
    const name = wanted ?? labels[labels.length - 1];
    const index = labels.indexOf(name);
    if (index < 0) throw usageError(`target '${name}' is not a label of ${model.id} (${labels.join(', ')})`);
    return { name, index };
  }
  if (model.task === 'masked-lm')
    throw usageError(`interp test runs classifiers and causal LMs; ${model.id} is a masked LM`);
  if (!wanted) throw usageError('a causal LM needs a target token: give the suite or the test a target');
  const ids = model.tokenizer.encode(wanted, { add_special_tokens: false });
  if (!ids.length) throw usageError(`target '${wanted}' encodes to no token`);
  return { name: wanted, index: ids[0] };
}

/** The model's reading of every distinct text, in batches: text → probabilities and the top class. */
export async function readTexts(model: Model, texts: Iterable<string>): Promise<Map<string, Float64Array>> {
  const distinct = [...new Set(texts)];
  const rows = await logitRows(
    model,
    distinct.map((t) => encodeText(model, t, { truncate: true }).ids),
  );
  return new Map(distinct.map((t, i) => [t, softmax(rows[i])]));
}

/** One text's reading for one target. */
export function readingOf(model: Model, probs: Float64Array, target: ScoreTarget): Reading {
  const top = argmax(probs);
  return {
    top: model.task === 'classification' ? model.labels![top] : tokenName(model, top),
    score: probs[target.index],
    probs: model.task === 'classification' ? [...probs] : [probs[top]],
  };
}
