import { usageError, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { idsAfterPrompt, resolveTarget } from '../target/target.js';
import { encodeText } from '../text/encode.js';
import { collectActivations, corpusLines, type TokenActivations } from './activations.js';
import { chooseK, kMeans, nmf, nonNegativeCodes, pca2, type Points } from './cluster.js';
import { logitLens, type LensResult } from './lens.js';
import { tcav, type TcavResult } from './tcav.js';

export const CLUSTER_SCHEMA = 'interp/concepts-cluster@1';
export const FACTORS_SCHEMA = 'interp/concepts-factors@1';

export interface CorpusRequest {
  /** Corpus file (plain lines, TSV, JSONL), or - for stdin. */
  data: string;
  /** Default: the last layer. */
  layer?: number;
  maxTokens: number;
  top: number;
  seed: number;
}

/** Hidden-state index (cluster) or feed-forward layer (factors); the last one by default. */
async function layerOf(model: Model, layer: number | undefined, source: 'hidden' | 'mlp'): Promise<number> {
  const inst = await model.instrumented();
  return layer ?? (source === 'hidden' ? inst.outputs.hiddenStates.length : inst.outputs.mlp.length) - 1;
}

/** A token in its line, marked: "… the [[film]] was …". */
function context(acts: TokenActivations, i: number, width = 40): string {
  const t = acts.tokens[i];
  const e = acts.lines[t.line];
  const [s, end] = e.offsets[t.position];
  const before = e.text.slice(Math.max(0, s - width), s);
  const after = e.text.slice(end, end + width);
  return `${s > width ? '…' : ''}${before}[[${e.text.slice(s, end)}]]${after}${end + width < e.text.length ? '…' : ''}`.replace(
    /\s+/g,
    ' ',
  );
}

export interface ClusterRow {
  cluster: number;
  size: number;
  topByFrequency: { token: string; count: number }[];
  /** Ranked by `z` (logOddsZ); `lift` is the share in the cluster over the share in the corpus. */
  topByDistinctiveness: { token: string; count: number; lift: number; z: number }[];
  examples: string[];
}

/**
 * How much more a token belongs to a cluster than to the rest of the corpus: the log-odds ratio with a
 * Dirichlet prior of 0.5 per vocabulary entry, over its standard error (Monroe, Colaresi & Quinn 2008).
 * Unlike the raw lift, which ties every token seen only in one cluster, it needs evidence: a token seen
 * twice does not outrank one seen fifty times.
 */
function logOddsZ(inCluster: number, clusterSize: number, inCorpus: number, corpusSize: number, vocab: number): number {
  // A corpus of one distinct token has nothing to contrast it with: its odds are infinite in and out of
  // every cluster, and no token is more distinctive of one cluster than of another.
  if (vocab === 1) return 0;
  const a = 0.5;
  const prior = a * vocab;
  const [y1, n1] = [inCluster, clusterSize];
  const [y2, n2] = [inCorpus - inCluster, corpusSize - clusterSize];
  const delta = Math.log((y1 + a) / (n1 + prior - y1 - a)) - Math.log((y2 + a) / (n2 + prior - y2 - a));
  return delta / Math.sqrt(1 / (y1 + a) + 1 / (y2 + a));
}

/** Per cluster: its most frequent tokens, its most distinctive ones (by log-odds z, see logOddsZ), and example contexts. */
export function describeClusters(
  acts: TokenActivations,
  labels: Int32Array,
  k: number,
  top: number,
  seed: number,
): ClusterRow[] {
  const corpus = new Map<string, number>();
  for (const t of acts.tokens) corpus.set(t.text.toLowerCase(), (corpus.get(t.text.toLowerCase()) ?? 0) + 1);
  return Array.from({ length: k }, (_, c) => {
    const members = acts.tokens.map((_, i) => i).filter((i) => labels[i] === c);
    const counts = new Map<string, number>();
    for (const i of members)
      counts.set(acts.tokens[i].text.toLowerCase(), (counts.get(acts.tokens[i].text.toLowerCase()) ?? 0) + 1);
    const byFrequency = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, top)
      .map(([token, count]) => ({ token, count }));
    const lift = [...counts.entries()]
      .filter(([, n]) => n >= 2)
      .map(([token, count]) => ({
        token,
        count,
        lift: count / members.length / ((corpus.get(token) ?? 1) / acts.n),
        z: logOddsZ(count, members.length, corpus.get(token) ?? count, acts.n, corpus.size),
      }))
      .sort((a, b) => b.z - a.z || b.count - a.count)
      .slice(0, top);
    // Three examples spread over the cluster (deterministic for a seed).
    const step = Math.max(1, Math.floor(members.length / 3));
    const picks = [0, 1, 2]
      .map((j) => members[(j * step + (seed % step)) % Math.max(1, members.length)])
      .filter((x) => x !== undefined);
    return {
      cluster: c,
      size: members.length,
      topByFrequency: byFrequency,
      topByDistinctiveness: lift,
      examples: [...new Set(picks)].map((i) => context(acts, i)),
    };
  });
}

