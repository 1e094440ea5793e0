import type { DirectLogitAttribution } from '../circuit/dla.js';
import { formatNumber, wrapText } from './format.js';

/** The clean run's logit difference at the last position as the sum of its direct terms, the largest named. */
export function dlaLine(a: DirectLogitAttribution, top = 5): string {
  const T = a.logitDifference.length;
  const terms = a.components
    .map((c) => ({ name: c.component, value: c.perPosition[T - 1] }))
    .sort((x, y) => Math.abs(y.value) - Math.abs(x.value))
    .slice(0, top);
  // On a quantized or float16 model the residual is its rounded activations, which no term (shadow weights) sees.
  const shadow = a.diagnostics ? "; the model's rounded activations, the weights its dequantized shadow's" : '';
  return wrapText(
    `direct logit attribution (final ${a.norm === 'none' ? 'stream, no norm' : `${a.norm === 'rms' ? 'RMSNorm' : 'LayerNorm'} scale frozen`}): ${formatNumber(a.logitDifference[T - 1])} = ${terms.map((t) => `${t.name} ${formatNumber(t.value)}`).join(' + ')} + … + embeddings ${formatNumber(a.embeddings[T - 1])} + biases ${formatNumber(a.biases[T - 1])} (residual ${a.residual[T - 1].toExponential(1)}${shadow})`,
  );
}
