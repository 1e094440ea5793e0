import { usageFault } from '../errors.js';
import { baselineTokenId } from '../masking/replacement.js';
import type { BaselineKind, Feature } from '../masking/types.js';
import type { GradientContext } from '../methods/types.js';
import type { RuleOverrides } from '../onnx/gradRules.js';
import type { RunContext } from '../runtime/context.js';
import type { Model } from '../model/types.js';
import type { Target } from '../target/target.js';
import type { Encoding } from '../text/encode.js';

export const EMBEDDING_BASELINES: readonly BaselineKind[] = ['zero', 'mask', 'pad', 'unk'];

/**
 * Input embeddings of the explained sequence, the baseline in embedding space, and a batched gradient
 * oracle. Only feature positions move to the baseline: special tokens and a continuation stay as they
 * are, so that completeness is over the features alone.
 */
export async function gradientContext(
  model: Model,
  encoding: Encoding,
  features: readonly Feature[],
  target: Target,
  baseline: BaselineKind,
  run?: RunContext,
  overrides?: RuleOverrides,
): Promise<GradientContext> {
  if (!EMBEDDING_BASELINES.includes(baseline)) {
    throw usageFault(
      'baseline',
      `{param} ${baseline} does not apply to gradient methods; choose one of ${EMBEDDING_BASELINES.join(', ')}`,
    );
  }
  // The gradient machinery loads with the first gradient method run, not with every method's module.
  const { gradientSession, headScoreOf, runGradients, targetHead } = await import('./session.js');
  const gs = await gradientSession(model, { kind: 'embeddings' }, headScoreOf(target), overrides);
  const head = targetHead(target, encoding.ids.length);
  const ids = [...encoding.ids, ...head.extra];
  const matrix = gs.embeddings!;
  const width = matrix.width;
  const row = (id: number) => matrix.row(id);
  const input = new Float32Array(ids.length * width);
  ids.forEach((id, p) => input.set(row(id), p * width));
  const base = input.slice();
  const replacement = baseline === 'zero' ? null : baselineTokenId(model, baseline);
  for (const f of features) {
    for (const p of f.positions) {
      if (replacement === null) base.fill(0, p * width, (p + 1) * width);
      else base.set(row(replacement!), p * width);
    }
  }
  return {
    input,
    baseline: base,
    width,
    dequantized: gs.dequantized,
    async run(rows) {
      const out = await runGradients(
        model,
        gs,
        rows.map((cut) => ({ ids, cut, positions: head.positions, index: head.index, weight: head.weight })),
        run,
      );
      return out.map((r) => ({ score: r.score, gradient: r.gradients[0] }));
    },
  };
}

/** Per feature, Σ over its positions and embedding dims of (input − baseline) · gradient. */
export function featureDots(
  features: readonly Feature[],
  delta: Float32Array,
  gradient: ArrayLike<number>,
  width: number,
): number[] {
  return features.map((f) => {
    let s = 0;
    for (const p of f.positions) for (let j = p * width; j < (p + 1) * width; j++) s += delta[j] * gradient[j];
    return s;
  });
}

/** Per feature, the L2 norm of the gradient over its positions and embedding dims. */
export function featureNorms(features: readonly Feature[], gradient: ArrayLike<number>, width: number): number[] {
  return features.map((f) => {
    let s = 0;
    for (const p of f.positions) for (let j = p * width; j < (p + 1) * width; j++) s += gradient[j] * gradient[j];
    return Math.sqrt(s);
  });
}

export function difference(a: Float32Array, b: Float32Array): Float32Array {
  const d = new Float32Array(a.length);
  for (let i = 0; i < d.length; i++) d[i] = a[i] - b[i];
  return d;
}
