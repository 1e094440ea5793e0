import { describe, expect, it } from 'vitest';
import type { TokenActivations } from '../../../src/concepts/activations.js';
import { describeClusters } from '../../../src/concepts/report.js';

describe('the most distinctive tokens of a cluster', () => {
  it('need evidence: a token seen 50 times, nearly all in the cluster, outranks one seen twice, only there', () => {
    // Cluster 0: 'film' × 50 and 'rare' × 2; the rest of the corpus: 'film' × 2 and filler × 400.
    const texts = [...Array(50).fill('film'), 'rare', 'rare', ...Array(2).fill('film'), ...Array(400).fill('the')];
    const labels = Int32Array.from(texts, (_, i) => (i < 52 ? 0 : 1));
    const line = { text: 'x', ids: [0], tokens: ['x'], offsets: [[0, 1]], special: [false], wordIds: [0] };
    const acts = {
      data: new Float64Array(texts.length),
      n: texts.length,
      dim: 1,
      tokens: texts.map((text, i) => ({ text, id: i, line: 0, position: 0 })),
      lines: [line],
    } as unknown as TokenActivations;
    const [cluster] = describeClusters(acts, labels, 2, 5, 0);
    expect(cluster.topByDistinctiveness.map((t) => t.token)).toEqual(['film', 'rare']);
    // The raw lift alone would rank them the other way round.
    const [film, rare] = cluster.topByDistinctiveness;
    expect(rare.lift).toBeGreaterThan(film.lift);
  });
});
