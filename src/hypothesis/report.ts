import type { Model } from '../model/types.js';
import { holm, wilson } from '../util/stats.js';
import { buildCases, type Case } from './cases.js';
import { judgeCircuit } from './circuits.js';
import { judgeCase, type Verdict } from './evaluate.js';
import {
  explainWords,
  judgeReason,
  shareHypothesis,
  type Explained,
  type Hypothesis,
  type ShareSample,
} from './reasons.js';
import { readingOf, readTexts, scoreTarget } from './score.js';
import { DEFAULT_METHOD, type Expectation, type ExpectationKind, type Suite, type TestSpec } from './suite.js';

/**
 * `interp test SUITE`: every test of a suite run on one model, batched, with its failure rate and Wilson
 * interval, its failing examples ranked and explained side by side with their originals, the population
 * hypotheses about reasons tested (Holm across the suite), and each test's verdict against its gate.
 */

export const TEST_REPORT_SCHEMA = 'interp/test-report@1';

export interface TestOptions {
  seed: number;
  /** Draws of each randomisation test. */
  permutations: number;
  /** The gate of tests that set none (`max_failure_rate`); null: such tests are reported, not gated. */
  maxFailureRate: number | null;
  /** Failing examples explained per test, worst first. */
  explain: number;
  /** Method of those explanations. */
  method: string;
}

export interface FailingExample extends Verdict {
  /** The failing text's explanation beside its unperturbed original's (same method, same target). */
  explanation?: { original: Explained; variant?: Explained };
}

export interface NotApplicable {
  index: number;
  text: string;
  reason: string;
}

export type TestStatus = 'pass' | 'fail' | 'ungated';

export interface TestResult {
  name: string;
  capability: string;
  kind: ExpectationKind;
  expectation: string;
  examples: number;
  tested: number;
  failed: number;
  notApplicable: number;
  /** Failed / tested, with its 95 % Wilson interval. */
  failureRate: { rate: number; low: number; high: number };
  maxFailureRate: number | null;
  hypothesis: Hypothesis | null;
  status: TestStatus;
  /** Why the test failed its gate, in words. */
  reasons: string[];
  failures: FailingExample[];
  skipped: NotApplicable[];
}

export interface TestReport {
  schema: typeof TEST_REPORT_SCHEMA;
  model: string;
  suite: string;
  seed: number;
  permutations: number;
  alpha: number;
  method: string;
  passed: number;
  failed: number;
  ungated: number;
  tests: TestResult[];
}

const f3 = (x: number) => x.toFixed(3);

/** The expectation in words. */
export function describeExpectation(e: Expectation): string {
  if (e.kind === 'circuit-faithfulness')
    return `top-${e.k} circuit (${e.method}, ${e.ablation} ablation) keeps ≥ ${e.atLeast} of the logit difference`;
  const method = 'method' in e ? ` (${e.method})` : '';
  if (e.kind === 'label') return `label ${e.label}`;
  if (e.kind === 'top-token') return `top token ${JSON.stringify(e.token)}`;
  if (e.kind === 'counterfactual-flips-on') return `removing {${e.words.join(', ')}} flips the prediction`;
  if (e.kind === 'attribution') return `share of |attribution| on {${e.words.join(', ')}} ${e.op} ${e.share}${method}`;
  if (e.kind === 'rank') return `'${e.word}' in the top ${e.top} words${method}`;
  const tolerance = e.kind === 'invariant-under' && e.tolerance !== null ? `, tolerance ${e.tolerance}` : '';
  if (e.kind === 'invariant-under')
    return `invariant under ${e.replace ? `{${e.replace}} replaced` : e.perturbation!.perturb}${tolerance}`;
  return `${e.perturbation.perturb} moves the score ${e.score}${e.by ? ` by ≥ ${e.by}` : ''}`;
}

const isReason = (e: Expectation): e is Extract<Expectation, { kind: 'attribution' | 'rank' }> =>
  e.kind === 'attribution' || e.kind === 'rank';

/** The label or token a behavioural test scores. */
export const targetName = (test: TestSpec, suite: Suite) =>
  test.target ??
  suite.target ??
  (test.expect.kind === 'label' ? test.expect.label : test.expect.kind === 'top-token' ? test.expect.token : undefined);

interface Judged {
  verdicts: Verdict[];
  skipped: NotApplicable[];
  samples: ShareSample[];
  /** Explanations made while judging (reason tests), by example. */
  explained: Map<number, Explained>;
}

const skipsOf = (cases: Case[]): NotApplicable[] =>
  cases.flatMap((c) => (c.skip ? [{ index: c.index, text: c.original, reason: c.skip }] : []));

