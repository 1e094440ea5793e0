import { describe, expect, it } from 'vitest';
import { attentionFlow, maxFlow, residualAttention } from '../../../src/attention/analysis.js';
import { Rng } from '../../../src/util/rng.js';

/** Max-flow by brute force: the minimum over every s–t cut of the capacity crossing it. */
function minCut(capacity: Float64Array, n: number, s: number, t: number): number {
  const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== s && i !== t);
  let best = Infinity;
  for (let mask = 0; mask < 1 << others.length; mask++) {
    const side = new Uint8Array(n);
    side[s] = 1;
    others.forEach((v, i) => (side[v] = (mask >> i) & 1));
    let cut = 0;
    for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) if (side[u] && !side[v]) cut += capacity[u * n + v];
    best = Math.min(best, cut);
  }
  return best;
}

describe('attention maths', () => {
  it('max-flow equals the brute-force minimum cut on small random graphs', async () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 20; trial++) {
      const n = 7;
      const capacity = new Float64Array(n * n).map(() => (rng.next() < 0.5 ? rng.next() : 0));
      for (let i = 0; i < n; i++) capacity[i * n + i] = 0;
      expect(maxFlow(capacity, n, 0, n - 1)).toBeCloseTo(minCut(capacity, n, 0, n - 1), 10);
    }
  });

  it('attention flow through a tiny layer graph matches the brute-force cut on the same graph', async () => {
    const rng = new Rng(9);
    const T = 3;
    const layer = () =>
      [Float32Array.from({ length: T * T }, () => rng.next())].map((m) => {
        for (let q = 0; q < T; q++) {
          let s = 0;
          for (let k = 0; k < T; k++) s += m[q * T + k];
          for (let k = 0; k < T; k++) m[q * T + k] /= s;
        }
        return m;
      });
    const layers = [layer(), layer()];
    const flow = attentionFlow(layers, T, [0, 1, 2]);
    const n = 3 * T;
    const capacity = new Float64Array(n * n);
    layers.forEach((heads, l) => {
      const A = residualAttention(heads, T);
      for (let q = 0; q < T; q++)
        for (let k = 0; k < T; k++) capacity[(l * T + k) * n + (l + 1) * T + q] = A[q * T + k];
    });
    for (let q = 0; q < T; q++)
      for (let k = 0; k < T; k++) expect(flow[q * T + k]).toBeCloseTo(minCut(capacity, n, k, 2 * T + q), 10);
  });
});