export interface ClusterReport {
  schema: typeof CLUSTER_SCHEMA;
  model: string;
  layer: number;
  k: number;
  silhouette: { k: number; silhouette: number }[] | null;
  tokens: number;
  lines: number;
  inertia: number;
  iterations: number;
  clusters: ClusterRow[];
  labels: number[];
  /** Each cluster's centroid (k × width): a unit for `concepts top --direction FILE --index i`. */
  centroids: number[][];
}

/** A token's place in the first two principal components, for the scatter plot. */
export type ProjectedToken = { x: number; y: number; cluster: string; token: string };

/** k-means over a corpus's token activations at a layer, with `k` given or chosen by silhouette. */
export async function clusterConcepts(
  model: Model,
  request: CorpusRequest & { k: number | 'auto' },
): Promise<{ report: ClusterReport; projection: ProjectedToken[] }> {
  const layer = await layerOf(model, request.layer, 'hidden');
  const acts = await collectActivations(model, corpusLines(request.data), layer, request.maxTokens);
  if (acts.n < 3) throw usageError('the corpus has fewer than 3 tokens to cluster');
  const points: Points = { data: acts.data, n: acts.n, dim: acts.dim };
  if (request.k !== 'auto' && request.k > acts.n)
    throw usageFault(
      'k',
      `{param} ${request.k} asks for more clusters than the ${acts.n} token activations collected; lower it or give more text`,
    );
  const auto = request.k === 'auto' ? chooseK(points, 10, request.seed) : null;
  const result = kMeans(points, auto ? auto.k : (request.k as number), request.seed);
  const pcs = pca2(points, request.seed);
  const projection = Array.from({ length: acts.n }, (_, i) => ({
    x: pcs[2 * i],
    y: pcs[2 * i + 1],
    cluster: String(result.labels[i]),
    token: acts.tokens[i].text,
  }));
  const report: ClusterReport = {
    schema: CLUSTER_SCHEMA,
    model: model.id,
    layer,
    k: result.k,
    silhouette: auto?.scores ?? null,
    tokens: acts.n,
    lines: acts.lines.length,
    inertia: result.inertia,
    iterations: result.iterations,
    clusters: describeClusters(acts, result.labels, result.k, request.top, request.seed),
    labels: Array.from(result.labels),
    centroids: rowsOf(result.centroids, result.k),
  };
  return { report, projection };
}

/** A row-major matrix of `rows` rows as nested arrays. */
const rowsOf = (m: ArrayLike<number>, rows: number): number[][] => {
  const width = m.length / rows;
  return Array.from({ length: rows }, (_, r) => Array.from({ length: width }, (_, j) => m[r * width + j]));
};

export interface FactorsReport {
  schema: typeof FACTORS_SCHEMA;
  model: string;
  layer: number;
  factors: { factor: number; topTokens: { token: string; weight: number }[]; example: string }[];
  reconstructionError: number;
  tokens: number;
  /** Per token of `text`, its weight on each factor. */
  strip: { token: string; factors: number[] }[] | null;
  /** Each factor's component over the feed-forward units (n × width): a unit for `concepts top --direction FILE --index i`. */
  components: number[][];
}

