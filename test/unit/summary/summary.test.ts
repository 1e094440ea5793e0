import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADDITIVE_WEIGHTS, additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { compareMethods } from '../../../src/comparison.js';
import { counterfactualReport } from '../../../src/counterfactual/report.js';
import { explainText, prepare, type Attribution, type ExplainRequest } from '../../../src/explain.js';
import { MaskedScorer } from '../../../src/masking/scorer.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { RunContext } from '../../../src/runtime/context.js';
import { summarizeAttribution, summarizeComparison, withSummary } from '../../../src/summary/explain.js';
import { summarizeCounterfactual } from '../../../src/summary/results.js';
import { tempDir } from '../../helpers.js';

/** Summaries on the planted additive classifier: the POSITIVE logit is exactly the sum of known word weights. */

let model: Model;
const text = 'the film was great but boring';
const request: ExplainRequest = { text, method: 'shapley', granularity: 'word', target: { score: 'logit' } };

beforeAll(async () => {
  model = await loadModel(writePlanted(additiveClassifier()));
});

/** The score of the text with the given word features replaced, run independently of the summary. */
async function scoreWithout(removed: number[]): Promise<number> {
  const p = await prepare(model, request);
  const scorer = new MaskedScorer(model, p.encoding, p.features, p.target, p.replacement, new RunContext());
  const [s] = await scorer.score([Uint8Array.from(p.features, (_, i) => (removed.includes(i) ? 0 : 1))]);
  return s;
}

describe('summaries of explanations', () => {
  it('names the planted drivers and checks its removal claims with real forward passes', async () => {
    const r = await explainText(model, request);
    const s = await summarizeAttribution(model, request, r);
    // great (+2.5) for, boring (−2.0) against: exact Shapley values of an additive logit are the weights.
    expect(s.text).toContain('shapley credits “great” (+2.500) most.');
    expect(s.text).toContain('“boring” (−2.000) counts against it.');
    const removal = s.claims.find((c) => c.text.startsWith('Removing “great”'))!;
    const great = r.features.findIndex((f) => f.text === 'great');
    expect(removal.verification).toMatchObject({ kind: 'remove', features: [great], before: r.fullScore });
    expect(removal.verification!.after).toBeCloseTo(await scoreWithout([great]), 6);
    expect(removal.verification!.after).toBeCloseTo(r.fullScore - ADDITIVE_WEIGHTS.great, 4);
    const raise = s.claims.find((c) => c.text.startsWith('Removing “boring”'))!;
    expect(raise.verification!.after).toBeCloseTo(r.fullScore + 2.0, 4);
    expect(s.dropped).toEqual([]);
    for (const c of s.claims) for (const e of c.evidence) expect(e).toMatch(/^\/[\w/]+$/);
  });

  it('drops a claim that its verification run contradicts (not softened)', async () => {
    const r = await explainText(model, request);
    // Forge the explanation: credit "film" (planted weight 0) with what "great" earned.
    const film = r.features.findIndex((f) => f.text === 'film');
    const forged: Attribution = {
      ...r,
      features: r.features.map((f, i) => ({
        ...f,
        attribution: i === film ? 3 : f.text === 'great' ? 0 : f.attribution,
      })),
    };
    const s = await summarizeAttribution(model, request, forged);
    expect(s.text).toContain('credits “film” (+3.000) most'); // what the explanation says, reported as such
    expect(s.text).not.toContain('Removing “film”');
    expect(s.text).not.toContain('With only “film” kept');
    expect(s.dropped.map((d) => d.text)).toEqual([
      expect.stringMatching(/^Removing “film” lowers the logit of POSITIVE/),
      expect.stringMatching(/^With only “film” kept/),
    ]);
    expect(s.dropped[0].reason).toMatch(/^removing them left the score at /);
  });

  it('counts its verification passes in the result', async () => {
    const r = await explainText(model, { ...request, method: 'kernel-shap', samples: 40 } as ExplainRequest);
    const withIt = await withSummary(model, { ...request, method: 'kernel-shap' }, r);
    expect(withIt.summary!.forwardPasses).toBeGreaterThan(0);
    expect(withIt.forwardPasses).toBe(r.forwardPasses + withIt.summary!.forwardPasses);
  });

  it('says in words where methods disagree (Spearman below 0.5), and only there', async () => {
    const c = await compareMethods(model, request, ['shapley', 'occlusion', 'random']);
    const s = await summarizeComparison(model, request, c);
    for (let i = 0; i < 3; i++)
      for (let j = i + 1; j < 3; j++) {
        const said = s.text.includes(`${c.methods[i]} and ${c.methods[j]} disagree`);
        expect(said, `${c.methods[i]}/${c.methods[j]} ${c.correlations[i][j]}`).toBe(c.correlations[i][j] < 0.5);
      }
    expect(c.correlations[0][2]).toBeLessThan(0.5);
  });
});

describe('summaries of counterfactuals', () => {
  const swaps = path.join(tempDir('interp-summary-'), 'swaps.json');
  beforeAll(() => fs.writeFileSync(swaps, JSON.stringify({ great: ['awful', 'fine'] })));
  it('rescoring confirms a real counterfactual and drops a forged one', async () => {
    const report = await counterfactualReport(model, {
      text: 'the film was great',
      proposer: { kind: 'list', file: swaps },
      method: 'occlusion',
      budget: 300,
      beam: 8,
      maxEdits: 2,
      candidates: 8,
      top: 3,
      seed: 0,
    });
    expect(report.found).toBe(true);
    const real = await summarizeCounterfactual(model, report);
    expect(real.dropped).toEqual([]);
    expect(real.claims.some((c) => c.verification?.kind === 'rescore')).toBe(true);
    const forged = {
      ...report,
      counterfactuals: [{ ...report.counterfactuals[0], text: 'the film was great indeed' }],
    };
    const s = await summarizeCounterfactual(model, forged);
    expect(s.dropped).toHaveLength(1);
    expect(s.dropped[0].reason).toBe('rescored, the edited text gives “POSITIVE”');
  });
});
