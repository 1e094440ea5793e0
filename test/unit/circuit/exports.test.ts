import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeExternalDataCopy, writeOptimizedCopy, writeQuantizedCopy } from '../../../fixtures/exports.js';
import { inductionLM, writePlanted } from '../../../fixtures/planted.js';
import {
  circuitReport,
  taskOf,
  type CircuitMethod,
  type CircuitReport,
  type CircuitRequest,
} from '../../../src/circuit/circuit.js';
import {
  componentName,
  componentsOf,
  patchEach,
  readActivations,
  type Component,
} from '../../../src/circuit/components.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { repoRoot, tempDir } from '../../helpers.js';

const request: CircuitRequest = {
  ...{ clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' },
  ...{ method: 'atp', ablation: 'corrupted', k: 2, exactBudget: 1000, steps: 16 },
};
const METHODS: CircuitMethod[] = ['atp', 'atp*', 'ig', 'patch', 'dla'];

/** The largest difference between two reports' component effects, exact effects and edge scores. */
function worst(got: CircuitReport, want: CircuitReport): number {
  const by = new Map(got.components.map((c) => [c.component, c]));
  let d = 0;
  for (const c of want.components) {
    const g = by.get(c.component)!;
    d = Math.max(d, Math.abs(g.effect - c.effect), c.exact === null ? 0 : Math.abs(g.exact! - c.exact));
  }
  const edges = new Map((got.edges?.ranking ?? []).map((e) => [e.edge, e.score]));
  for (const e of want.edges?.ranking ?? []) d = Math.max(d, Math.abs(edges.get(e.edge)! - e.score));
  return d;
}

/**
 * The planted induction LM (effects of −11.25) in the forms users bring: onnxruntime's own optimizer and
 * external-data weights give every circuit method's numbers bit for bit; q8 (8-bit dynamic quantization,
 * gradients on its float shadow, DLA on the shadow's dequantized weights) within 4.9e-3 measured, its circuit the same.
 */
describe('circuit scores on every export form of the planted induction LM', () => {
  const forms: { name: string; model: Model; tolerance: number }[] = [];
  let plain: Model;
  beforeAll(async () => {
    const dir = writePlanted(inductionLM());
    const root = tempDir('interp-circuit-forms-');
    plain = await loadModel(dir);
    const optimized = await writeOptimizedCopy(dir, path.join(root, 'optimized'));
    forms.push({ name: 'optimized', model: await loadModel(optimized), tolerance: 1e-9 });
    const external = writeExternalDataCopy(dir, path.join(root, 'external'));
    forms.push({ name: 'external', model: await loadModel(external), tolerance: 1e-9 });
    const q8 = writeQuantizedCopy(dir, path.join(root, 'q8'));
    forms.push({ name: 'q8', model: await loadModel(q8, { dtype: 'q8' }), tolerance: 1e-2 });
  }, 120_000);

  for (const method of METHODS)
    it(`${method}${method === 'atp*' || method === 'ig' ? ' with --edges' : ''}: every form as the plain export`, async () => {
      const edges = method === 'atp*' || method === 'ig';
      const want = await circuitReport(plain, { ...request, method, edges });
      for (const f of forms) {
        const got = await circuitReport(f.model, { ...request, method, edges });
        expect(worst(got, want), `${method} ${f.name}`).toBeLessThan(f.tolerance);
        expect(got.circuit.sort(), `${method} ${f.name}`).toEqual(['L0H0', 'L1H0']);
        if (edges) expect(got.edges!.circuit.sort()).toEqual(['L0H0 → L1H0.k', 'L1H0 → logits']);
      }
    }, 120_000);

  it('q8 quantizes per batch, so exact patching runs one row per run: each component alone gives its number to 5e-6 (tiny-lm)', async () => {
    const q8 = await loadModel(writeQuantizedCopy(path.join(repoRoot, 'models', 'tiny-lm'), tempDir('interp-q8-')), {
      dtype: 'q8',
    });
    const pair = { clean: 'the film was', corrupted: 'the movie was', answer: ' good', wrong: ' bad' };
    const task = taskOf(q8, pair);
    const components = await componentsOf(q8, task.clean);
    const [, corrupted] = await readActivations(q8, [task.clean, task.corrupted], components);
    const source = (c: Component) => corrupted.get(componentName(c))!;
    const all = await patchEach(q8, task, components, source);
    for (const [i, c] of components.entries()) {
      const alone = await patchEach(q8, task, components, source, undefined, [c]);
      // Batched with the others, L0H0 moved by 3.8e-3 (measured); alone, a differently cut graph's rounding.
      expect(alone.patched[0], componentName(c)).toBeCloseTo(all.patched[i], 5);
      expect(alone.clean).toBeCloseTo(all.clean, 5);
    }
    expect(all.patched.some((m) => m !== all.clean)).toBe(true);
    // A layer given only some of its heads would have its mask broadcast onto the others: refused.
    await expect(patchEach(q8, task, [components[1]], source)).rejects.toThrow(/every head of the layer/);
  });
});
