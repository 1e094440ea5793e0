import type { Example } from '../data/datasets.js';
import { usageFault } from '../errors.js';
import { explainText } from '../explain.js';
import type { Model } from '../model/types.js';
import { logitRows } from '../target/target.js';
import { encodeText } from '../text/encode.js';
import { wordsOf } from '../text/words.js';
import { argmax } from '../util/maths.js';
import { Rng } from '../util/rng.js';
import { bootstrap, spearman, type Estimate } from '../util/stats.js';
import {
  fitSparseLogistic,
  fitTree,
  lambdaMax,
  logit,
  treePredict,
  treeText,
  type SparseLogistic,
  type SparseRows,
} from './distil.js';

export const SURROGATE_SCHEMA = 'interp/surrogate@1';

export interface SurrogateRequest {
  train: Example[];
  /** Examples to measure on; without them, a seeded `holdout` share of `train` is held out. */
  evaluation?: Example[];
  holdout: number;
  bigrams: boolean;
  minCount: number;
  maxFeatures: number;
  /** A decision tree of this depth besides the linear model. */
  tree?: number;
  /** Global attribution: mean |attribution| of each word over this many examples, with this method. */
  method: string;
  explain: number;
  top: number;
  seed: number;
}

export interface SurrogateReport {
  schema: typeof SURROGATE_SCHEMA;
  model: string;
  labels: [string, string];
  examples: { train: number; evaluation: number };
  features: number;
  lambda: number;
  nonZero: number;
  /** Agreement with the model's own predictions on the evaluation examples. */
  fidelity: Estimate;
  /**
   * The majority-class baseline: always answer the label the model gives most often on the training
   * examples. A fidelity no higher than its agreement means the surrogate learned nothing beyond the label mix.
   */
  majority: { label: string; fidelity: Estimate };
  /** Whether the linear surrogate's fidelity is above the majority baseline's. */
  beatsMajority: boolean;
  /** Against gold labels, where the data has them: the surrogate's and the model's. */
  accuracy: { surrogate: Estimate; model: Estimate } | null;
  top: { feature: string; weight: number }[];
  tree: { depth: number; fidelity: Estimate; beatsMajority: boolean; text: string } | null;
  globalAttribution: {
    method: string;
    examples: number;
    words: { word: string; meanAbsAttribution: number; weight: number }[];
    /** Spearman between mean |attribution| and |surrogate weight| over the words both have. */
    spearman: number | null;
  } | null;
  seed: number;
}

const featuresOf = (text: string, bigrams: boolean): string[] => {
  const words = wordsOf(text.toLowerCase())
    .map((w) => w.text)
    .filter((w) => /[\p{L}\p{N}]/u.test(w));
  return bigrams ? [...words, ...words.slice(1).map((w, i) => `${words[i]} ${w}`)] : words;
};

/** The model's predicted label index for each text. */
async function predictions(model: Model, examples: Example[]): Promise<number[]> {
  const rows = await logitRows(
    model,
    examples.map((e) => encodeText(model, e.text, { truncate: true }).ids),
  );
  return rows.map((r) => argmax(r));
}

function vocabulary(texts: string[], r: SurrogateRequest): string[] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const f of new Set(featuresOf(t, r.bigrams))) counts.set(f, (counts.get(f) ?? 0) + 1);
  return [...counts]
    .filter(([, c]) => c >= r.minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, r.maxFeatures)
    .map(([f]) => f);
}

function encodeRows(texts: string[], index: Map<string, number>, bigrams: boolean): SparseRows {
  return texts.map((t) =>
    Int32Array.from(new Set(featuresOf(t, bigrams).flatMap((f) => (index.has(f) ? [index.get(f)!] : [])))).sort(),
  );
}

/** A path of penalties from λmax down, warm-started; the one that agrees best with the model on a validation slice. */
function fitPath(rows: SparseRows, y: number[], p: number, seed: number): { model: SparseLogistic; lambda: number } {
  const order = new Rng(seed).permutation(rows.length);
  const cut = Math.floor(rows.length * 0.8);
  const [fitIdx, valIdx] = [order.slice(0, cut), order.slice(cut)];
  const top = lambdaMax(rows, y, p);
  let current: SparseLogistic | undefined;
  let best = { agreement: -1, lambda: top };
  for (let k = 1; k <= 12; k++) {
    const lambda = top * 10 ** (-k / 4);
    current = fitSparseLogistic(
      fitIdx.map((i) => rows[i]),
      fitIdx.map((i) => y[i]),
      p,
      lambda,
      current,
    );
    const m = current;
    const agreement = valIdx.filter((i) => (logit(m, rows[i]) >= 0 ? 1 : 0) === y[i]).length / valIdx.length;
    if (agreement > best.agreement + 1e-9) best = { agreement, lambda };
  }
  return { model: fitSparseLogistic(rows, y, p, best.lambda), lambda: best.lambda };
}

function split(r: SurrogateRequest): { train: Example[]; evaluation: Example[] } {
  if (r.evaluation) return { train: r.train, evaluation: r.evaluation };
  const order = new Rng(r.seed).permutation(r.train.length);
  const cut = Math.round(r.train.length * (1 - r.holdout));
  return { train: order.slice(0, cut).map((i) => r.train[i]), evaluation: order.slice(cut).map((i) => r.train[i]) };
}

