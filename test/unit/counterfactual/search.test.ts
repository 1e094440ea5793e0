import { beforeAll, describe, expect, it } from 'vitest';
import { ADDITIVE_WEIGHTS, additiveClassifier, writePlanted } from '../../../fixtures/planted.js';
import { Judge, searchEdits } from '../../../src/counterfactual/search.js';
import { applyEdits, diffText, wordsOf, type Edit } from '../../../src/counterfactual/text.js';
import { loadModel } from '../../../src/model/load.js';
import type { Model } from '../../../src/model/types.js';
import { Rng } from '../../../src/util/rng.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(writePlanted(additiveClassifier()));
});

describe('edits keep the text around them', () => {
  it('substitutes, deletes and inserts with the original spacing and punctuation', () => {
    const text = 'the movie  was great , and fun.';
    const words = wordsOf(text);
    expect(words.map((w) => w.text)).toEqual(['the', 'movie', 'was', 'great', ',', 'and', 'fun', '.']);
    const edits: Edit[] = [
      { kind: 'substitute', index: 3, to: 'awful' },
      { kind: 'delete', index: 5 },
      { kind: 'insert', index: 0, to: 'not' },
      { kind: 'insert', index: words.length, to: 'really' },
    ];
    expect(applyEdits(text, words, edits)).toBe('not the movie  was awful , fun. really');
    expect(diffText(words, edits)).toBe('{+not+} the movie was [-great-]{+awful+} , [-and-] fun . {+really+}');
    expect(applyEdits(text, words, [{ kind: 'delete', index: 7 }])).toBe('the movie  was great , and fun');
  });
});

describe('the search returns minimal edits, checked against brute force', () => {
  const vocabulary = Object.keys(ADDITIVE_WEIGHTS).filter((w) => /^[a-z]+$/.test(w));

  async function bruteForceMinimum(
    text: string,
    moves: Edit[],
    judge: Judge,
    maxEdits: number,
  ): Promise<number | null> {
    const words = wordsOf(text);
    const key = (e: Edit) => (e.kind === 'insert' ? `+${e.index}` : `${e.index}`);
    let sets: number[][] = [[]];
    for (let d = 1; d <= maxEdits; d++) {
      sets = sets.flatMap((s) =>
        moves
          .map((_, m) => m)
          .filter((m) => m > (s[s.length - 1] ?? -1) && !s.some((x) => key(moves[x]) === key(moves[m])))
          .map((m) => [...s, m]),
      );
      const texts = sets
        .map((s) =>
          applyEdits(
            text,
            words,
            s.map((m) => moves[m]),
          ),
        )
        .filter((t) => t.trim());
      const verdicts = await judge.judge(texts);
      if (verdicts.some((v) => v.objective < 0)) return d;
    }
    return null;
  }

  it('on 30 random short texts and move lists, with an ample budget', async () => {
    const rng = new Rng(5);
    let found = 0;
    for (let n = 0; n < 30; n++) {
      const text = Array.from({ length: 3 + rng.int(2) }, () => vocabulary[rng.int(vocabulary.length)]).join(' ');
      const words = wordsOf(text);
      const moves: Edit[] = words.flatMap((_, i): Edit[] => [
        { kind: 'delete', index: i },
        { kind: 'substitute', index: i, to: vocabulary[rng.int(vocabulary.length)] },
      ]);
      const judge = await Judge.create(model, text, {});
      const result = await searchEdits(text, words, moves, judge, { budget: 100_000, beam: 4, maxEdits: 3 });
      const brute = await bruteForceMinimum(text, moves, await Judge.create(model, text, {}), 3);
      expect(result.exhaustive, text).toBe(true);
      expect(result.found.length ? result.distance : null, text).toBe(brute);
      for (const f of result.found) expect(f.edits).toHaveLength(brute!);
      if (brute !== null) found++;
    }
    expect(found).toBeGreaterThan(10);
  });

  it('says when a tight budget leaves the answer unproven', async () => {
    const text = 'great fun and good';
    const words = wordsOf(text);
    const moves: Edit[] = words.map((_, i): Edit => ({ kind: 'delete', index: i }));
    const judge = await Judge.create(model, text, {});
    const result = await searchEdits(text, words, moves, judge, { budget: 3, beam: 1, maxEdits: 3 });
    expect(result.exhaustive).toBe(false);
    expect(judge.passes).toBeLessThanOrEqual(3);
  });
});
