import { circuitReport } from '../circuit/circuit.js';
import type { CircuitPair } from '../circuit/dataset.js';
import type { Model } from '../model/types.js';
import { inTest } from './cases.js';
import type { Verdict } from './evaluate.js';
import type { Expectation, TestSpec } from './suite.js';

/**
 * circuit-faithfulness: each prompt pair of a test is one example; it fails when its top-k circuit (ranked by
 * the test's circuit method, everything else ablated) keeps less than `at-least` of the logit difference.
 */

export type CircuitExpectation = Extract<Expectation, { kind: 'circuit-faithfulness' }>;

const f3 = (x: number) => x.toFixed(3);

/** Each pair's circuit found and ablated: its verdict (value: the share kept), or why it cannot be judged. */
export async function judgeCircuit(
  model: Model,
  test: TestSpec,
  e: CircuitExpectation,
  index: number,
  pair: CircuitPair,
): Promise<{ verdict: Verdict } | { skip: string }> {
  const request = { ...pair, method: e.method, ablation: e.ablation, k: e.k, exactBudget: 0, steps: 16 };
  const r = await circuitReport(model, request).catch((err: unknown) => {
    throw inTest(test, err, pair.source);
  });
  const kept = r.faithfulness.atK;
  if (!Number.isFinite(kept))
    return { skip: 'ablating every component leaves the logit difference unchanged: faithfulness is undefined' };
  const failed = kept < e.atLeast;
  const detail = `top-${r.circuit.length} circuit {${r.circuit.join(', ')}} keeps ${f3(kept)} of the logit difference (${f3(r.metric.clean)} clean, ${f3(r.metric.corrupted)} corrupted), expected ≥ ${e.atLeast}`;
  const verdict = { index, text: pair.clean, variant: pair.corrupted, failed, value: kept, detail };
  return { verdict: { ...verdict, severity: failed ? e.atLeast - kept : 0 } };
}
