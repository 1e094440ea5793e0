import path from 'node:path';
import { usageError } from '../errors.js';
import { readUserText, textLines } from '../util/files.js';
import { Rng } from '../util/rng.js';
import { AUXILIARIES, CONTRACTIONS, keyboardNeighbours, LOCATIONS, NAMES, NEUTRAL_CLAUSES } from './lists.js';
import type { PerturbSpec } from './suite.js';

/**
 * The built-in perturbations of `interp test`. Each takes a text and a seeded generator and returns the
 * perturbed text, or the reason it cannot apply to this text: never a silent copy of the input.
 */
export type Perturbed = { text: string } | { skip: string };
type Perturbation = (text: string, rng: Rng, spec: PerturbSpec, lists: PerturbLists) => Perturbed;

export interface PerturbLists {
  names: string[];
  locations: string[];
  synonyms: Record<string, string[]>;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

/** Letter words of three or more letters, with their spans. */
const letterWords = (text: string) => [...text.matchAll(/\p{L}{3,}/gu)].map((m) => ({ start: m.index, word: m[0] }));

function typo(kind: 'swap' | 'delete' | 'keyboard' | 'any'): Perturbation {
  return (text, rng, spec) => {
    let out = text;
    for (let e = 0; e < spec.edits; e++) {
      const words = letterWords(out);
      if (!words.length) return { skip: 'no word of three or more letters to misspell' };
      const { start, word } = pick(rng, words);
      const k = kind === 'any' ? pick(rng, ['swap', 'delete', 'keyboard'] as const) : kind;
      let changed: string;
      if (k === 'swap') {
        const i = 1 + rng.int(word.length - 2);
        const j = word[i] === word[i + 1] || i + 1 >= word.length ? i - 1 : i + 1;
        const [a, b] = [Math.min(i, j), Math.max(i, j)];
        changed = word.slice(0, a) + word[b] + word[a] + word.slice(b + 1);
      } else if (k === 'delete') {
        const i = rng.int(word.length);
        changed = word.slice(0, i) + word.slice(i + 1);
      } else {
        const positions = [...word].map((c, i) => [i, keyboardNeighbours(c)] as const).filter(([, n]) => n.length);
        if (!positions.length) return { skip: `no letter of '${word}' has a keyboard neighbour` };
        const [i, neighbours] = pick(rng, positions);
        changed = word.slice(0, i) + pick(rng, neighbours) + word.slice(i + 1);
      }
      out = out.slice(0, start) + changed + out.slice(start + word.length);
    }
    return out === text ? { skip: 'the typo left the text unchanged (a doubled letter)' } : { text: out };
  };
}

function contraction(text: string): Perturbed {
  for (const [short, long] of Object.entries(CONTRACTIONS)) {
    for (const [from, to] of [
      [short, long],
      [long, short],
    ]) {
      const re = new RegExp(`\\b${escape(from).replace("'", "['’]")}\\b`, 'i');
      const m = re.exec(text);
      if (m) {
        const cased = m[0][0] === m[0][0].toUpperCase() ? to[0].toUpperCase() + to.slice(1) : to;
        return { text: text.slice(0, m.index) + cased + text.slice(m.index + m[0].length) };
      }
    }
  }
  return { skip: 'no contraction to expand or phrase to contract' };
}

function punctuation(text: string, rng: Rng): Perturbed {
  const trimmed = text.trimEnd();
  if (!trimmed) return { skip: 'empty text' };
  if (/[.!?]$/.test(trimmed)) return { text: trimmed.replace(/[.!?]+$/, '') };
  return { text: trimmed + pick(rng, ['.', '!']) };
}

function swapFrom(listName: 'names' | 'locations'): Perturbation {
  return (text, rng, _spec, lists) => {
    const list = lists[listName];
    const found = list.filter((w) => new RegExp(`\\b${escape(w)}\\b`).test(text));
    if (!found.length) return { skip: `no ${listName === 'names' ? 'first name' : 'place'} from the list in the text` };
    const from = pick(rng, found);
    const to = pick(
      rng,
      list.filter((w) => w !== from),
    );
    return { text: text.replace(new RegExp(`\\b${escape(from)}\\b`, 'g'), to) };
  };
}

function numberSwap(text: string, rng: Rng): Perturbed {
  const numbers = [...text.matchAll(/\b\d+\b/g)];
  if (!numbers.length) return { skip: 'no number in the text' };
  const m = pick(rng, numbers);
  const n = Number(m[0]);
  let to = n;
  while (to === n) to = 1 + rng.int(Math.max(10, 2 * n));
  return { text: text.slice(0, m.index) + String(to) + text.slice(m.index + m[0].length) };
}

/** "The film is good" → "The film is not good": "not" after the first auxiliary that is not negated already. */
function addNegation(text: string): Perturbed {
  const re = new RegExp(`\\b(${AUXILIARIES.join('|')})\\b(?!\\s+not\\b|n['’]t)`, 'i');
  const m = re.exec(text);
  if (!m) return { skip: 'no auxiliary verb (is, was, are, …) to negate' };
  const at = m.index + m[0].length;
  return { text: `${text.slice(0, at)} not${text.slice(at)}` };
}

function synonym(text: string, rng: Rng, _spec: PerturbSpec, lists: PerturbLists): Perturbed {
  const found = Object.keys(lists.synonyms).filter((w) => new RegExp(`\\b${escape(w)}\\b`, 'i').test(text));
  if (!found.length) return { skip: 'no word of the synonym list in the text' };
  const word = pick(rng, found);
  const to = pick(rng, lists.synonyms[word]);
  return { text: text.replace(new RegExp(`\\b${escape(word)}\\b`, 'i'), to) };
}

function neutralClause(text: string, rng: Rng): Perturbed {
  const m = /^(.*?)([.!?]*)\s*$/s.exec(text)!;
  if (!m[1].trim()) return { skip: 'empty text' };
  return { text: `${m[1]}, ${pick(rng, NEUTRAL_CLAUSES)}${m[2]}` };
}

export const PERTURBATIONS: Record<string, Perturbation> = {
  typo: typo('any'),
  'typo-swap': typo('swap'),
  'typo-delete': typo('delete'),
  'typo-keyboard': typo('keyboard'),
  contraction,
  punctuation,
  'name-swap': swapFrom('names'),
  'location-swap': swapFrom('locations'),
  'number-swap': numberSwap,
  'add-negation': addNegation,
  synonym,
  'neutral-clause': neutralClause,
};

/** The lists a perturbation reads, a suite's files added to the built-in ones (paths relative to the suite). */
export function perturbLists(spec: PerturbSpec, suiteFile: string, where: string): PerturbLists {
  if (!PERTURBATIONS[spec.perturb])
    throw usageError(
      `${where}: 'perturb' must be one of ${Object.keys(PERTURBATIONS).join(', ')}, got '${spec.perturb}'`,
    );
  const resolve = (f: string) => path.resolve(path.dirname(suiteFile), f);
  const extra = spec.list
    ? textLines(readUserText(resolve(spec.list), 'list'), spec.list)
        .map((l) => l.trim())
        .filter(Boolean)
    : [];
  if (spec.perturb === 'synonym' && !spec.synonyms)
    throw usageError(`${where}: 'synonyms' must name a file (word: synonym, synonym) for perturb: synonym`);
  const synonyms: Record<string, string[]> = {};
  if (spec.synonyms)
    for (const line of textLines(readUserText(resolve(spec.synonyms), 'synonyms'), spec.synonyms)) {
      const m = /^\s*([^:#]+?)\s*:\s*(.+)$/.exec(line);
      if (!m) continue;
      const values = m[2]
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      if (values.length) synonyms[m[1]] = values;
    }
  return {
    names: spec.perturb === 'name-swap' ? [...NAMES, ...extra] : NAMES,
    locations: spec.perturb === 'location-swap' ? [...LOCATIONS, ...extra] : LOCATIONS,
    synonyms,
  };
}

/** A seed for one example of one test: the same seed, test and example give the same bytes. */
export function exampleSeed(seed: number, test: string, example: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (const c of `${test}\u0000${example}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h >>> 0;
}

/** Up to `spec.variants` distinct perturbed copies of a text, or the reason none could be made. */
export function perturbText(
  text: string,
  spec: PerturbSpec,
  lists: PerturbLists,
  seed: number,
): { texts: string[] } | { skip: string } {
  const rng = new Rng(seed);
  const out = new Set<string>();
  let reason = '';
  for (let v = 0; v < spec.variants; v++) {
    const r = PERTURBATIONS[spec.perturb](text, rng, spec, lists);
    if ('skip' in r) reason = r.skip;
    else if (r.text !== text) out.add(r.text);
  }
  return out.size ? { texts: [...out] } : { skip: reason || `${spec.perturb} left the text unchanged` };
}
