import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { negationClassifier, writePlanted } from '../../../fixtures/planted.js';
import { testSuite } from '../../../src/hypothesis/report.js';
import { readSuite } from '../../../src/hypothesis/suite.js';
import { loadModel } from '../../../src/model/load.js';
import { repoRoot } from '../../helpers.js';

describe('interp test on the planted negation classifier (the label depends only on "not")', async () => {
  const model = await loadModel(writePlanted(negationClassifier()));
  const suite = readSuite(path.join(repoRoot, 'test', 'unit', 'hypothesis', 'planted.tests.yaml'));
  const report = await testSuite(model, suite, {
    seed: 0,
    permutations: 1000,
    maxFailureRate: null,
    explain: 3,
    method: 'occlusion',
  });
  const byName = Object.fromEntries(report.tests.map((t) => [t.name, t]));

  it('passes invariance under name changes and fails the directional test built to fail', () => {
    expect(byName['names-invariant'].status).toBe('pass');
    expect(byName['names-invariant'].failed).toBe(0);
    expect(byName['negation-up-built-to-fail'].status).toBe('fail');
    expect(byName['negation-up-built-to-fail'].failureRate.rate).toBe(1);
  });

  it('gives share on {not} >= 0.9 p < 0.01, and an irrelevant word set no significance', () => {
    expect(byName['reason-not'].hypothesis!.pValue).toBeLessThan(0.01);
    expect(byName['reason-not'].status).toBe('pass');
    expect(byName['reason-movie'].hypothesis!.pValue).toBeGreaterThan(0.05);
    expect(byName['reason-movie'].status).toBe('fail');
  });

  it('says per example where a perturbation cannot apply', () => {
    expect(byName['name-swap'].skipped.map((s) => s.reason)).toEqual(['no first name from the list in the text']);
    expect(byName['negation-up-built-to-fail'].notApplicable).toBe(1);
  });
});
