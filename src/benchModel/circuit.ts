import { DEFAULT_STEPS, estimates, type CircuitMethod, type CircuitRequest } from '../circuit/circuit.js';
import {
  componentName,
  componentsOf,
  patchEach,
  readActivations,
  type CircuitTask,
  type Component,
} from '../circuit/components.js';
import type { Model } from '../model/types.js';
import { RunContext } from '../runtime/context.js';
import { openSessions } from '../runtime/session.js';
import { encodeText } from '../text/encode.js';
import { pearson, spearman } from '../util/stats.js';

/** Attribution patching of every head and feed-forward block against exact patching of each, on one input. */
export interface CircuitBenchRow {
  model: string;
  tokens: number;
  components: number;
  /** Attribution patching: 2 forward passes (clean, corrupted) and 1 backward pass. */
  atp: { ms: number; forwardPasses: number; backwardPasses: number };
  /** Exact patching: one forward pass per component, plus the clean run, in batches. */
  exact: { ms: number; forwardPasses: number };
  /** exact ms / atp ms. */
  speedup: number;
  pearson: number;
  spearman: number;
  /** What the scores hold at their peak: every component's clean and corrupted activation and its gradient (float32). */
  scoreBytes: number;
  /** The process's peak resident set after both, MB. */
  peakRssMb: number;
}

/**
 * One circuit bench row: the text (exactly `length` tokens) against the same text with its first half's
 * tokens rotated by one place (same length), the metric the logit difference between the clean text's next
 * token under the model and the corrupted one's. Times AtP and exact patching of every component, each once.
 */
export async function circuitBench(model: Model, spec: string, text: string): Promise<CircuitBenchRow> {
  const task = benchTask(model, text);
  const clean = task.clean;
  const components = await componentsOf(model, clean);
  const atpRun = new RunContext();
  let start = performance.now();
  const activations = await readActivations(model, [clean, task.corrupted], components, atpRun);
  const estimated = await estimates(model, benchRequest(text, 'atp', 1), task, components, activations, atpRun);
  const atpMs = performance.now() - start;
  const exactRun = new RunContext();
  start = performance.now();
  const exact = await patchEach(model, task, components, (c) => activations[1].get(componentName(c))!, exactRun);
  const exactMs = performance.now() - start;
  const [est, truth] = [estimated.effects.map((e) => e.effect), exact.patched.map((p) => p - exact.clean)];
  const width = components.reduce((s, c) => s + activations[0].get(componentName(c))!.data.length, 0);
  return {
    model: spec,
    tokens: clean.length,
    components: components.length,
    atp: { ms: atpMs, forwardPasses: atpRun.forward, backwardPasses: atpRun.backward },
    exact: { ms: exactMs, forwardPasses: exactRun.forward },
    speedup: exactMs / atpMs,
    pearson: pearson(est, truth),
    spearman: spearman(est, truth),
    scoreBytes: 3 * width * 4,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** EAP-IG's edge scores (`circuit --method ig --edges`) on one input: their time, passes and memory. */
export interface EdgeBenchRow {
  model: string;
  tokens: number;
  components: number;
  edges: number;
  /** Integrated-gradients steps on the path from the corrupted input to the clean one. */
  steps: number;
  /** Reading both runs' component activations, the path gradients, and every edge scored from them. */
  ms: number;
  forwardPasses: number;
  backwardPasses: number;
  /** The edge scores themselves: one number (float64) per edge; nothing is kept per step. */
  edgeScoreBytes: number;
  /** The path-averaged gradients the edges are scored from: every component's output and every head's queries, keys and values (float32). */
  pathGradientBytes: number;
  /** The most onnxruntime sessions open at once during the row. */
  sessions: number;
  /** The process's resident set before the row, and its peak after it, MB. */
  rssBeforeMb: number;
  peakRssMb: number;
}

/**
 * One EAP-IG edge row on the circuit bench's task (see circuitBench): the estimates `circuit --method ig
 * --edges` makes, from reading the components' activations to the last edge scored, timed once.
 */
export async function edgeBench(
  model: Model,
  spec: string,
  text: string,
  steps = DEFAULT_STEPS,
): Promise<EdgeBenchRow> {
  const task = benchTask(model, text);
  const components = await componentsOf(model, task.clean);
  const run = new RunContext();
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  openSessions();
  const start = performance.now();
  const activations = await readActivations(model, [task.clean, task.corrupted], components, run);
  const request = { ...benchRequest(text, 'ig', steps), edges: true };
  const { edges } = await estimates(model, request, task, components, activations, run);
  const ms = performance.now() - start;
  const sizeOf = (c: Component) => activations[0].get(componentName(c))!.data.length;
  const heads = components.filter((c) => c.kind === 'head');
  const width = components.reduce((s, c) => s + sizeOf(c), 0);
  return {
    model: spec,
    tokens: task.clean.length,
    components: components.length,
    edges: edges!.length,
    steps,
    ms,
    forwardPasses: run.forward,
    backwardPasses: run.backward,
    edgeScoreBytes: edges!.length * 8,
    // Queries, keys and values are each a head's output's size ([head, position, d_head]).
    pathGradientBytes: 4 * (width + 3 * heads.reduce((s, c) => s + sizeOf(c), 0)),
    sessions: openSessions().most,
    rssBeforeMb,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** The text against itself with its first half's tokens rotated by one place; the metric at the middle. */
function benchTask(model: Model, text: string): CircuitTask {
  const clean = encodeText(model, text).ids;
  const half = Math.floor(clean.length / 2);
  const corrupted = [...clean.slice(1, half), clean[0], ...clean.slice(half)];
  return { clean, corrupted, answer: clean[half], wrong: clean[half + 1] };
}

function benchRequest(text: string, method: CircuitMethod, steps: number): CircuitRequest {
  return {
    ...{ clean: text, corrupted: text, answer: '', wrong: '' },
    ...{ method, ablation: 'corrupted', k: 1, exactBudget: 0, steps },
  };
}
