import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCases } from '../../../src/hypothesis/cases.js';
import { keyboardNeighbours, LOCATIONS, NAMES } from '../../../src/hypothesis/lists.js';
import { perturbLists, perturbText, type PerturbLists } from '../../../src/hypothesis/perturb.js';
import { parseSuite, type PerturbSpec } from '../../../src/hypothesis/suite.js';

/**
 * Each built-in perturbation of `interp test` at fixed seeds: the exact text it makes, the same text again
 * for the same seed, other texts for other seeds where the perturbation has a choice, and a per-example
 * reason wherever it cannot apply. The typo tests also check the kind of edit over 200 seeds, so that a
 * typo that makes some other edit fails even where the pinned strings happen to agree.
 */

const lists: PerturbLists = {
  names: NAMES,
  locations: LOCATIONS,
  synonyms: { good: ['fine', 'great'], movie: ['film'] },
};
const spec = (perturb: string, extra: Partial<PerturbSpec> = {}): PerturbSpec => ({
  perturb,
  variants: 1,
  edits: 1,
  ...extra,
});
const one = (perturb: string, text: string, seed: number, extra: Partial<PerturbSpec> = {}) => {
  const r = perturbText(text, spec(perturb, extra), lists, seed);
  if ('skip' in r) return { skip: r.skip };
  expect(r.texts).toHaveLength(1);
  return r.texts[0];
};
const bySeed = (perturb: string, text: string, extra: Partial<PerturbSpec> = {}) =>
  [1, 2, 3].map((seed) => one(perturb, text, seed, extra));

const MOVIE = 'The movie was good';
const SEEDS = Array.from({ length: 200 }, (_, i) => i + 1);

/** The one position range where two strings differ: [first differing index, end in a, end in b]. */
function diffSpan(a: string, b: string): [number, number, number] {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let ea = a.length;
  let eb = b.length;
  while (ea > i && eb > i && a[ea - 1] === b[eb - 1]) {
    ea--;
    eb--;
  }
  return [i, ea, eb];
}

describe('typos: swap, deletion, keyboard neighbour', () => {
  it('make the exact misspellings pinned at seeds 1, 2, 3', () => {
    expect(bySeed('typo-swap', MOVIE)).toEqual(['The movie wsa good', 'The movei was good', 'The movie wsa good']);
    expect(bySeed('typo-delete', MOVIE)).toEqual(['The movie wa good', 'The movi was good', 'The movie ws good']);
    expect(bySeed('typo-keyboard', MOVIE)).toEqual(['The movie wac good', 'The movid was good', 'The movie wws good']);
    expect(bySeed('typo', MOVIE)).toEqual(['The movie waa good', 'The movje was good', 'The movie ws good']);
    expect(one('typo-swap', 'Alice met Bob in Paris', 2)).toBe('Alice mte Bob in Paris');
    expect(one('typo-keyboard', 'I paid 12 dollars', 2)).toBe('I paix 12 dollars');
  });

  it('two edits a copy make two misspellings, pinned', () => {
    expect(one('typo-delete', MOVIE, 1, { edits: 2 })).toBe('The movie wa god');
    expect(one('typo-swap', MOVIE, 1, { edits: 2 })).toBe('The movie wsa ogod');
  });

  it('swap transposes two adjacent different letters of one word, and nothing else', () => {
    for (const seed of SEEDS) {
      const out = one('typo-swap', MOVIE, seed) as string;
      const [i, ea, eb] = diffSpan(MOVIE, out);
      expect([ea - i, eb - i]).toEqual([2, 2]);
      expect(out.slice(i, i + 2)).toBe(MOVIE[i + 1] + MOVIE[i]);
      expect(/\p{L}\p{L}/u.test(MOVIE.slice(i, i + 2))).toBe(true);
    }
  });

  it('deletion removes one letter of a word of three or more letters', () => {
    for (const seed of SEEDS) {
      const out = one('typo-delete', MOVIE, seed) as string;
      expect(out.length).toBe(MOVIE.length - 1);
      const at = [...MOVIE].findIndex((_, k) => MOVIE.slice(0, k) + MOVIE.slice(k + 1) === out);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(MOVIE[at]).toMatch(/\p{L}/u);
      expect(out.split(' ')).toHaveLength(4);
      // "The" is three letters long: a deletion inside it is allowed; every word keeps at least two letters
      expect(out.split(' ').every((w) => w.length >= 2)).toBe(true);
    }
  });

  it('keyboard replaces one letter by a neighbour on a QWERTY keyboard, keeping its case', () => {
    expect(keyboardNeighbours('s')).toEqual(['q', 'w', 'e', 'a', 'd', 'z', 'x', 'c']);
    expect(keyboardNeighbours('g')).toEqual(['r', 't', 'y', 'f', 'h', 'v', 'b', 'n']);
    expect(keyboardNeighbours('Q')).toEqual(['W', 'A', 'S']);
    expect(keyboardNeighbours('7')).toEqual([]);
    for (const seed of SEEDS) {
      const out = one('typo-keyboard', 'The Movie', seed) as string;
      const [i, ea, eb] = diffSpan('The Movie', out);
      expect([ea - i, eb - i]).toEqual([1, 1]);
      expect(keyboardNeighbours('The Movie'[i])).toContain(out[i]);
    }
  });

  it('the mixed typo uses all three kinds over seeds', () => {
    const kinds = new Set(
      SEEDS.map((seed) => {
        const out = one('typo', MOVIE, seed) as string;
        if (out.length < MOVIE.length) return 'delete';
        const [i, ea] = diffSpan(MOVIE, out);
        return ea - i === 2 ? 'swap' : 'keyboard';
      }),
    );
    expect([...kinds].sort()).toEqual(['delete', 'keyboard', 'swap']);
  });

  it('say why where no word of three letters exists, or the swap changes nothing', () => {
    for (const p of ['typo', 'typo-swap', 'typo-delete', 'typo-keyboard'])
      expect(one(p, 'a b, 12', 1)).toEqual({ skip: 'no word of three or more letters to misspell' });
    expect(one('typo-swap', 'ooo', 1)).toEqual({ skip: 'the typo left the text unchanged (a doubled letter)' });
    expect(one('typo-keyboard', 'ééé', 1)).toEqual({ skip: "no letter of 'ééé' has a keyboard neighbour" });
  });
});

