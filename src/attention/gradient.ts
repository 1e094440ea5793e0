import { gradientSession, headScoreOf, runGradients, targetHead } from '../gradients/session.js';
import type { Model } from '../model/types.js';
import type { Target } from '../target/target.js';

export interface AttentionTimesGradient {
  /** [layer][head] → T×T of A ⊙ ∂score/∂A (signed). */
  layers: Float32Array[][];
  /** Per head, Σ |A ⊙ ∂score/∂A|: a head's importance to the target (Michel et al. 2019), most important first. */
  importance: { layer: number; head: number; importance: number }[];
  score: number;
}

/** Attention × gradient: every attention weight times the target score's exact gradient with respect to it, in one forward and backward pass. */
export async function attentionTimesGradient(
  model: Model,
  ids: readonly number[],
  target: Target,
): Promise<AttentionTimesGradient> {
  const gs = await gradientSession(model, { kind: 'attention' }, headScoreOf(target));
  const head = targetHead(target, ids.length);
  const [row] = await runGradients(model, gs, [
    { ids: [...ids, ...head.extra], positions: head.positions, index: head.index, weight: head.weight },
  ]);
  const T = row.length;
  const importance: AttentionTimesGradient['importance'] = [];
  const layers = row.gradients.map((grad, l) => {
    const probs = row.values[l];
    const heads = grad.length / (T * T);
    return Array.from({ length: heads }, (_, h) => {
      const m = new Float32Array(T * T);
      let total = 0;
      for (let i = 0; i < T * T; i++) {
        m[i] = probs[h * T * T + i] * grad[h * T * T + i];
        total += Math.abs(m[i]);
      }
      importance.push({ layer: l, head: h, importance: total });
      return m;
    });
  });
  importance.sort((a, b) => b.importance - a.importance || a.layer - b.layer || a.head - b.head);
  return { layers, importance, score: row.score };
}
