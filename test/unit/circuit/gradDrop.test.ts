import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cancellingLM, writePlanted } from '../../../fixtures/planted.js';
import {
  circuitReport,
  rankOrder,
  taskOf,
  type CircuitRequest,
  type ComponentEffect,
} from '../../../src/circuit/circuit.js';
import { circuitDatasetReport } from '../../../src/circuit/dataset.js';
import { gradDropScore } from '../../../src/circuit/gradDrop.js';
import { circuitTable } from '../../../src/render/circuit.js';
import { summarizeCircuit } from '../../../src/summary/circuit.js';
import { cleanGradients, componentsOf, componentValues } from '../../../src/circuit/components.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { expectExit, runInProcess } from '../../support/inProcess.js';

/**
 * GradDrop (AtP*, Kramár et al. 2024: c_AtP+GD(n) = 1/(L−1) · Σ_ℓ |Î_AtP+GD_ℓ(n)|) on a planted three-layer
 * model where L0H0's direct effect and its effect through L1MLP cancel to first order: plain AtP gives L0H0
 * 0, exact patching −5, GradDrop 5 (see cancellingLM for the arithmetic). The numbers tell the formula
 * apart from its near misses: without the 1/(L−1), L0H0 scores 10; with 1/L, 10/3; as Σ_ℓ |dropped_ℓ − AtP|
 * (this module's first reading), L0H0 10; with the 1/(L−1) but |dropped_ℓ − AtP|, L1MLP 2.5.
 */
