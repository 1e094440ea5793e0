import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { negationClassifier, writePlanted } from '../../../fixtures/planted.js';
import { testSuite } from '../../../src/hypothesis/report.js';
import { readSuite } from '../../../src/hypothesis/suite.js';
import { loadModel } from '../../../src/model/load.js';
import { summarizeTest } from '../../../src/summary/test.js';
import { repoRoot } from '../../helpers.js';

/** The value a JSON pointer (RFC 6901) names, or undefined. */
const at = (doc: unknown, pointer: string): unknown =>
  pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], doc);

describe('interp test --summary on the planted negation classifier', async () => {
  const model = await loadModel(writePlanted(negationClassifier()));
  const suite = readSuite(path.join(repoRoot, 'test', 'unit', 'hypothesis', 'planted.tests.yaml'));
  const report = await testSuite(model, suite, {
    seed: 0,
    permutations: 1000,
    maxFailureRate: 0,
    explain: 3,
    method: 'occlusion',
  });

  it('states the counts, the failing tests with their rates, and the hypotheses as measured', async () => {
    const s = await summarizeTest(model, suite, report);
    expect(s.claims[0].text).toBe(
      'On planted-negation, 6 of 8 gated tests pass and negation-up-built-to-fail and reason-movie fail.',
    );
    expect(s.text).toContain(
      'negation-up-built-to-fail (negation: add-negation moves the score up by ≥ 0.1) fails 4 of 4 examples, 1.000 [0.510, 1.000].',
    );
    expect(s.text).toMatch(/reason-not: share of \|attribution\| on \{not\} >= 0.9 \(occlusion\) is significant/);
    expect(s.text).toMatch(
      /reason-movie: share of \|attribution\| on \{movie\} >= 0.9 \(occlusion\) is not significant/,
    );
    for (const c of s.claims) for (const p of c.evidence) expect(at(report, p), p).not.toBeUndefined();
  });

  it('scores the worst failing example again; the claim stays because it still fails', async () => {
    const s = await summarizeTest(model, suite, report);
    const worst = s.claims.find((c) => c.text.startsWith('Its worst example'))!;
    expect(worst.text).toMatch(
      /^Its worst example: “the movie is good” → “the movie is not good”, Δp\(POSITIVE\) -0\.612/,
    );
    expect(worst.verification).toMatchObject({ kind: 'rescore', forwardPasses: 2 });
    expect(worst.verification!.after - worst.verification!.before!).toBeCloseTo(-0.612, 3);
    expect(s.dropped).toEqual([]);
    expect(s.forwardPasses).toBe(2);
  });

  it('drops a failing example that passes when scored again, and says why', async () => {
    const i = report.tests.findIndex((t) => t.name === 'negation-up-built-to-fail');
    const tampered = structuredClone(report);
    // The pair reversed: adding "not" is claimed to fail "up", but removing it raises the score.
    Object.assign(tampered.tests[i].failures[0], { text: 'the movie is not good', variant: 'the movie is good' });
    const s = await summarizeTest(model, suite, tampered);
    expect(s.claims.some((c) => c.text.startsWith('Its worst example'))).toBe(false);
    expect(s.dropped).toHaveLength(1);
    expect(s.dropped[0].reason).toMatch(/^scored again on its own, it passes: Δp\(POSITIVE\) \+0\.612/);
  });
});