describe('contractions, punctuation, negation, neutral clause', () => {
  it('contract or expand, either way, keeping the first letter’s case', () => {
    expect(one('contraction', "It isn't bad", 1)).toBe('It is not bad');
    expect(one('contraction', 'The film is not bad', 1)).toBe("The film isn't bad");
    expect(one('contraction', 'It’s fine', 1)).toBe('It is fine');
    expect(one('contraction', 'I cannot say', 1)).toBe("I can't say");
    expect(one('contraction', 'I am happy', 1)).toBe("I'm happy");
    expect(bySeed('contraction', "Don't go")).toEqual(['Do not go', 'Do not go', 'Do not go']);
    expect(one('contraction', MOVIE, 1)).toEqual({ skip: 'no contraction to expand or phrase to contract' });
  });

  it('punctuation adds "." or "!" by seed, or takes the final mark away', () => {
    expect(bySeed('punctuation', MOVIE)).toEqual([`${MOVIE}!`, `${MOVIE}.`, `${MOVIE}!`]);
    expect(one('punctuation', 'Wow!!  ', 1)).toBe('Wow');
    expect(one('punctuation', `${MOVIE}.`, 7)).toBe(MOVIE);
    expect(one('punctuation', '   ', 1)).toEqual({ skip: 'empty text' });
  });

  it('negation goes after the first auxiliary not already negated', () => {
    expect(one('add-negation', MOVIE, 1)).toBe('The movie was not good');
    expect(one('add-negation', 'It is not bad and it was fun', 1)).toBe('It is not bad and it was not fun');
    expect(one('add-negation', 'She Can swim.', 1)).toBe('She Can not swim.');
    for (const text of ['Alice met Bob', "It isn't bad", 'This is not good'])
      expect(one('add-negation', text, 1)).toEqual({ skip: 'no auxiliary verb (is, was, are, …) to negate' });
  });

  it('a neutral clause goes before the final punctuation, picked by seed', () => {
    expect(bySeed('neutral-clause', `${MOVIE}.`)).toEqual([
      'The movie was good, to be honest.',
      'The movie was good, as I said before.',
      'The movie was good, to be honest.',
    ]);
    expect(one('neutral-clause', '?!', 1)).toEqual({ skip: 'empty text' });
  });
});

