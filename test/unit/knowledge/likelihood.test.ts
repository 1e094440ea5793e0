import { beforeAll, describe, expect, it } from 'vitest';
import { MLM_PROPOSALS, plantedMaskedLM, writePlanted } from '../../../fixtures/planted.js';
import { pseudoLogLikelihoods } from '../../../src/bias/pairs.js';
import { checkRelations } from '../../../src/knowledge/relations.js';
import { knowledgeReport } from '../../../src/knowledge/report.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { statementLogLikelihoods } from '../../../src/target/likelihood.js';

/**
 * The planted masked LM predicts at [MASK] awful (logit 10), dull (6), boring (4) and every other word 0,
 * whatever the context: so log p(w | the rest) = logit(w) − log Z at every masked position, and a
 * pseudo-log-likelihood is a sum of such terms, known in closed form.
 */
let mlm: Model;
let logZ: number;
beforeAll(async () => {
  const spec = plantedMaskedLM();
  mlm = await loadModel(writePlanted(spec));
  const others = spec.tokenizer.vocab.length - Object.keys(MLM_PROPOSALS).length;
  logZ = Math.log(others + Object.values(MLM_PROPOSALS).reduce((s, l) => s + Math.exp(l), 0));
});

describe('statement likelihood, written once (target/likelihood.ts)', () => {
  it('a masked LM: the pseudo-log-likelihood of every real token, in closed form', async () => {
    const [good, awful] = await statementLogLikelihoods(mlm, ['the film was good', 'the film was awful'], 'test');
    expect(good).toBeCloseTo(-4 * logZ, 5);
    expect(awful).toBeCloseTo(10 - 4 * logZ, 5);
    const [mean] = await statementLogLikelihoods(mlm, ['the film was awful'], 'test', true);
    expect(mean).toBeCloseTo((10 - 4 * logZ) / 4, 5);
  });

  it('bias pairs: the same terms over the tokens a pair shares', async () => {
    const [[more, less]] = await pseudoLogLikelihoods(mlm, [
      { more: 'the film was awful', less: 'the film was good', type: 't', direction: 'stereo' },
    ]);
    expect(more).toBeCloseTo(-3 * logZ, 5);
    expect(less).toBeCloseTo(-3 * logZ, 5);
  });

  it('interp knowledge ranks by it under a masked LM: margins are the planted logit gaps', async () => {
    const set = checkRelations(
      {
        relations: [
          {
            name: 'verdict',
            template: 'the {subject} was {object}',
            subjects: ['film', 'plot'],
            objects: ['good', 'dull', 'awful', 'boring'],
          },
        ],
      },
      'test',
    );
    const r = await knowledgeReport(mlm, set, { expand: null, minMargin: 0, maxNodes: 10, locate: null, seed: 0 });
    expect(r.scoring).toBe('pseudo-log-likelihood');
    for (const i of r.instances) {
      expect(i.ranking.map((x) => x.object)).toEqual(['awful', 'dull', 'boring', 'good']);
      expect(i.margin).toBeCloseTo(4, 5);
    }
    await expect(
      knowledgeReport(mlm, set, {
        expand: null,
        minMargin: 0,
        maxNodes: 10,
        locate: { noise: 3, samples: 1, seed: 0 },
        seed: 0,
      }),
    ).rejects.toThrow(/needs a causal LM/);
  });
});