describe('GradDrop on a planted cancellation', () => {
  let model: Model;
  let dir: string;
  beforeAll(async () => {
    dir = writePlanted(cancellingLM());
    model = await loadModel(dir);
  });
  const request: CircuitRequest = {
    ...{ clean: 'b a', corrupted: 'b b', answer: ' c', wrong: ' b' },
    ...{ method: 'atp*', ablation: 'corrupted', k: 1, exactBudget: 100, steps: 4, gradDrop: true },
  };
  const byName = (r: Awaited<ReturnType<typeof circuitReport>>) =>
    Object.fromEntries(r.components.map((c) => [c.component, c]));

  it('plain AtP misses the head whose paths cancel; exact patching does not', async () => {
    const r = await circuitReport(model, { ...request, method: 'atp', gradDrop: false });
    expect(r.metric.clean).toBeCloseTo(5, 5);
    expect(r.metric.corrupted).toBeCloseTo(0, 5);
    const c = byName(r);
    expect(Math.abs(c.L0H0.effect)).toBeLessThan(1e-5);
    expect(c.L0H0.exact).toBeCloseTo(-5, 5);
    expect(c.L1MLP.effect).toBeCloseTo(5, 5);
    expect(c.L1MLP.exact).toBeCloseTo(5, 5);
  });

  it('GradDrop flags it: dropping layer 1 from the backward pass leaves the direct path, −10', async () => {
    const r = await circuitReport(model, request);
    const c = byName(r);
    const head = c.L0H0.gradDrop!;
    expect(Math.abs(head.atp)).toBeLessThan(1e-5);
    // Its own layer dropped: no path left (0); layer 1 dropped: only the direct path, 10 · (0 − 1); layer 2
    // (which writes nothing) dropped: plain AtP, 0. Score (0 + 10 + 0) / (3 − 1) = 5, |exact effect|.
    expect(head.dropped).toEqual([0, -10, 0].map((x) => expect.closeTo(x, 5)));
    expect(head.score).toBeCloseTo(5, 5);
    expect(head.score).toBeCloseTo(Math.abs(c.L0H0.exact!), 5);
    // L1MLP: layer 0 dropped is before it (AtP, 5), its own layer 0, layer 2 carries nothing of it (AtP, 5):
    // (5 + 0 + 5) / 2 = 5 = |AtP|, as for any component whose paths do not cancel.
    expect(c.L1MLP.gradDrop!.atp).toBeCloseTo(5, 5);
    expect(c.L1MLP.gradDrop!.dropped).toEqual([5, 0, 5].map((x) => expect.closeTo(x, 5)));
    expect(c.L1MLP.gradDrop!.score).toBeCloseTo(5, 5);
    for (const n of ['L0MLP', 'L1H0', 'L2H0', 'L2MLP']) expect(c[n].gradDrop!.score).toBeLessThan(1e-6);
    // One clean backward pass and one each with layers 1 and 2 dropped.
    expect(r.backwardPasses).toBe(3);
  });

  it('ranks by GradDrop: the circuit is the two components that carry the behaviour, and it agrees with |exact|', async () => {
    const r = await circuitReport(model, { ...request, k: 2 });
    expect(r.rankedBy).toBe('gradDrop');
    expect(new Set(r.circuit)).toEqual(new Set(['L0H0', 'L1MLP']));
    const scores = r.components.map((c) => c.gradDrop!.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Scores 5, 5, 0 … against |exact| 5, 5, 0 …: the same order up to ties.
    expect(r.agreement!.gradDrop!.spearman).toBeCloseTo(1, 5);
    expect(r.agreement!.gradDrop!.pearson).toBeCloseTo(1, 5);
    expect(summarizeCircuit(r).text).toMatch(/L0H0 has the largest GradDrop score, 5\.000 \(its atp\* estimate/);
    expect(circuitTable(r)).toMatch(/GradDrop against \|exact\|: Pearson 1\.000, Spearman 1\.000/);
    const plain = await circuitReport(model, { ...request, gradDrop: false, k: 2 });
    expect(plain.rankedBy).toBeUndefined();
    expect(plain.agreement!.gradDrop).toBeUndefined();
  });

  it('over --data, each score is the mean of the per-pair scores (E over pairs of the per-pair c_AtP+GD)', async () => {
    const pairs = [
      { clean: 'b a', corrupted: 'b b', answer: ' c', wrong: ' b', source: 'x:1' },
      // "a a" against "b a": the last position, the only one read (every head attends to itself), is the same
      // in both (x = 1), so nothing differs there: every score 0.
      { clean: 'a a', corrupted: 'b a', answer: ' c', wrong: ' b', source: 'x:2' },
    ];
    const { clean: _c, corrupted: _x, answer: _a, wrong: _w, ...options } = request;
    const r = await circuitDatasetReport(model, pairs, options);
    const c = Object.fromEntries(r.components.map((e) => [e.component, e]));
    expect(r.rankedBy).toBe('gradDrop');
    expect(c.L0H0.gradDrop!.score).toBeCloseTo((5 + 0) / 2, 5);
    expect(c.L1MLP.gradDrop!.score).toBeCloseTo((5 + 0) / 2, 5);
    expect(c.L0H0.gradDrop!.dropped).toEqual([0, -5, 0].map((x) => expect.closeTo(x, 5)));
    expect(new Set(r.circuit)).toEqual(new Set(['L0H0']));
  });

  it('is left out without --graddrop and refused with a method other than atp*', async () => {
    const r = await circuitReport(model, { ...request, gradDrop: false });
    expect(r.components.every((c) => c.gradDrop === undefined)).toBe(true);
    await expect(circuitReport(model, { ...request, method: 'ig' })).rejects.toThrow(/graddrop.*atp\*/);
  });

  it('the CLI: --graddrop adds the JSON field with atp*, and is a usage error with another method', async () => {
    const args = ['circuit', 'b a', '--corrupted', 'b b', '--answer', ' c', '--wrong', ' b', '--model', dir];
    const ok = await runInProcess([...args, '--method', 'atp*', '--graddrop', '--json']);
    expectExit(ok, 0);
    const report = JSON.parse(ok.stdout) as { components: { component: string; gradDrop: { score: number } }[] };
    const head = report.components.find((c) => c.component === 'L0H0')!;
    expect(head.gradDrop.score).toBeCloseTo(5, 5);
    expectExit(await runInProcess([...args, '--graddrop']), 2, /--graddrop is part of AtP\*: it needs --method atp\*/);
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'graddrop-'));
    const data = path.join(folder, 'pairs.jsonl');
    fs.writeFileSync(data, JSON.stringify({ clean: 'b a', corrupted: 'b b', answer: ' c', wrong: ' b' }) + '\n');
    const withData = await runInProcess(['circuit', '--data', data, '--model', dir, '--method', 'atp*', '--graddrop']);
    expectExit(withData, 0);
    expect(withData.stdout).toMatch(/GradDrop against \|exact\|: Pearson 1\.000, Spearman 1\.000/);
    fs.rmSync(folder, { recursive: true });
  });

  it('the score: 1/(L−1) · Σ_ℓ |dropped_ℓ| (brute force on made-up terms), |AtP| with one layer', () => {
    expect(gradDropScore([0, -10, 4, -2], 1)).toBeCloseTo(16 / 3, 12);
    expect(gradDropScore([3, 3, 0, 3], 3)).toBeCloseTo(3, 12);
    expect(gradDropScore([0], -2)).toBe(2);
  });

  it('ranks by GradDrop where it scored, by |effect| otherwise (ties in component order)', () => {
    const e = (effect: number, score?: number) =>
      ({ effect, ...(score !== undefined && { gradDrop: { score, atp: effect, dropped: [] } }) }) as ComponentEffect;
    expect(rankOrder([e(0.1), e(-3), e(2), e(-2)])).toEqual([1, 2, 3, 0]);
    expect(rankOrder([e(0.1, 4), e(-3, 1), e(2, 2), e(-2, 2)])).toEqual([0, 2, 3, 1]);
  });

  it('the stop-gradient must sit on the layer after the head: on its own layer it exposes nothing', async () => {
    const task = taskOf(model, request);
    const components = await componentsOf(model, task.clean);
    const head = components.find((c) => c.kind === 'head' && c.layer === 0)!;
    // ∂metric/∂(L0H0 output) at the last position ("<s> b a": position 2), d_head 1.
    const atLast = async (drop?: number) =>
      componentValues((await cleanGradients(model, task, components, undefined, drop)).gradients, head)[2];
    expect(Math.abs(await atLast())).toBeLessThan(1e-5); // 10 · (1 − x) at x = 1: the two paths cancel
    expect(Math.abs(await atLast(0))).toBeLessThan(1e-5); // held constant itself: its gradient still arrives whole
    expect(await atLast(1)).toBeCloseTo(10, 5); // layer 1 cut: the direct path alone
  });
});