describe('name, location and number swaps; synonyms from a list', () => {
  it('swap a name or place from the list for another, every occurrence, pinned by seed', () => {
    const text = 'Alice met Bob in Paris';
    expect(bySeed('name-swap', text)).toEqual([
      'Alice met Hiroshi in Paris',
      'Sofia met Bob in Paris',
      'Alice met Carlos in Paris',
    ]);
    expect(bySeed('location-swap', text)).toEqual([
      'Alice met Bob in Nairobi',
      'Alice met Bob in Dublin',
      'Alice met Bob in Toronto',
    ]);
    for (const seed of SEEDS) {
      const out = one('name-swap', 'Wei said Wei was late', seed) as string;
      const to = out.split(' ')[0];
      expect(NAMES).toContain(to);
      expect(to).not.toBe('Wei');
      expect(out).toBe(`${to} said ${to} was late`);
    }
    expect(one('name-swap', 'Alicegate was bad', 1)).toEqual({ skip: 'no first name from the list in the text' });
    expect(one('location-swap', 'the movie', 1)).toEqual({ skip: 'no place from the list in the text' });
  });

  it('swap a number for another in 1..max(10, 2n), never itself', () => {
    expect(bySeed('number-swap', 'I paid 12 dollars')).toEqual([
      'I paid 19 dollars',
      'I paid 24 dollars',
      'I paid 16 dollars',
    ]);
    for (const seed of SEEDS) {
      const n = Number(/\d+/.exec(one('number-swap', 'I paid 3 dollars', seed) as string)![0]);
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(10);
      expect(n).not.toBe(3);
    }
    expect(one('number-swap', 'twelve apples', 1)).toEqual({ skip: 'no number in the text' });
  });

  it('replace a listed word by one of its synonyms, pinned by seed', () => {
    expect(bySeed('synonym', MOVIE)).toEqual(['The film was good', 'The movie was great', 'The film was good']);
    expect(one('synonym', 'Alice met Bob', 1)).toEqual({ skip: 'no word of the synonym list in the text' });
  });

  it('read the synonym file and a swap list extension relative to the suite', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'interp-perturb-'));
    fs.writeFileSync(path.join(dir, 'syn.txt'), '# word: synonyms\nawful: dreadful, terrible\nbad line\nfun:\n');
    fs.writeFileSync(path.join(dir, 'names.txt'), 'Zeynep\n\n  Kwame \n');
    const suiteFile = path.join(dir, 'suite.yaml');
    const syn = perturbLists(spec('synonym', { synonyms: 'syn.txt' }), suiteFile, 'here');
    expect(syn.synonyms).toEqual({ awful: ['dreadful', 'terrible'] });
    expect(perturbText('An awful plot', spec('synonym', { variants: 20 }), syn, 1)).toEqual({
      texts: ['An terrible plot', 'An dreadful plot'],
    });
    const names = perturbLists(spec('name-swap', { list: 'names.txt' }), suiteFile, 'here');
    expect(names.names).toEqual([...NAMES, 'Zeynep', 'Kwame']);
    expect(one('name-swap', 'Zeynep left', 1)).toEqual({ skip: 'no first name from the list in the text' });
    expect(perturbText('Zeynep left', spec('name-swap'), names, 1)).not.toHaveProperty('skip');
    expect(() => perturbLists(spec('synonym'), suiteFile, 'here')).toThrow(/'synonyms' must name a file/);
    expect(() => perturbLists(spec('shout'), suiteFile, 'here')).toThrow(/'perturb' must be one of typo, /);
  });
});

describe('seeds and variants', () => {
  it('the same seed gives the same texts; different seeds differ where there is a choice', () => {
    for (const p of ['typo', 'typo-swap', 'typo-delete', 'typo-keyboard', 'name-swap', 'number-swap', 'synonym']) {
      const text = p === 'name-swap' ? 'Alice met Bob' : p === 'number-swap' ? 'I paid 12 dollars' : MOVIE;
      const outs = SEEDS.slice(0, 20).map((seed) => JSON.stringify(perturbText(text, spec(p), lists, seed)));
      expect(SEEDS.slice(0, 20).map((seed) => JSON.stringify(perturbText(text, spec(p), lists, seed)))).toEqual(outs);
      expect(new Set(outs).size).toBeGreaterThan(1);
    }
  });

  it('variants are distinct copies, never the input', () => {
    const r = perturbText(MOVIE, spec('typo-delete', { variants: 20 }), lists, 5);
    expect('texts' in r && r.texts.length).toBeGreaterThan(5);
    if ('texts' in r) {
      expect(new Set(r.texts).size).toBe(r.texts.length);
      expect(r.texts).not.toContain(MOVIE);
    }
    expect(perturbText(MOVIE, spec('add-negation', { variants: 5 }), lists, 1)).toEqual({
      texts: ['The movie was not good'],
    });
  });

  it('a test reports each example a perturbation cannot apply to as not applicable, with its reason', () => {
    const suite = parseSuite(
      {
        tests: [
          {
            name: 'neg',
            capability: 'negation',
            texts: ['the film is good', 'Alice met Bob', 'it was fun'],
            direction: { perturb: 'add-negation', score: 'down', by: 0.1 },
          },
        ],
      },
      path.join(os.tmpdir(), 'suite.yaml'),
    );
    const cases = buildCases(suite.tests[0], suite, 0);
    expect(cases.map((c) => [c.original, c.variants, c.skip])).toEqual([
      ['the film is good', ['the film is not good'], undefined],
      ['Alice met Bob', [], 'no auxiliary verb (is, was, are, …) to negate'],
      ['it was fun', ['it was not fun'], undefined],
    ]);
  });
});
