import type { RunContext } from '../runtime/context.js';
import type { Tensor } from '../runtime/hooks.js';
import type { Model } from '../model/types.js';
import { cleanGradients, componentName, componentValues, type CircuitTask, type Component } from './components.js';

/** GradDrop's numbers for one component. */
export interface GradDropScore {
  /** Σ_ℓ |dropped[ℓ] − atp|: large where AtP's direct and indirect terms cancel. */
  score: number;
  /** Plain AtP, (a_corrupted − a_clean) · ∂metric/∂a at the clean input. */
  atp: number;
  /** Per layer ℓ, AtP with ℓ's contribution to the residual stream held constant in the backward pass. */
  dropped: number[];
}

const atpOf = (a: Float32Array, b: Float32Array, g: Float32Array): number => {
  let s = 0;
  for (let j = 0; j < g.length; j++) s += (b[j] - a[j]) * g[j];
  return s;
};

/**
 * GradDrop (AtP*, Kramár et al. 2024, arXiv 2403.00745, §3.3), as we read the paper: AtP's gradient sums
 * a component's direct and indirect paths to the metric, which can cancel (AtP ≈ 0 for a component whose
 * exact effect is large). For each layer ℓ, the gradient is taken again with layer ℓ's attention and
 * feed-forward outputs held constant where they enter the residual stream (a stop-gradient), giving
 * dropped_ℓ(c) = (a_corrupted − a_clean) · ∇_ℓ metric, and
 *   GradDrop(c) = Σ_{ℓ=1..L} |dropped_ℓ(c) − AtP(c)|,
 * an estimate of |effect| (not its sign). Dropping a layer after c removes c's paths through it; dropping
 * c's own layer removes all of c's paths (dropped = 0, the term is |AtP(c)|); dropping an earlier layer
 * changes nothing (the term is 0). So only layers 1 … L−1 need a backward pass: L − 1 in all, beside
 * AtP's one. The stop-gradient is placed on the layer's head outputs and feed-forward activation, through
 * which all of its contribution to the residual stream flows (the output projections' biases are constants).
 */
export async function gradDropScores(
  model: Model,
  task: CircuitTask,
  components: readonly Component[],
  [clean, corrupted]: Map<string, Tensor>[],
  /** ∂metric/∂(component output) at the clean input, as AtP takes it. */
  gradientOf: (c: Component) => Float32Array,
  run?: RunContext,
): Promise<GradDropScore[]> {
  const layers = 1 + Math.max(...components.map((c) => c.layer));
  const delta = (c: Component, g: Float32Array) =>
    atpOf(clean.get(componentName(c))!.data, corrupted.get(componentName(c))!.data, g);
  const atp = components.map((c) => delta(c, gradientOf(c)));
  // dropped[i][ℓ]: component i's AtP with layer ℓ dropped.
  const dropped = components.map((c, i) => Array.from({ length: layers }, (_, l) => (l < c.layer ? atp[i] : 0)));
  for (let l = 1; l < layers; l++) {
    const { gradients } = await cleanGradients(model, task, components, run, l);
    components.forEach((c, i) => {
      if (c.layer < l) dropped[i][l] = delta(c, componentValues(gradients, c));
    });
  }
  return components.map((_, i) => ({
    score: dropped[i].reduce((s, d) => s + Math.abs(d - atp[i]), 0),
    atp: atp[i],
    dropped: dropped[i],
  }));
}
