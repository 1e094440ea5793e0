import { usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { RunContext } from '../runtime/context.js';
import { runWithHooks, type Tensor } from '../runtime/hooks.js';
import { idsAfterPrompt } from '../target/scores.js';
import { encodeText } from '../text/encode.js';
import { pearson, spearman } from '../util/stats.js';
import {
  ablateOutside,
  checkTask,
  cleanGradients,
  componentName,
  componentsOf,
  componentValues,
  logitDifference,
  patchEach,
  pathGradients,
  readActivations,
  type CircuitTask,
  type PathGradients,
  type Component,
} from './components.js';
import { directEffects, type DirectLogitAttribution } from './dla.js';
import { gradDropScores, type GradDropScore } from './gradDrop.js';
import { ablateEdgesOutside } from './edgeAblation.js';
import { edgeCount, edgeName, edgeScores, type Edge } from './edges.js';

export const CIRCUIT_SCHEMA = 'interp/circuit@1';

/** Edges AtP* and --edges score unless --edge-budget says otherwise. */
export const DEFAULT_EDGE_BUDGET = 50_000;

/** Integrated-gradients steps on the path from the corrupted prompt to the clean one, unless --steps says otherwise. */
export const DEFAULT_STEPS = 16;

export const CIRCUIT_METHODS = ['atp', 'atp*', 'ig', 'patch', 'dla'] as const;
export type CircuitMethod = (typeof CIRCUIT_METHODS)[number];
export const ABLATIONS = ['corrupted', 'mean', 'zero'] as const;
export type Ablation = (typeof ABLATIONS)[number];

/** The behaviour: a clean prompt, a corrupted one, the clean answer and the token the corrupted prompt leads to. */
interface Behaviour {
  clean: string;
  corrupted: string;
  answer: string;
  wrong: string;
  method: CircuitMethod;
  ablation: Ablation;
}

export interface CircuitRequest extends Behaviour {
  /** Components in the circuit reported. */
  k: number;
  /** Exact patching of every component runs beside an estimate when there are at most this many. */
  exactBudget: number;
  /** Path steps of the integrated-gradients estimate. */
  steps: number;
  /** Also score the edges between components (EAP; EAP-IG with ig; QK-fixed with atp*). */
  edges?: boolean;
  /** The edge circuit: edges with |score| at least this (left out: the top k edges). */
  threshold?: number;
  /** The most edges AtP* or --edges may score (each receiving layer runs one row per sender); past it, a usage error. */
  edgeBudget?: number;
  /** atp*: also GradDrop's score per component, and rank by it (one more backward pass per layer after the first). */
  gradDrop?: boolean;
}

export interface EdgeReport {
  /** Every edge, by |score|, largest first. */
  ranking: (Edge & { edge: string })[];
  /** The edge circuit: the top-k edges, or those past the threshold. */
  circuit: string[];
  /** The components the circuit's edges touch (the logits aside). */
  components: string[];
  /**
   * Metric kept with every edge outside the circuit ablated (each receiver's input hears the ablated output
   * of the senders whose edges to it are outside), as a share of the full model's over all edges ablated.
   */
  faithfulness: number;
  /** The same for the top-n edges, at n = 0, 1, 2, 4, … all (and the circuit's size), with its areas. */
  curve: { size: number; faithfulness: number }[];
  cpr: number;
  cmd: number;
  ablated: 'edges';
}

export interface ComponentEffect {
  component: string;
  kind: Component['kind'];
  layer: number;
  head: number | null;
  /** The method's effect on the metric of patching the corrupted activation into the clean run. */
  effect: number;
  /** Per position, the estimate's share (AtP); null for exact patching. */
  perPosition: number[] | null;
  /** Exact patching's effect, where it ran. */
  exact: number | null;
  /** With --graddrop (atp*): GradDrop's estimate of |effect|, which the components are then ranked by. */
  gradDrop?: GradDropScore;
}

/** How an estimate ranks against exact patching; with --graddrop also GradDrop's score against |exact|. */
export interface Agreement {
  pearson: number;
  spearman: number;
  gradDrop?: { pearson: number; spearman: number };
}

export interface CircuitReport extends Behaviour {
  schema: typeof CIRCUIT_SCHEMA;
  model: string;
  metric: { clean: number; corrupted: number };
  /** Every component, by |effect| (with --graddrop by GradDrop's score), largest first. */
  components: ComponentEffect[];
  /** With --graddrop: the components, circuit and faithfulness curve follow GradDrop's score, as AtP* ranks. */
  rankedBy?: 'gradDrop';
  /** The top-k components by the method's ranking. */
  circuit: string[];
  /** Metric recovered with only the top-n components kept, everything else ablated, for n = 0 … all. */
  faithfulness: { curve: { size: number; faithfulness: number }[]; atK: number; cpr: number; cmd: number };
  /** How the estimate ranks against exact patching (null for --method patch, or past the exact budget). */
  agreement: Agreement | null;
  /** With --edges: the edges ranked, the edge circuit and its faithfulness. */
  edges?: EdgeReport;
  forwardPasses: number;
  backwardPasses: number;
  /** --method dla: the clean prompt's logit difference decomposed over the components, at every position. */
  dla?: DirectLogitAttribution;
}

/** The one token `text` is after the prompt (as the prompt and it tokenize together: a leading space stays in it). */
export function oneToken(
  model: Model,
  prompt: string,
  promptIds: readonly number[],
  text: string,
  param: string,
): number {
  const ids = idsAfterPrompt(model, prompt, promptIds, text);
  if (ids.length !== 1)
    throw usageFault(param, `{param} '${text}' is ${ids.length} tokens after the prompt; it must be one token`);
  return ids[0];
}

/** A prompt pair as token ids, its answer and wrong tokens one token each, checked against the model. */
export function taskOf(model: Model, p: Pick<Behaviour, 'clean' | 'corrupted' | 'answer' | 'wrong'>): CircuitTask {
  const clean = encodeText(model, p.clean).ids;
  const task: CircuitTask = {
    clean,
    corrupted: encodeText(model, p.corrupted).ids,
    answer: oneToken(model, p.clean, clean, p.answer, 'answer'),
    wrong: oneToken(model, p.clean, clean, p.wrong, 'wrong'),
  };
  checkTask(model, task);
  return task;
}

/**
 * Find the components that carry a behaviour: each head and feed-forward block scored by the effect of
 * patching its corrupted activation into the clean run (attribution patching's first-order estimate from
 * one clean forward and backward pass and one corrupted forward pass, or exact patching), then the
 * circuit's faithfulness measured by ablating everything outside it.
 */
export async function circuitReport(model: Model, request: CircuitRequest): Promise<CircuitReport> {
  const task = taskOf(model, request);
  if (request.gradDrop && request.method !== 'atp*')
    throw usageFault('graddrop', `{param} is part of AtP*: it needs {param:method} atp* (not ${request.method})`);
  const run = new RunContext();
  const components = await componentsOf(model, task.clean, run);
  const activations = await readActivations(model, [task.clean, task.corrupted], components, run);
  const corrupted = activations[1];
  const source = ablationSource(request.ablation, corrupted);
  const patchedBy = (c: Component) => corrupted.get(componentName(c))!;
  const runExact = request.method === 'patch' || components.length <= request.exactBudget;
  const exact = runExact ? await patchEach(model, task, components, patchedBy, run) : null;
  const direct = request.method === 'dla' ? await directEffects(model, task, components, activations, run) : null;
  const scored =
    request.method === 'patch' || direct ? null : await estimates(model, request, task, components, activations, run);
  const estimated = direct?.effects ?? scored?.effects ?? null;
  const effects: ComponentEffect[] = components.map((c, i) => ({
    component: componentName(c),
    kind: c.kind,
    layer: c.layer,
    head: c.kind === 'head' ? c.head : null,
    effect: estimated ? estimated[i].effect : exact!.patched[i] - exact!.clean,
    perPosition: estimated ? estimated[i].perPosition : null,
    exact: exact ? exact.patched[i] - exact.clean : null,
    ...(scored?.gradDrop && { gradDrop: scored.gradDrop[i] }),
  }));
  const ranked = rankOrder(effects);
  const circuits = ranked.map((_, n) => ranked.slice(0, n).map((i) => components[i]));
  circuits.push(components.slice());
  const kept = await ablateOutside(model, task, components, circuits, source, run);
  const [empty, full] = [kept[0], kept[kept.length - 1]];
  const curve = kept.map((m, size) => ({ size, faithfulness: (m - empty) / (full - empty) }));
  const k = Math.min(request.k, components.length);
  const corruptedMetric = await corruptedMetricOf(model, task, run);
  const edges =
    request.edges && scored?.edges
      ? await edgeReport(model, task, components, scored.edges, request, source, [empty, full], run)
      : null;
  return {
    schema: CIRCUIT_SCHEMA,
    model: model.id,
    clean: request.clean,
    corrupted: request.corrupted,
    answer: request.answer,
    wrong: request.wrong,
    method: request.method,
    ablation: request.ablation,
    metric: { clean: full, corrupted: corruptedMetric },
    components: ranked.map((i) => effects[i]),
    ...(scored?.gradDrop && { rankedBy: 'gradDrop' as const }),
    circuit: ranked.slice(0, k).map((i) => effects[i].component),
    faithfulness: { curve, atK: curve[k].faithfulness, ...areas(curve.map((c) => c.faithfulness)) },
    agreement:
      estimated && exact
        ? agreementOf(
            effects,
            effects.map((e) => e.exact!),
          )
        : null,
    ...(edges ? { edges } : {}),
    forwardPasses: run.forward,
    backwardPasses: run.backward,
    ...(direct && { dla: direct.attribution }),
  };
}

/**
 * The components' order, largest first: by |effect|, or where GradDrop scored them by its score, which is
 * AtP*'s estimate of |effect| (Kramár et al. 2024 rank by c_AtP+GD).
 */
export function rankOrder(effects: readonly ComponentEffect[]): number[] {
  const size = (e: ComponentEffect) => (e.gradDrop ? e.gradDrop.score : Math.abs(e.effect));
  return effects.map((_, i) => i).sort((a, b) => size(effects[b]) - size(effects[a]) || a - b);
}

/**
 * The estimates against exact patching's effects (signed), and GradDrop's scores, where there are, against
 * |exact| (`magnitude`: per component, |exact| by default; over a dataset the mean of its per-pair |exact|).
 */
export function agreementOf(
  effects: readonly ComponentEffect[],
  exact: readonly number[],
  magnitude: readonly number[] = exact.map(Math.abs),
): Agreement {
  const estimate = effects.map((e) => e.effect);
  const scores = effects.every((e) => e.gradDrop) ? effects.map((e) => e.gradDrop!.score) : null;
  return {
    pearson: pearson(estimate, exact),
    spearman: spearman(estimate, exact),
    ...(scores && { gradDrop: { pearson: pearson(scores, magnitude), spearman: spearman(scores, magnitude) } }),
  };
}

/** The metric on the corrupted prompt itself (one forward pass): where the behaviour should fail. */
async function corruptedMetricOf(model: Model, task: CircuitTask, run: RunContext): Promise<number> {
  const [out] = await runWithHooks(model, [task.corrupted], { logits: 'last' }, run);
  return logitDifference(out.logits, task);
}

/**
 * The first-order estimates: effect(c) ≈ (a_corrupted − a_clean) · g(c), summed over positions and width,
 * and per position. Attribution patching (Nanda 2023; Syed et al. 2023) takes g at the clean input, from
 * one forward and backward pass; the integrated-gradients estimate averages g over inputs on the path from
 * the corrupted prompt to the clean one, which sees through a softmax saturated at the clean input. AtP*
 * (Kramár et al. 2024) sums each component's edges with every later head's softmax recomputed (its QK fix).
 */
export async function estimates(
  model: Model,
  request: CircuitRequest,
  task: CircuitTask,
  components: readonly Component[],
  [clean, corrupted]: Map<string, Tensor>[],
  run: RunContext,
): Promise<{
  effects: { effect: number; perPosition: number[] | null }[];
  edges: Edge[] | null;
  gradDrop?: GradDropScore[];
}> {
  let gradientOf: (c: Component) => Float32Array;
  let receivers: PathGradients['receivers'] = null;
  if (request.method === 'ig') {
    const path = await pathGradients(model, task, components, request.steps, run, request.edges === true);
    gradientOf = (c) => path.components.get(componentName(c))!;
    receivers = path.receivers;
  } else {
    const { gradients } = await cleanGradients(model, task, components, run);
    gradientOf = (c) => componentValues(gradients, c);
  }
  const rule = request.method === 'atp*' ? 'recompute' : 'linear';
  const count = edgeCount(components);
  if ((request.edges || rule === 'recompute') && count > (request.edgeBudget ?? DEFAULT_EDGE_BUDGET))
    throw usageFault(
      'edge-budget',
      `this model has ${count} edges to score, more than {param} ${request.edgeBudget ?? DEFAULT_EDGE_BUDGET} allows`,
    );
  const edges =
    request.edges || request.method === 'atp*'
      ? await edgeScores(model, { task, components, gradientOf, rule, receivers }, run)
      : null;
  if (request.method === 'atp*')
    return {
      effects: components.map((c) => ({
        effect: edges!.filter((e) => e.sender === componentName(c)).reduce((s, e) => s + e.score, 0),
        perPosition: null,
      })),
      edges,
      ...(request.gradDrop && {
        gradDrop: await gradDropScores(model, task, components, [clean, corrupted], gradientOf, run),
      }),
    };
  const T = task.clean.length;
  const effects = components.map((c) => {
    const [a, b, g] = [clean.get(componentName(c))!.data, corrupted.get(componentName(c))!.data, gradientOf(c)];
    const width = a.length / T;
    const perPosition = Array.from({ length: T }, (_, t) => {
      let s = 0;
      for (let j = t * width; j < (t + 1) * width; j++) s += (b[j] - a[j]) * g[j];
      return s;
    });
    return { effect: perPosition.reduce((x, y) => x + y, 0), perPosition };
  });
  return { effects, edges };
}

/**
 * The edges ranked by |score|, the edge circuit (top k, or past the threshold), and its faithfulness with
 * every other edge ablated, on a curve of the top-n edges for n doubling from 1 (one batched edge-ablation).
 */
async function edgeReport(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  edges: Edge[],
  request: CircuitRequest,
  source: (c: Component) => Tensor,
  [empty, full]: number[],
  run: RunContext,
): Promise<EdgeReport> {
  const ranking = edges
    .map((e) => ({ ...e, edge: edgeName(e) }))
    .sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || (a.edge < b.edge ? -1 : 1));
  const chosen =
    request.threshold === undefined
      ? ranking.slice(0, request.k)
      : ranking.filter((e) => Math.abs(e.score) >= request.threshold!);
  const touched = new Set(chosen.flatMap((e) => [e.sender, e.receiver]));
  const sizes = [0];
  for (let n = 1; n < ranking.length; n *= 2) sizes.push(n);
  sizes.push(ranking.length, chosen.length);
  const sorted = [...new Set(sizes)].sort((a, b) => a - b);
  const kept = await ablateEdgesOutside(
    model,
    task,
    components,
    sorted.map((n) => ranking.slice(0, n)),
    source,
    run,
  );
  const share = (m: number) => (m - empty) / (full - empty);
  const curve = sorted.map((size, i) => ({ size, faithfulness: share(kept[i]) }));
  return {
    ranking,
    circuit: chosen.map((e) => e.edge),
    components: components.filter((c) => touched.has(componentName(c))).map(componentName),
    faithfulness: curve[sorted.indexOf(chosen.length)].faithfulness,
    curve,
    ...areasOver(curve),
    ablated: 'edges',
  };
}

