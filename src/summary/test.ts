import { judgeCase } from '../hypothesis/evaluate.js';
import { targetName, type TestReport, type TestResult } from '../hypothesis/report.js';
import { readingOf, readTexts, scoreTarget } from '../hypothesis/score.js';
import type { Suite } from '../hypothesis/suite.js';
import type { Model } from '../model/types.js';
import { wilson } from '../util/stats.js';
import { listOf, quoted, summaryOf, type Candidate, type Summary } from './claims.js';

/**
 * The summary of `interp test`: counts and failure rates as measured, and each failing test's worst example
 * scored again on its own (not in the suite's batch): the claim that it fails stays only if it still does.
 */

const f3 = (x: number) => x.toFixed(3);
const rateText = (r: { rate: number; low: number; high: number }) => `${f3(r.rate)} [${f3(r.low)}, ${f3(r.high)}]`;

function countsClaim(r: TestReport): Candidate {
  const failed = r.tests.filter((t) => t.status === 'fail').map((t) => t.name);
  const gated = r.passed + r.failed;
  return {
    text:
      `On ${r.suite}, ${r.passed} of ${gated} gated ${gated === 1 ? 'test passes' : 'tests pass'}` +
      (failed.length ? ` and ${listOf(failed)} ${failed.length === 1 ? 'fails' : 'fail'}` : '') +
      (r.ungated
        ? `; ${r.ungated} ${r.ungated === 1 ? 'test has' : 'tests have'} no gate and ${r.ungated === 1 ? 'is' : 'are'} measured only`
        : ''),
    evidence: ['/passed', '/failed', '/ungated'],
  };
}

/** The capability whose examples fail most often, pooled over its behavioural tests, with its Wilson interval. */
function capabilityClaim(r: TestReport): Candidate | null {
  const pools = new Map<string, { failed: number; tested: number; tests: number[] }>();
  r.tests.forEach((t, i) => {
    if (t.hypothesis || t.kind === 'attribution' || t.kind === 'rank' || t.kind === 'circuit-faithfulness' || !t.tested)
      return;
    const p = pools.get(t.capability) ?? { failed: 0, tested: 0, tests: [] };
    p.failed += t.failed;
    p.tested += t.tested;
    p.tests.push(i);
    pools.set(t.capability, p);
  });
  const ranked = [...pools.entries()].sort((a, b) => b[1].failed / b[1].tested - a[1].failed / a[1].tested);
  if (ranked.length < 2 || ranked[0][1].failed === 0) return null;
  const [name, p] = ranked[0];
  return {
    text: `Of the capabilities, ${name} fails most often: ${p.failed} of ${p.tested} examples, ${rateText(wilson(p.failed, p.tested))}`,
    evidence: p.tests.map((i) => `/tests/${i}/failureRate`),
  };
}

/** A failing test's rate, and its worst example judged again from a fresh reading of its texts. */
async function failureClaims(model: Model, suite: Suite, r: TestReport, i: number): Promise<Candidate[]> {
  const t: TestResult = r.tests[i];
  const out: Candidate[] = [
    {
      text: `${t.name} (${t.capability}: ${t.expectation}) fails ${t.failed} of ${t.tested} examples, ${rateText(t.failureRate)}`,
      evidence: [`/tests/${i}/failureRate`],
    },
  ];
  const spec = suite.tests.find((s) => s.name === t.name);
  const worst = t.failures[0];
  if (!spec || !worst || t.kind === 'attribution' || t.kind === 'rank' || t.kind === 'circuit-faithfulness') return out;
  const target = scoreTarget(model, targetName(spec, suite));
  const texts = worst.variant ? [worst.text, worst.variant] : [worst.text];
  const probs = await readTexts(model, texts);
  const read = (x: string) => readingOf(model, probs.get(x)!, target);
  const again = judgeCase(
    spec.expect,
    { index: worst.index, original: worst.text, variants: texts.slice(1) },
    read,
    target.name,
  );
  out.push({
    text: `Its worst example: ${quoted(worst.text)}${worst.variant ? ` → ${quoted(worst.variant)}` : ''}, ${again.detail}`,
    evidence: [`/tests/${i}/failures/0`],
    verification: {
      kind: 'rescore',
      before: read(worst.text).score,
      after: read(worst.variant ?? worst.text).score,
      forwardPasses: texts.length,
    },
    holds: again.failed,
    reason: `scored again on its own, it passes: ${again.detail}`,
  });
  return out;
}

function hypothesisClaims(r: TestReport): Candidate[] {
  return r.tests.flatMap((t, i) =>
    t.hypothesis
      ? [
          {
            text: `${t.name}: ${t.expectation} is ${t.hypothesis.significant ? 'significant' : 'not significant'} against random words of the same count (p = ${f3(t.hypothesis.pValue)}, Holm ${f3(t.hypothesis.pHolm)}, α ${r.alpha})`,
            evidence: [`/tests/${i}/hypothesis`],
          },
        ]
      : [],
  );
}

export async function summarizeTest(model: Model, suite: Suite, r: TestReport): Promise<Summary> {
  const claims: Candidate[] = [countsClaim(r)];
  const capability = capabilityClaim(r);
  if (capability) claims.push(capability);
  for (const [i, t] of r.tests.entries())
    if (t.status === 'fail' && t.failed) claims.push(...(await failureClaims(model, suite, r, i)));
  claims.push(...hypothesisClaims(r));
  claims.push({
    text: 'Failure rates are over the examples each test could apply to, with 95 % Wilson intervals',
    evidence: [],
  });
  return summaryOf(claims);
}
