import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { negationClassifier, writePlanted } from '../../../fixtures/planted.js';
import { testSuite, type TestOptions } from '../../../src/hypothesis/report.js';
import { readSuite } from '../../../src/hypothesis/suite.js';
import { loadModel } from '../../../src/model/load.js';
import { testJunit } from '../../../src/render/test.js';
import { repoRoot } from '../../helpers.js';
import { junitSchemaErrors } from '../../support/junit.js';

/**
 * `interp test --junit` against the JUnit schema CI systems read (test/support/junit-10.xsd, from the Jenkins
 * xUnit plugin's junit-10.xsd), validated by libxml2: passed, failed and ungated (skipped) tests, and names
 * that need escaping. The schema check itself is shown to reject what a CI reader would reject.
 */
describe('JUnit XML of interp test validates against the Jenkins junit-10 schema', async () => {
  const model = await loadModel(writePlanted(negationClassifier()));
  const suite = readSuite(path.join(repoRoot, 'test', 'unit', 'hypothesis', 'planted.tests.yaml'));
  const options: TestOptions = { seed: 0, permutations: 200, maxFailureRate: null, explain: 3, method: 'occlusion' };

  it('gated (passes and failures, with explanations in the failure text) and ungated (skipped)', async () => {
    const gated = await testSuite(model, suite, { ...options, maxFailureRate: 0 });
    const ungated = await testSuite(model, suite, options);
    for (const report of [gated, ungated]) {
      const xml = testJunit(report);
      expect(await junitSchemaErrors(xml)).toEqual([]);
      expect(xml.match(/<testcase /g)).toHaveLength(report.tests.length);
    }
    expect(testJunit(gated).match(/<failure /g)).toHaveLength(2);
    expect(testJunit(ungated)).toMatch(/<skipped /);
  });

  it('names and texts with markup, quotes and control characters stay valid', async () => {
    const report = await testSuite(model, suite, { ...options, maxFailureRate: 0 });
    const odd = {
      ...report,
      suite: 'a "suite" <with> & \u0001 odd',
      model: "it's <model> & co",
      tests: report.tests.map((t) => ({ ...t, name: `${t.name} <&"'>\u0007`, capability: 'x & y' })),
    };
    expect(await junitSchemaErrors(testJunit(odd))).toEqual([]);
  });

  it('the schema rejects what CI readers reject', async () => {
    const xml = testJunit(await testSuite(model, suite, { ...options, maxFailureRate: 0 }));
    const broken = {
      'a testcase without a name': xml.replace(/<testcase name="[^"]*"/, '<testcase'),
      'a count that is not a number': xml.replace(/tests="\d+"/, 'tests="eight"'),
      'a negative count': xml.replace(/failures="\d+"/, 'failures="-1"'),
      'a testsuite without errors': xml.replace(/ errors="0"/g, ''),
      'a failure outside a testcase': xml.replace('<properties>', '<failure/><properties>'),
      'an unknown element': xml.replace('<properties>', '<result/><properties>'),
      'a time that is not seconds': xml.replace(' time="0">', ' time="1 s">'),
    };
    for (const [what, text] of Object.entries(broken)) {
      expect(text, what).not.toBe(xml);
      expect((await junitSchemaErrors(text)).length, what).toBeGreaterThan(0);
    }
  });
});
