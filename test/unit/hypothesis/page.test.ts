import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { negationClassifier, writePlanted } from '../../../fixtures/planted.js';
import { testSuite } from '../../../src/hypothesis/report.js';
import { readSuite } from '../../../src/hypothesis/suite.js';
import { loadModel } from '../../../src/model/load.js';
import { reportHtml } from '../../../src/render/html.js';
import { buildReport, type ReportRequest } from '../../../src/report/page.js';
import { repoRoot } from '../../helpers.js';

/** `interp report --suite`: the page lists the suite's results, the same numbers `interp test` measures. */
describe('the report page with a test suite, on the planted negation classifier', async () => {
  const model = await loadModel(writePlanted(negationClassifier()));
  const suite = readSuite(path.join(repoRoot, 'test', 'unit', 'hypothesis', 'planted.tests.yaml'));
  const request: ReportRequest = {
    examples: [{ id: '1', text: 'the movie was not good' }],
    methods: ['occlusion'],
    seed: 0,
    counterfactualBudget: 0,
    maxTokens: 64,
    invocation: 'interp report',
    version: 'test',
  };

  it('holds the suite report interp test gives, and shows every test and the worst failures', async () => {
    const page = await buildReport(model, { ...request, suite });
    const direct = await testSuite(model, suite, {
      seed: 0,
      permutations: 1000,
      maxFailureRate: null,
      explain: 3,
      method: 'occlusion',
    });
    expect(page.tests).toEqual(direct);
    const html = reportHtml(page);
    const section = html.slice(html.indexOf('<section id="tests"'), html.indexOf('<section aria-labelledby="h-json"'));
    expect(section).toContain('<h2 id="h-tests">Test suite planted-negation</h2>');
    expect(section).toContain('2 passed, 2 failed, 4 without a gate');
    for (const t of direct.tests) expect(section).toContain(`<tr><td>${t.name}</td>`);
    expect(section).toContain(
      '<tr><td>negation-up-built-to-fail</td><td>negation: add-negation moves the score up by ≥ 0.1</td><td class="num">4 (1)</td><td class="num">1.000 [0.510, 1.000]</td><td class="num">-</td><td>fail</td></tr>',
    );
    expect(section).toContain('<h3>negation-up-built-to-fail: 4 of 4 failed</h3>');
    expect(section).toContain('variant  (occlusion, POSITIVE): not -0.612');
  });

  it('without a suite the page has no such section and its JSON no tests key', async () => {
    const page = await buildReport(model, request);
    expect('tests' in page).toBe(false);
    expect(reportHtml(page)).not.toContain('id="tests"');
  });
});
