import { usageFault } from './errors.js';
import { generateGreedy } from './generate.js';
import type { Model } from './model/types.js';
import { logitRows, tokenName } from './target/target.js';
import { wordDiff } from './text/diff.js';
import { encodeText } from './text/encode.js';
import { argmax, softmax } from './util/maths.js';

export const EXPLORE_SCHEMA = 'interp/explore@1';

export interface ExploreRequest {
  base: string;
  variants: string[];
  /** Next tokens listed per variant (causal LMs). */
  topK: number;
  /** Greedy continuation length (causal LMs); 0: none. */
  generate: number;
}

export interface ExploreRow {
  text: string;
  /** Word diff against the base ([-removed-] {+inserted+}); the base's own row has none. */
  diff: string | null;
  changedWords: number;
  /** Classifier: every label's probability. */
  labels: { label: string; probability: number }[] | null;
  /** Causal LM: the most likely next tokens, with the rank the base's top token has here. */
  next: { token: string; probability: number }[] | null;
  baseTopRank: number | null;
  /** KL(base ‖ this) of the output distributions, in nats. */
  kl: number;
  /** Change in the probability of the base's prediction. */
  shift: number;
  continuation: { text: string; diff: string | null } | null;
}

export interface ExploreReport {
  schema: typeof EXPLORE_SCHEMA;
  model: string;
  task: string;
  prediction: string;
  rows: ExploreRow[];
  /** The variant (index into rows, the base being 0) that moves the prediction most, by KL. */
  mostMoved: number | null;
  forwardPasses: number;
}

const kl = (p: Float64Array, q: Float64Array) =>
  p.reduce((s, pi, i) => (pi > 0 ? s + pi * (Math.log(pi) - Math.log(Math.max(q[i], 1e-30))) : s), 0);

/** Run a base text and its variants side by side: what each predicts, how far it moves from the base, and how its text differs. */
export async function exploreVariants(model: Model, request: ExploreRequest): Promise<ExploreReport> {
  if (request.variants.length === 0)
    throw usageFault('variant', 'give at least one {param} (or {param:variants} FILE)');
  if (model.task !== 'classification' && model.task !== 'causal-lm')
    throw usageFault('model', `explore needs a classifier or a causal LM; '${model.id}' is a ${model.task}`);
  if (request.generate > 0 && model.task !== 'causal-lm')
    throw usageFault('generate', '{param} applies to causal language models');
  const texts = [request.base, ...request.variants];
  const ids = texts.map((t) => encodeText(model, t).ids);
  const probabilities = (await logitRows(model, ids)).map((row) => softmax(row));
  const top = argmax(probabilities[0]);
  const name = (i: number) =>
    model.task === 'classification' ? (model.labels?.[i] ?? String(i)) : tokenName(model, i);
  let passes = texts.length;
  const continuations: string[] = [];
  if (request.generate > 0)
    for (const seq of ids) {
      const generated = await generateGreedy(model, seq, request.generate);
      passes += generated.length;
      continuations.push(model.tokenizer.decode(generated, { skip_special_tokens: true }));
    }
  const rows = texts.map((text, v): ExploreRow => {
    const p = probabilities[v];
    const ranked = [...p.keys()].sort((a, b) => p[b] - p[a]);
    const diff = v === 0 ? null : wordDiff(request.base, text);
    return {
      text,
      diff: diff?.diff ?? null,
      changedWords: diff?.changed ?? 0,
      labels:
        model.task === 'classification' ? [...p].map((probability, i) => ({ label: name(i), probability })) : null,
      next:
        model.task === 'causal-lm'
          ? ranked.slice(0, request.topK).map((i) => ({ token: name(i), probability: p[i] }))
          : null,
      baseTopRank: model.task === 'causal-lm' ? ranked.indexOf(top) + 1 : null,
      kl: kl(probabilities[0], p),
      shift: p[top] - probabilities[0][top],
      continuation:
        request.generate > 0
          ? { text: continuations[v], diff: v === 0 ? null : wordDiff(continuations[0], continuations[v]).diff }
          : null,
    };
  });
  const moved = rows.slice(1).reduce((best, r, i) => (r.kl > rows[best].kl ? i + 1 : best), 1);
  return {
    schema: EXPLORE_SCHEMA,
    model: model.id,
    task: model.task,
    prediction: name(top),
    rows,
    mostMoved: rows.length > 1 ? moved : null,
    forwardPasses: passes,
  };
}