async function globalAttribution(
  model: Model,
  r: SurrogateRequest,
  evaluation: Example[],
  weights: Map<string, number>,
  positive: string,
) {
  if (r.explain === 0) return null;
  const sums = new Map<string, { total: number; count: number }>();
  const sample = evaluation.slice(0, r.explain);
  for (const e of sample) {
    const a = await explainText(model, {
      text: e.text,
      method: r.method,
      granularity: 'word',
      target: { target: positive, score: 'log-odds' },
      seed: r.seed,
      truncate: true,
    });
    for (const f of a.features) {
      const word = f.text.toLowerCase();
      if (!/[\p{L}\p{N}]/u.test(word)) continue;
      const s = sums.get(word) ?? { total: 0, count: 0 };
      s.total += Math.abs(f.attribution);
      s.count++;
      sums.set(word, s);
    }
  }
  const words = [...sums]
    .filter(([w]) => weights.has(w))
    .map(([word, s]) => ({ word, meanAbsAttribution: s.total / s.count, weight: weights.get(word)! }))
    .sort((a, b) => b.meanAbsAttribution - a.meanAbsAttribution);
  const rho =
    words.length >= 3
      ? spearman(
          words.map((w) => w.meanAbsAttribution),
          words.map((w) => Math.abs(w.weight)),
        )
      : null;
  return { method: r.method, examples: sample.length, words: words.slice(0, r.top), spearman: rho };
}

const agreement = (a: number[], b: number[], seed: number) =>
  bootstrap(
    a.map((v, i) => (v === b[i] ? 1 : 0)),
    seed,
  );

/** The tree's fidelity beside the majority baseline, and its text. */
function treeSummary(
  tree: ReturnType<typeof fitTree>,
  r: SurrogateRequest,
  rowsEval: Int32Array[],
  yEval: number[],
  c: { names: string[]; labels: [string, string]; majority: { fidelity: Estimate } },
): NonNullable<SurrogateReport['tree']> {
  const fidelity = agreement(
    rowsEval.map((row) => treePredict(tree, row)),
    yEval,
    r.seed,
  );
  const beatsMajority = fidelity.mean > c.majority.fidelity.mean;
  return { depth: r.tree!, fidelity, beatsMajority, text: treeText(tree, c.names, c.labels) };
}

/** Always the label the model gives most often in training: its agreement with the model on evaluation. */
function majorityOf(labels: string[], yTrain: number[], yEval: number[], seed: number) {
  const most = 2 * yTrain.filter((y) => y === 1).length > yTrain.length ? 1 : 0;
  return {
    label: labels[most],
    fidelity: agreement(
      yEval.map(() => most),
      yEval,
      seed,
    ),
  };
}

/** Against gold labels, where the data has them: the surrogate's accuracy beside the model's own. */
function accuracyOf(labels: string[], evaluation: Example[], predicted: number[], model: number[], seed: number) {
  const gold = evaluation.map((e) =>
    e.label === undefined ? -1 : labels.findIndex((l, i) => l === e.label || String(i) === e.label),
  );
  const labelled = gold.map((g, i) => i).filter((i) => gold[i] >= 0);
  if (labelled.length === 0) return null;
  const pick = (xs: number[]) => labelled.map((i) => xs[i]);
  return { surrogate: agreement(pick(predicted), pick(gold), seed), model: agreement(pick(model), pick(gold), seed) };
}

/**
 * Distil a two-label classifier into a sparse logistic regression over words (and bigrams), trained on the
 * model's own predictions, and measure how often it agrees with the model on examples it did not see.
 */
export async function surrogateReport(model: Model, r: SurrogateRequest): Promise<SurrogateReport> {
  if (model.task !== 'classification' || (model.labels?.length ?? 0) !== 2)
    throw usageFault('model', `surrogate distils two-label classifiers; '${model.id}' is not one`);
  const labels = model.labels as [string, string];
  const { train, evaluation } = split(r);
  if (train.length < 10 || evaluation.length < 5)
    throw usageFault(
      'data',
      `{param} gives ${train.length} training and ${evaluation.length} evaluation examples; the surrogate needs at least 10 and 5`,
    );
  const [yTrain, yEval] = [await predictions(model, train), await predictions(model, evaluation)];
  if (new Set(yTrain).size < 2)
    throw usageFault(
      'data',
      `the model predicts ${labels[yTrain[0]]} for every training example: a surrogate needs both labels`,
    );
  const names = vocabulary(
    train.map((e) => e.text),
    r,
  );
  const index = new Map(names.map((f, i) => [f, i]));
  const [rowsTrain, rowsEval] = [
    encodeRows(
      train.map((e) => e.text),
      index,
      r.bigrams,
    ),
    encodeRows(
      evaluation.map((e) => e.text),
      index,
      r.bigrams,
    ),
  ];
  const { model: fitted, lambda } = fitPath(rowsTrain, yTrain, names.length, r.seed);
  const predicted = rowsEval.map((row) => (logit(fitted, row) >= 0 ? 1 : 0));
  const tree = r.tree === undefined ? null : fitTree(rowsTrain, yTrain, names.length, r.tree);
  const weights = new Map(names.map((f, i) => [f, fitted.weights[i]]));
  const fidelity = agreement(predicted, yEval, r.seed);
  const majority = majorityOf(labels, yTrain, yEval, r.seed);
  return {
    schema: SURROGATE_SCHEMA,
    model: model.id,
    labels,
    examples: { train: train.length, evaluation: evaluation.length },
    features: names.length,
    lambda,
    nonZero: fitted.weights.filter((w) => w !== 0).length,
    fidelity,
    majority,
    beatsMajority: fidelity.mean > majority.fidelity.mean,
    accuracy: accuracyOf(labels, evaluation, predicted, yEval, r.seed),
    top: names
      .map((feature, i) => ({ feature, weight: fitted.weights[i] }))
      .filter((f) => f.weight !== 0)
      .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
      .slice(0, r.top),
    tree: tree ? treeSummary(tree, r, rowsEval, yEval, { names, labels, majority }) : null,
    globalAttribution: await globalAttribution(model, r, evaluation, weights, labels[1]),
    seed: r.seed,
  };
}