/** NMF of the non-negative part of a layer's feed-forward activations, and optionally one text's per-token factor weights. */
export async function factorConcepts(
  model: Model,
  request: CorpusRequest & { n: number; text?: string },
): Promise<FactorsReport> {
  const { n, top } = request;
  const layer = await layerOf(model, request.layer, 'mlp');
  const acts = await collectActivations(model, corpusLines(request.data), layer, request.maxTokens, 'mlp');
  const { W, H, error } = nmf(
    { data: acts.data.map((x) => Math.max(0, x)), n: acts.n, dim: acts.dim },
    n,
    request.seed,
  );
  const factors = Array.from({ length: n }, (_, f) => {
    const order = Array.from({ length: acts.n }, (_, i) => i).sort((a, b) => W[b * n + f] - W[a * n + f]);
    const seen = new Set<string>();
    const tokens: { token: string; weight: number }[] = [];
    for (const i of order) {
      const tok = acts.tokens[i].text.toLowerCase();
      if (seen.has(tok)) continue;
      seen.add(tok);
      tokens.push({ token: tok, weight: W[i * n + f] });
      if (tokens.length >= top) break;
    }
    return { factor: f, topTokens: tokens, example: context(acts, order[0]) };
  });
  let strip: FactorsReport['strip'] = null;
  if (request.text !== undefined) {
    const single = await collectActivations(
      model,
      (async function* () {
        yield request.text!;
      })(),
      layer,
      10_000,
      'mlp',
    );
    strip = single.tokens.map((t, i) => ({
      token: t.text,
      factors: Array.from(nonNegativeCodes(single.data.subarray(i * single.dim, (i + 1) * single.dim), H, n)),
    }));
  }
  return {
    schema: FACTORS_SCHEMA,
    model: model.id,
    layer,
    factors,
    reconstructionError: error,
    tokens: acts.n,
    strip,
    components: rowsOf(H, n),
  };
}

/** The logit lens on one text, tracking `target` (a label, or one token) or each position's own prediction. */
export async function lensReport(model: Model, text: string, top: number, target?: string): Promise<LensResult> {
  const encoding = encodeText(model, text);
  let tracked: number | null = null;
  if (target !== undefined && model.task === 'classification') {
    tracked = model.labels!.findIndex((l) => l.toLowerCase() === target.toLowerCase());
    if (tracked < 0) throw usageError(`unknown label '${target}'; this model's labels are ${model.labels!.join(', ')}`);
  } else if (target !== undefined) {
    const ids = idsAfterPrompt(model, text, encoding.ids, target);
    if (ids.length !== 1)
      throw usageFault('target', `{param} '${target}' is ${ids.length} tokens; the lens tracks one token`);
    tracked = ids[0];
  }
  return logitLens(model, encoding, top, tracked);
}

export interface TcavRequest {
  concept: string[];
  random: string[];
  inputs: string[];
  layer: number;
  /** Classifier label (default: the last); causal LM next token (default: the prediction on the first input). */
  target?: string;
  runs: number;
  seed: number;
}

/** TCAV with the target resolved on the first input. */
export async function tcavReport(model: Model, request: TcavRequest): Promise<TcavResult> {
  if (request.inputs.length === 0) throw usageFault('inputs', '{param} holds no texts');
  const probe = encodeText(model, request.inputs[0], { truncate: true });
  const target =
    model.task === 'classification'
      ? await resolveTarget(model, probe.ids, {
          target: request.target ?? model.labels![model.labels!.length - 1],
          score: 'logit',
        })
      : await resolveTarget(model, probe.ids, { target: request.target }, request.inputs[0]);
  return tcav(model, request.concept, request.random, request.inputs, request.layer, target, {
    runs: request.runs,
    seed: request.seed,
  });
}
