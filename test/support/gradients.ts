import { expect } from 'vitest';
import { prepare } from '../../src/explain.js';
import { gradientContext } from '../../src/gradients/context.js';
import type { GradientContext } from '../../src/methods/types.js';
import type { Model } from '../../src/model/types.js';
import { Rng } from '../../src/util/rng.js';

/**
 * The gradient of the target score with respect to the input embeddings, against central finite
 * differences along two unit directions: the gradient's own (where the derivative is largest) and a
 * random one. Error = |⟨g, v⟩ − FD| / ‖g‖. Curvature (large steps) and float32
 * rounding (small steps) limit FD from both sides, so the best of six step sizes and their Richardson
 * extrapolations counts.
 */
export async function gradientError(
  model: Model,
  text: string,
  target: { target?: string; score?: string; continuation?: string } = {},
): Promise<number> {
  const p = await prepare(model, { text, method: 'saliency', target });
  const g = await gradientContext(model, p.encoding, p.features, p.target, 'zero');
  return finiteDifferenceError(g, g.input);
}

/**
 * The same check for any gradient oracle at any point: error = |⟨g, v⟩ − FD| / ‖g‖ along the gradient's own
 * direction and a random one, both restricted to `mask` (1 where the point may move; all of it by default).
 */
export async function finiteDifferenceError(
  g: GradientContext,
  point: Float32Array,
  mask?: (i: number) => boolean,
): Promise<number> {
  const keep = (v: Float32Array) => (mask ? v.map((x, i) => (mask(i) ? x : 0)) : v);
  const [{ gradient: full }] = await g.run([point]);
  const gradient = keep(full);
  const norm = Math.sqrt(gradient.reduce((s, v) => s + v * v, 0));
  expect(norm).toBeGreaterThan(0);
  const rng = new Rng(7);
  const random = keep(Float32Array.from(gradient, () => rng.normal()));
  const rnorm = Math.sqrt(random.reduce((s, v) => s + v * v, 0));
  const directions = [gradient.map((v) => v / norm), random.map((v) => v / rnorm)];
  let worst = 0;
  for (const v of directions) {
    const analytic = v.reduce((s, vi, i) => s + vi * gradient[i], 0);
    const steps = [0.01, 0.005, 0.0025, 0.00125, 0.000625, 0.0003125];
    const rows = steps.flatMap((h) => [point.map((x, i) => x + h * v[i]), point.map((x, i) => x - h * v[i])]);
    const out = await g.run(rows);
    const central = steps.map((h, k) => (out[2 * k].score - out[2 * k + 1].score) / (2 * h));
    // Richardson extrapolation of each halving cancels the h² term of the central difference.
    const estimates = [...central, ...central.slice(1).map((half, k) => (4 * half - central[k]) / 3)];
    worst = Math.max(worst, Math.min(...estimates.map((e) => Math.abs(e - analytic) / norm)));
  }
  return worst;
}