/** CPR and CMD of a curve sampled at any sizes: the trapezoid rule over size as a share of the largest. */
export function areasOver(curve: { size: number; faithfulness: number }[]): { cpr: number; cmd: number } {
  const n = curve[curve.length - 1].size || 1;
  let cpr = 0;
  let cmd = 0;
  for (let i = 0; i + 1 < curve.length; i++) {
    const [a, b] = [curve[i], curve[i + 1]];
    const w = b.size - a.size;
    cpr += (((a.faithfulness + b.faithfulness) / 2) * w) / n;
    cmd += (((Math.abs(1 - a.faithfulness) + Math.abs(1 - b.faithfulness)) / 2) * w) / n;
  }
  return { cpr, cmd };
}

/** What an ablated component's output becomes: the corrupted run's, its mean over positions, or zero. */
export function ablationSource(ablation: Ablation, corrupted: Map<string, Tensor>): (c: Component) => Tensor {
  return (c) => {
    const value = corrupted.get(componentName(c))!;
    if (ablation === 'corrupted') return value;
    const [T, d] = value.dims;
    const out = new Float32Array(T * d);
    if (ablation === 'mean')
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += value.data[t * d + j];
        for (let t = 0; t < T; t++) out[t * d + j] = s / T;
      }
    return { data: out, dims: [T, d] };
  };
}

/**
 * The faithfulness curve's areas over the circuit's size as a share of all components, by the trapezoid
 * rule (MIB's circuit track, Mueller et al. 2025): CPR, the area under the curve, and CMD, the area between
 * the curve and 1.
 */
export function areas(f: number[]): { cpr: number; cmd: number } {
  return areasOver(f.map((faithfulness, size) => ({ size, faithfulness })));
}
