import path from 'node:path';
import { circuitReport } from '../circuit/circuit.js';
import { readCircuitPairs, type CircuitPair } from '../circuit/dataset.js';
import { InterpError, plainParam, usageError } from '../errors.js';
import type { Model } from '../model/types.js';
import type { Verdict } from './evaluate.js';
import type { Expectation, TestSpec } from './suite.js';

/**
 * circuit-faithfulness: each prompt pair of a test is one example; it fails when its top-k circuit (ranked by
 * the test's circuit method, everything else ablated) keeps less than `at-least` of the logit difference.
 */

export type CircuitExpectation = Extract<Expectation, { kind: 'circuit-faithfulness' }>;

/** A usage error from the circuit code, reworded to name the test (and the pair) it came from. */
function inTest(test: TestSpec, e: unknown, source?: string): unknown {
  if (!(e instanceof InterpError) || e.kind !== 'usage') return e;
  return usageError(`test '${test.name}': ${source ? `${source}: ` : ''}${e.worded(plainParam)}`);
}

/** The pairs of a test, read relative to its suite file, as one case each (clean text, corrupted variant). */
export function pairCases(
  test: TestSpec,
  suiteFile: string,
): { index: number; original: string; variants: string[]; pair: CircuitPair }[] {
  const file = path.resolve(path.dirname(suiteFile), test.pairs!);
  let pairs: CircuitPair[];
  try {
    pairs = readCircuitPairs(file, 'pairs');
  } catch (e) {
    throw inTest(test, e);
  }
  return pairs.map((pair, index) => ({ index, original: pair.clean, variants: [pair.corrupted], pair }));
}

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
