import { describe, expect, it } from 'vitest';
import type { CircuitReport } from '../../../src/circuit/circuit.js';
import { summarizeCircuit } from '../../../src/summary/circuit.js';

const report = (atK: number, agreement: CircuitReport['agreement']): CircuitReport =>
  ({
    schema: 'interp/circuit@1',
    model: '/models/planted-lm',
    ...{ clean: 'a b', corrupted: 'e f', answer: ' c', wrong: ' a', method: 'atp', ablation: 'corrupted' },
    metric: { clean: 10, corrupted: -1.25 },
    components: [
      { component: 'L1H0', kind: 'head', layer: 1, head: 0, effect: -11.25, perPosition: null, exact: null },
    ],
    circuit: ['L1H0', 'L0H0'],
    faithfulness: { curve: [], atK, cpr: 0, cmd: 0 },
    agreement,
    forwardPasses: 3,
    backwardPasses: 1,
  }) as CircuitReport;

describe('the circuit in words', () => {
  it('states the share the circuit keeps as the ablation measured it, and the estimate’s agreement where it ran', () => {
    const s = summarizeCircuit(report(0.954, { pearson: 0.99, spearman: 0.93 }));
    expect(s.text).toBe(
      'On planted-lm, ablating (corrupted) everything but these 2 components, L1H0 and L0H0, keeps 95 % of the logit difference that ablating every component takes away. ' +
        'L1H0 has the largest estimated effect, -11.250 against a clean − corrupted gap of 11.250. ' +
        'The atp estimates rank the components as exact patching does with Spearman ρ = 0.93.',
    );
    expect(s.claims[0].evidence).toContain('/faithfulness/atK');
  });

  it('says when the circuit keeps less than half, and says nothing of agreement that was not measured', () => {
    const s = summarizeCircuit(report(0.31, null));
    expect(s.text).toMatch(/keeps 31 % .*: the behaviour is carried more widely than this circuit\./);
    expect(s.text).not.toMatch(/Spearman/);
  });
});
