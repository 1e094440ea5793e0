import type { RunContext } from '../runtime/context.js';
import type { Tensor } from '../runtime/hooks.js';
import type { Model } from '../model/types.js';
import { cleanGradients, componentName, componentValues, type CircuitTask, type Component } from './components.js';

/** GradDrop's numbers for one component. */
export interface GradDropScore {
  /** 1/(L−1) · Σ_ℓ |dropped[ℓ]|, AtP*'s estimate of |effect| (Kramár et al. 2024, c_AtP+GD for one prompt pair). */
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
 * The GradDrop score of one component from its per-layer estimates: 1/(L−1) · Σ_{ℓ=1..L} |dropped[ℓ]|. Its
 * own layer's term is 0 (no gradient reaches inside a dropped layer), so a component whose paths do not
 * cancel scores about |AtP|: exactly |AtP| when no later layer carries any of its effect. With one layer
 * there is no other layer to drop: the score is |AtP|.
 */
export function gradDropScore(dropped: readonly number[], atp: number): number {
  if (dropped.length < 2) return Math.abs(atp);
  return dropped.reduce((s, d) => s + Math.abs(d), 0) / (dropped.length - 1);
}

/**
 * GradDrop (AtP*, Kramár et al. 2024, arXiv 2403.00745, "GradDrop"): AtP's gradient sums a component's
 * direct and indirect paths to the metric, which can cancel (AtP ≈ 0 for a component whose exact effect is
 * large). For each layer ℓ, the gradient is taken again with layer ℓ's attention and feed-forward outputs
 * held constant where they enter the residual stream (a stop-gradient: the whole layer's residual write),
 * giving dropped_ℓ(c) = (a_corrupted − a_clean) · ∇_ℓ metric, and
 *   GradDrop(c) = 1/(L−1) · Σ_{ℓ=1..L} |dropped_ℓ(c)|,
 * an estimate of |effect| (not its sign) that AtP* ranks by. Dropping a layer after c removes c's paths
 * through it (where they cancelled the rest, what is left shows); dropping c's own layer removes all of
 * them (dropped = 0); dropping an earlier layer changes nothing (dropped = AtP). So only layers 1 … L−1 need
 * a backward pass: L − 1 in all, beside AtP's one. The stop-gradient is placed on the layer's head outputs
 * and feed-forward activation, through which all of its contribution to the residual stream flows (the
 * output projections' biases are constants).
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
  return components.map((_, i) => ({ score: gradDropScore(dropped[i], atp[i]), atp: atp[i], dropped: dropped[i] }));
}
