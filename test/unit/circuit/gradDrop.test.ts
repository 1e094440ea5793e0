import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cancellingLM, writePlanted } from '../../../fixtures/planted.js';
import { circuitReport, taskOf, type CircuitRequest } from '../../../src/circuit/circuit.js';
import { cleanGradients, componentsOf, componentValues } from '../../../src/circuit/components.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { expectExit, runInProcess } from '../../support/inProcess.js';

/**
 * GradDrop (AtP*) on a planted model where L0H0's direct effect and its effect through L1MLP cancel to first
 * order: plain AtP gives L0H0 0, exact patching −5, GradDrop 10 (see cancellingLM for the arithmetic).
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
    // Its own layer dropped: no path left (0); layer 1 dropped: only the direct path, 10 · (0 − 1).
    expect(head.dropped[0]).toBe(0);
    expect(head.dropped[1]).toBeCloseTo(-10, 5);
    expect(head.score).toBeCloseTo(10, 5);
    // L1MLP: nothing after it, so its score is |AtP| from its own layer's term.
    expect(c.L1MLP.gradDrop!.atp).toBeCloseTo(5, 5);
    expect(c.L1MLP.gradDrop!.dropped).toEqual([5, 0].map((x) => expect.closeTo(x, 5)));
    expect(c.L1MLP.gradDrop!.score).toBeCloseTo(5, 5);
    for (const n of ['L0MLP', 'L1H0']) expect(c[n].gradDrop!.score).toBeLessThan(1e-6);
    // One clean backward pass and one with layer 1 dropped.
    expect(r.backwardPasses).toBe(2);
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
    expect(head.gradDrop.score).toBeCloseTo(10, 5);
    expectExit(await runInProcess([...args, '--graddrop']), 2, /--graddrop is part of AtP\*: it needs --method atp\*/);
    const data = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'graddrop-')), 'pairs.jsonl');
    fs.writeFileSync(data, JSON.stringify({ clean: 'b a', corrupted: 'b b', answer: ' c', wrong: ' b' }) + '\n');
    const withData = ['circuit', '--data', data, '--model', dir, '--method', 'atp*', '--graddrop'];
    expectExit(await runInProcess(withData), 2, /--graddrop scores one prompt pair, not --data/);
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
