import { describe, expect, it } from 'vitest';
import { applyEdits, type Edit } from '../../../src/counterfactual/text.js';
import { wordDiff } from '../../../src/text/diff.js';
import { wordsOf } from '../../../src/text/words.js';

// Issue 30, item 26: explore and counterfactual count word edits the same way (a substitution is one edit).
describe('one word-edit count for explore and counterfactual', () => {
  it('a substitution is one changed word, not a deletion plus an insertion', () => {
    expect(wordDiff('the film was a delight', 'the film was a bore')).toEqual({
      diff: 'the film was a [-delight-] {+bore+}',
      changed: 1,
    });
    // Four words become two: two substitutions and two deletions.
    expect(wordDiff('Once upon a time, there', 'One day, there').changed).toBe(4);
    expect(wordDiff('a b c', 'a b c').changed).toBe(0);
  });

  it("counterfactual's edit count equals the word diff of its text", () => {
    const text = 'the film was not bad at all';
    const words = wordsOf(text);
    const cases: Edit[][] = [
      [{ kind: 'substitute', index: 3, to: 'very' }],
      [
        { kind: 'substitute', index: 1, to: 'movie' },
        { kind: 'delete', index: 3 },
      ],
      [
        { kind: 'insert', index: 4, to: 'so' },
        { kind: 'substitute', index: 6, to: 'really' },
      ],
    ];
    for (const edits of cases) expect(wordDiff(text, applyEdits(text, words, edits)).changed).toBe(edits.length);
  });
});
