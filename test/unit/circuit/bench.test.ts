import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { circuitBench } from '../../../src/benchModel/circuit.js';
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
});
