import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { circuitBench, edgeBench } from '../../../src/benchModel/circuit.js';
import { componentsOf, pathGradients } from '../../../src/circuit/components.js';
import { gradientSession, runGradients } from '../../../src/gradients/session.js';
import { benchInput, type BenchReport } from '../../../src/bench.js';
import { loadModel } from '../../../src/model/load.js';
import { benchTable } from '../../../src/render/bench.js';
import { repoRoot } from '../../helpers.js';

describe('bench --circuit', () => {
  it('times attribution patching (2 forward, 1 backward pass) against exact patching (one pass per component) and ranks them', async () => {
    const model = await loadModel(path.join(repoRoot, 'models', 'tiny-lm'));
    const row = await circuitBench(model, 'tiny-lm', benchInput(model, 16));
    expect(row.tokens).toBe(16);
    expect(row.components).toBe(3 * 4 + 3);
    expect(row.atp.backwardPasses).toBe(1);
    expect(row.exact.forwardPasses).toBe(row.components + 1);
    expect(row.speedup).toBeCloseTo(row.exact.ms / row.atp.ms, 9);
    expect(Math.abs(row.spearman)).toBeLessThanOrEqual(1);
    // 3 copies (clean, corrupted, gradient) of 3 layers × (4 heads × 16 positions × 32 + 16 positions × 512) float32.
    expect(row.scoreBytes).toBe(3 * 3 * (4 * 16 * 32 + 16 * 512) * 4);
    const report = { rows: [], skipped: [], coldStart: null, circuit: [row] } as unknown as BenchReport;
    expect(benchTable(report)).toMatch(/Circuit on tiny-lm at 16 tokens, 15 heads and MLPs: attribution patching/);
  });

  it('--circuit-edges: EAP-IG scores every edge of tiny-lm (222) from 16 path steps; the bytes are counted', async () => {
    const model = await loadModel(path.join(repoRoot, 'models', 'tiny-lm'));
    const row = await edgeBench(model, 'tiny-lm', benchInput(model, 16));
    // 15 logits edges; heads of layers 1 and 2 hear 5 and 10 earlier components by q, k and v (4 heads
    // each: 60 + 120); each feed-forward block its earlier components and its own layer's 4 heads (4 + 9 + 14).
    expect([row.components, row.edges, row.steps]).toEqual([15, 222, 16]);
    // Both runs read, 16 path steps, both runs read again, then per receiving layer a row per sender:
    // 4, 9, 14 and 15 (the logits).
    expect([row.forwardPasses, row.backwardPasses]).toEqual([2 + 16 + 2 + (4 + 9 + 14 + 15), 16]);
    expect(row.edgeScoreBytes).toBe(222 * 8);
    // Every component's gradient (3 layers × (4 heads × 16 × 32 + 16 × 512)) and each head's q, k, v, float32.
    expect(row.pathGradientBytes).toBe(4 * (3 * (4 * 16 * 32 + 16 * 512) + 3 * 3 * 4 * 16 * 32));
    expect(row.peakRssMb).toBeGreaterThanOrEqual(row.rssBeforeMb * 0.5);
    const report = { rows: [], skipped: [], coldStart: null, circuitEdges: [row] } as unknown as BenchReport;
    expect(benchTable(report)).toMatch(/EAP-IG edges on tiny-lm at 16 tokens: 222 edges between 15 heads and MLPs/);
  });

  it('the path gradients are summed batch by batch: bit for bit the mean over every step kept', async () => {
    const model = await loadModel(path.join(repoRoot, 'models', 'tiny-lm'));
    const ids = model.tokenizer.encode('a b c d a b c d');
    const corrupted = [...ids.slice(1, 4), ids[0], ...ids.slice(4)];
    const task = { clean: ids, corrupted, answer: ids[4], wrong: ids[5] };
    const components = await componentsOf(model, ids);
    const steps = 5;
    const path_ = await pathGradients(model, task, components, steps, undefined, true);
    // The same rows through runGradients, every step kept, then averaged.
    const gs = await gradientSession(model, { kind: 'components', from: 'embeddings', receivers: true }, 'logit');
    const T = ids.length;
    const [a, b] = [ids, corrupted].map((s) => s.map((id) => gs.embeddings!.row(id)));
    const width = gs.embeddings!.width;
    const rows = Array.from({ length: steps }, (_, k) => {
      const cut = new Float32Array(T * width);
      for (let t = 0; t < T; t++)
        for (let j = 0; j < width; j++) cut[t * width + j] = b[t][j] + ((k + 0.5) / steps) * (a[t][j] - b[t][j]);
      return { ids, cut, positions: [T - 1, T - 1], index: [task.answer, task.wrong], weight: [1, -1] };
    });
    const kept = await runGradients(model, gs, rows);
    const mean = (g: number) => {
      const sum = new Float32Array(kept[0].gradients[g].length);
      for (const r of kept) for (let j = 0; j < sum.length; j++) sum[j] += r.gradients[g][j] / steps;
      return sum;
    };
    const layers = gs.gradients.length / 5;
    expect(Array.from(path_.components.get('L1MLP')!)).toEqual(Array.from(mean(layers + 1)));
    expect(Array.from(path_.receivers![2].k)).toEqual(Array.from(mean(3 * layers + 2)));
    expect(Array.from(path_.components.get('L0H0')!)).toEqual(
      Array.from(mean(0).subarray(0, path_.components.get('L0H0')!.length)),
    );
  });
});
