import { estimates, type CircuitRequest } from '../circuit/circuit.js';
import { componentName, componentsOf, patchEach, readActivations, type CircuitTask } from '../circuit/components.js';
import type { Model } from '../model/types.js';
import { RunContext } from '../runtime/context.js';
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
  const clean = encodeText(model, text).ids;
  const half = Math.floor(clean.length / 2);
  const corrupted = [...clean.slice(1, half), clean[0], ...clean.slice(half)];
  const task: CircuitTask = { clean, corrupted, answer: clean[half], wrong: clean[half + 1] };
  const components = await componentsOf(model, clean);
  const atpRun = new RunContext();
  let start = performance.now();
  const activations = await readActivations(model, [clean, corrupted], components, atpRun);
  const request: CircuitRequest = {
    ...{ clean: text, corrupted: text, answer: '', wrong: '' },
    ...{ method: 'atp', ablation: 'corrupted', k: 1, exactBudget: 0, steps: 1 },
  };
  const estimated = await estimates(model, request, task, components, activations, atpRun);
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