/** Judge every applicable case of a test: behaviour from the batched readings, reasons from explanations. */
async function judgeTest(
  model: Model,
  test: TestSpec,
  suite: Suite,
  cases: Case[],
  probs: Map<string, Float64Array>,
  options: TestOptions,
): Promise<Judged> {
  const judged: Judged = { verdicts: [], skipped: skipsOf(cases), samples: [], explained: new Map() };
  const live = cases.filter((c) => !c.skip);
  const e = test.expect;
  if (e.kind === 'circuit-faithfulness') {
    for (const c of live) {
      const r = await judgeCircuit(model, test, e, c.index, c.pair!);
      if ('skip' in r) judged.skipped.push({ index: c.index, text: c.original, reason: r.skip });
      else judged.verdicts.push(r.verdict);
    }
    return judged;
  }
  if (!isReason(e)) {
    const target = scoreTarget(model, targetName(test, suite));
    const read = (t: string) => readingOf(model, probs.get(t)!, target);
    judged.verdicts = live.map((c) => judgeCase(e, c, read, target.name));
    return judged;
  }
  const how = { method: e.method, target: test.target ?? suite.target, seed: options.seed };
  for (const c of live) {
    const x = await explainWords(model, c.original, how);
    const r = judgeReason(e, c, x);
    if ('skip' in r) judged.skipped.push({ index: c.index, text: c.original, reason: r.skip });
    else {
      judged.verdicts.push(r.verdict);
      if (r.sample) judged.samples.push(r.sample);
      judged.explained.set(c.index, x);
    }
  }
  judged.skipped.sort((a, b) => a.index - b.index);
  return judged;
}

/** The worst failures first, the first `options.explain` of them explained beside their originals. */
async function explainFailures(
  model: Model,
  judged: Judged,
  suite: Suite,
  test: TestSpec,
  options: TestOptions,
): Promise<FailingExample[]> {
  const failures = judged.verdicts.filter((v) => v.failed).sort((a, b) => b.severity - a.severity || a.index - b.index);
  const out: FailingExample[] = [];
  for (const [rank, v] of failures.entries()) {
    const known = judged.explained.get(v.index);
    // A circuit's failure is explained by its detail (the circuit and the share it keeps), not by attribution.
    if (rank >= options.explain || test.expect.kind === 'circuit-faithfulness') out.push(v);
    else if (known) out.push({ ...v, explanation: { original: known } });
    else {
      const how = { method: options.method, target: test.target ?? suite.target, seed: options.seed };
      const original = await explainWords(model, v.text, how);
      // The variant is explained for the label the original was explained for, so the two compare.
      const variant = v.variant ? await explainWords(model, v.variant, { ...how, target: original.target }) : undefined;
      out.push({ ...v, explanation: { original, ...(variant && { variant }) } });
    }
  }
  return out;
}

async function runTest(
  model: Model,
  suite: Suite,
  test: TestSpec,
  cases: Case[],
  probs: Map<string, Float64Array>,
  options: TestOptions,
): Promise<TestResult> {
  const judged = await judgeTest(model, test, suite, cases, probs, options);
  const failed = judged.verdicts.filter((v) => v.failed).length;
  const { rate, low, high } = wilson(failed, judged.verdicts.length);
  const e = test.expect;
  const share =
    e.kind === 'attribution' ? shareHypothesis(judged.samples, e.op, options.permutations, options.seed) : null;
  return {
    name: test.name,
    capability: test.capability,
    kind: e.kind,
    expectation: describeExpectation(e),
    examples: cases.length,
    tested: judged.verdicts.length,
    failed,
    notApplicable: judged.skipped.length,
    failureRate: { rate, low, high },
    maxFailureRate: test.maxFailureRate ?? options.maxFailureRate,
    hypothesis: share && { ...share, pHolm: share.pValue, significant: false },
    status: 'ungated',
    reasons: [],
    failures: await explainFailures(model, judged, suite, test, options),
    skipped: judged.skipped,
  };
}

/** Holm across the suite's hypotheses, then each test's verdict against its gate. */
function verdicts(results: TestResult[], alpha: number): void {
  const tested = results.filter((r) => r.hypothesis);
  holm(tested.map((r) => r.hypothesis!.pValue)).forEach((p, i) => {
    tested[i].hypothesis!.pHolm = p;
    tested[i].hypothesis!.significant = p < alpha;
  });
  for (const r of results) {
    const gate = r.maxFailureRate;
    if (gate !== null && r.tested === 0)
      r.reasons.push(`no example could be tested (${r.notApplicable} not applicable)`);
    else if (gate !== null && r.failureRate.rate > gate)
      r.reasons.push(`failure rate ${f3(r.failureRate.rate)} exceeds ${gate}`);
    if (r.hypothesis && !r.hypothesis.significant)
      r.reasons.push(`not significant: p = ${f3(r.hypothesis.pValue)} (Holm ${f3(r.hypothesis.pHolm)}) ≥ ${alpha}`);
    r.status = r.reasons.length ? 'fail' : gate === null && !r.hypothesis ? 'ungated' : 'pass';
  }
}

/** Run a suite on a model. */
export async function testSuite(model: Model, suite: Suite, options: TestOptions): Promise<TestReport> {
  const cases = suite.tests.map((test) => buildCases(test, suite, options.seed));
  const texts = suite.tests.flatMap((t, i) =>
    isReason(t.expect) || t.expect.kind === 'circuit-faithfulness'
      ? []
      : cases[i].flatMap((c) => (c.skip ? [] : [c.original, ...c.variants])),
  );
  const probs = await readTexts(model, texts);
  const tests: TestResult[] = [];
  for (const [i, test] of suite.tests.entries())
    tests.push(await runTest(model, suite, test, cases[i], probs, options));
  verdicts(tests, suite.alpha);
  const count = (s: TestStatus) => tests.filter((t) => t.status === s).length;
  return {
    schema: TEST_REPORT_SCHEMA,
    model: model.id,
    suite: suite.name,
    seed: options.seed,
    permutations: options.permutations,
    alpha: suite.alpha,
    method: options.method || DEFAULT_METHOD,
    passed: count('pass'),
    failed: count('fail'),
    ungated: count('ungated'),
    tests,
  };
}
