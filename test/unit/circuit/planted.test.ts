import { beforeAll, describe, expect, it } from 'vitest';
import { inductionLM, PLANTED_HEADS, writePlanted } from '../../../fixtures/planted.js';
import { circuitReport, type CircuitRequest } from '../../../src/circuit/circuit.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { expectExit, runInProcess } from '../../support/inProcess.js';

/**
 * The planted induction LM predicts the token that followed the previous occurrence of the current one: a
 * previous-token head (L0H0) writes each token's predecessor, and the induction head (L1H0) finds it
 * through its keys. On "a b c d . a b" it predicts " c"; with the first half corrupted it cannot.
 */
const name = (h: { layer: number; head: number }) => `L${h.layer}H${h.head}`;
const INDUCTION = name(PLANTED_HEADS.induction);
const PREVIOUS = name(PLANTED_HEADS.previousToken);

describe('circuits on the planted induction LM', () => {
  let model: Model;
  let dir: string;
  beforeAll(async () => {
    dir = writePlanted(inductionLM());
    model = await loadModel(dir);
  });
  const request: CircuitRequest = {
    ...{ clean: 'a b c d . a b', corrupted: 'e f g h . a b', answer: ' c', wrong: ' a' },
    ...{ method: 'patch', ablation: 'corrupted', k: 2, exactBudget: 1000, steps: 16 },
  };

  it('exact patching finds exactly the previous-token and induction heads, and they keep the whole behaviour', async () => {
    const r = await circuitReport(model, request);
    expect(r.metric.clean).toBeCloseTo(10, 6);
    expect(r.circuit.sort()).toEqual([PREVIOUS, INDUCTION].sort());
    const [first, second, ...rest] = r.components;
    // Either head alone breaks the behaviour: patching it moves the metric to the corrupted prompt's.
    for (const c of [first, second]) expect(c.effect).toBeCloseTo(r.metric.corrupted - r.metric.clean, 6);
    for (const c of rest) expect(Math.abs(c.effect)).toBeLessThan(1e-9);
    expect(r.faithfulness.curve.map((p) => p.faithfulness)).toEqual([0, 0, 1, 1, 1, 1, 1]);
    expect(r.faithfulness.atK).toBe(1);
    // Kept from size 2 of 6 on: CPR = (0.5 + 4) / 6, CMD its complement.
    expect(r.faithfulness.cpr).toBeCloseTo(4.5 / 6, 12);
    expect(r.faithfulness.cmd).toBeCloseTo(1.5 / 6, 12);
  });

  it('attribution patching gets the induction head exactly and shows its saturation failure on the previous-token head', async () => {
    const r = await circuitReport(model, { ...request, method: 'atp' });
    const byName = Object.fromEntries(r.components.map((c) => [c.component, c]));
    // The induction head's output enters the logits linearly: its first-order estimate is exact.
    expect(byName[INDUCTION].effect).toBeCloseTo(byName[INDUCTION].exact!, 6);
    // The previous-token head acts through the induction head's saturated softmax, where the gradient is 0:
    // AtP reports nothing for a head whose exact effect is the whole behaviour (Kramár et al. 2024).
    expect(Math.abs(byName[PREVIOUS].effect)).toBeLessThan(1e-6);
    expect(byName[PREVIOUS].exact).toBeCloseTo(r.metric.corrupted - r.metric.clean, 6);
    // Its per-position estimate sums to its effect; the only position that counts is the last.
    const ind = byName[INDUCTION].perPosition!;
    expect(ind.reduce((a, b) => a + b, 0)).toBeCloseTo(byName[INDUCTION].effect, 9);
    expect(r.backwardPasses).toBe(1);
  });

  it('the integrated-gradients estimate sees through the saturated softmax: both planted heads come first', async () => {
    const r = await circuitReport(model, { ...request, method: 'ig' });
    expect(r.circuit.sort()).toEqual([PREVIOUS, INDUCTION].sort());
    const byName = Object.fromEntries(r.components.map((c) => [c.component, c]));
    // The induction head stays exact; the previous-token head is found, though underestimated (−2.06 of −11.25
    // with 16 steps), as a first-order estimate along a path through a switch is.
    expect(byName[INDUCTION].effect).toBeCloseTo(byName[INDUCTION].exact!, 6);
    expect(byName[PREVIOUS].effect).toBeLessThan(-1);
    expect(r.agreement!.spearman).toBeGreaterThan(0.9);
    expect(r.backwardPasses).toBe(16);
  });

  it('the CLI gates on the faithfulness of the top-k circuit (exit 3 below it)', async () => {
    const args = ['circuit', request.clean, '--corrupted', request.corrupted, '--answer', ' c', '--wrong', ' a'];
    const ok = await runInProcess([
      ...args,
      '--model',
      dir,
      '--method',
      'patch',
      '--k',
      '2',
      '--min-faithfulness',
      '0.95',
    ]);
    expectExit(ok, 0);
    expect(ok.stdout).toMatch(/keeps 100\.0 % of the logit difference/);
    const short = await runInProcess([
      ...args,
      '--model',
      dir,
      '--method',
      'patch',
      '--k',
      '1',
      '--min-faithfulness',
      '0.95',
    ]);
    expectExit(short, 3, /top-1 circuit keeps 0\.0000 of the logit difference < 0\.95/);
    expectExit(await runInProcess([...args.slice(0, 4), '--model', dir]), 2, /--answer is required/);
    expectExit(
      await runInProcess(['circuit', 'a b c', '--corrupted', 'a b', '--answer', ' c', '--wrong', ' a', '--model', dir]),
      2,
      /--corrupted must have the clean prompt's token length/,
    );
  });
});
