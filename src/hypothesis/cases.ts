import path from 'node:path';
import { formatOf, readDataset } from '../data/datasets.js';
import { InterpError, plainParam, usageError } from '../errors.js';
import { applyEdits, wordsOf, type Edit } from '../counterfactual/text.js';
import { readCircuitPairs, type CircuitPair } from '../circuit/dataset.js';
import { expandTemplate, slotNames } from '../text/templates.js';
import { exampleSeed, perturbLists, perturbText } from './perturb.js';
import type { Suite, TestSpec } from './suite.js';

/**
 * The examples of one test: an original text and, for invariance, direction and counterfactual tests,
 * the texts it is compared with. An example that a perturbation cannot apply to keeps its reason.
 */
export interface Case {
  index: number;
  original: string;
  variants: string[];
  /** Why this example could not be tested (the perturbation does not apply); counted, never passed. */
  skip?: string;
  /** circuit-faithfulness: the prompt pair (original: its clean prompt, variants: its corrupted one). */
  pair?: CircuitPair;
}

const where = (test: TestSpec) => `test '${test.name}'`;

/** The input texts of a test, with the slot values of each where they came from templates. */
export function inputTexts(test: TestSpec, suiteFile: string): { text: string; slots: Record<string, string> }[] {
  if (test.texts) return test.texts.map((text) => ({ text, slots: {} }));
  if (test.templates) {
    const used = new Set(test.templates.flatMap(slotNames));
    const unused = Object.keys(test.slots).find((n) => !used.has(n));
    if (unused) throw usageError(`${where(test)}: 'slots.${unused}' names no {${unused}} slot of any template`);
    const missing = [...used].find((n) => !test.slots[n]?.length);
    if (missing) throw usageError(`${where(test)}: its templates have a {${missing}} slot; give its values in 'slots'`);
    return test.templates.flatMap((t) => expandTemplate(t, test.slots, `${where(test)} slots`));
  }
  const d = test.data!;
  const file = path.resolve(path.dirname(suiteFile), d.file);
  const contains = d.contains?.toLowerCase();
  return readDataset(file, formatOf(file, d.format))
    .examples.filter(
      (e) => (d.label === undefined || e.label === d.label) && (!contains || e.text.toLowerCase().includes(contains)),
    )
    .slice(0, d.limit)
    .map((e) => ({ text: e.text, slots: {} }));
}

/** The text without every occurrence of `words` (any case), deleted as counterfactual edits are. */
export function removeWords(text: string, words: readonly string[]): string {
  const wanted = new Set(words.map((w) => w.toLowerCase()));
  const all = wordsOf(text);
  const edits: Edit[] = all.flatMap((w, index) =>
    wanted.has(w.text.toLowerCase()) ? [{ kind: 'delete', index }] : [],
  );
  return applyEdits(text, all, edits).trim();
}

/** Invariance under a slot: each filled text against the one with the slot's first value, the rest of the slots alike. */
function slotCases(test: TestSpec, slot: string, inputs: ReturnType<typeof inputTexts>): Case[] {
  if (!test.templates || !test.slots[slot])
    throw usageError(
      `${where(test)}: 'invariant-under.replace.slot' names '${slot}', which is not a slot of its templates`,
    );
  const groups = new Map<string, string[]>();
  for (const input of inputs) {
    const key =
      JSON.stringify(Object.entries(input.slots).filter(([n]) => n !== slot)) +
      input.text.replace(input.slots[slot] ?? '', '\u0000');
    const texts = groups.get(key) ?? [];
    if (input.slots[slot] === test.slots[slot][0]) texts.unshift(input.text);
    else texts.push(input.text);
    groups.set(key, texts);
  }
  return [...groups.values()].map(([original, ...variants], index) =>
    variants.length
      ? { index, original, variants }
      : { index, original, variants, skip: 'the slot has one value only' },
  );
}

/** A usage error from the circuit code, reworded to name the test (and the pair) it came from. */
export function inTest(test: TestSpec, e: unknown, source?: string): unknown {
  if (!(e instanceof InterpError) || e.kind !== 'usage') return e;
  return usageError(`test '${test.name}': ${source ? `${source}: ` : ''}${e.worded(plainParam)}`);
}

/** The pairs of a test, read relative to its suite file, as one case each (clean text, corrupted variant). */
export function pairCases(
  test: TestSpec,
  suiteFile: string,
): { index: number; original: string; variants: string[]; pair: CircuitPair }[] {
  const file = path.resolve(path.dirname(suiteFile), test.pairs!);
  let pairs: CircuitPair[];
  try {
    pairs = readCircuitPairs(file, 'pairs');
  } catch (e) {
    throw inTest(test, e);
  }
  return pairs.map((pair, index) => ({ index, original: pair.clean, variants: [pair.corrupted], pair }));
}

/** Every example of a test, with its comparison texts. */
export function buildCases(test: TestSpec, suite: Suite, seed: number): Case[] {
  if (test.pairs) return pairCases(test, suite.file);
  const inputs = inputTexts(test, suite.file);
  if (inputs.length === 0) throw usageError(`${where(test)}: its inputs hold no example (check the data filter)`);
  const e = test.expect;
  if (e.kind === 'invariant-under' && e.replace) return slotCases(test, e.replace, inputs);
  if ((e.kind === 'invariant-under' && e.perturbation) || e.kind === 'direction') {
    const spec = e.perturbation!;
    const lists = perturbLists(spec, suite.file, `${where(test)} ${e.kind}`);
    return inputs.map(({ text }, index) => {
      const r = perturbText(text, spec, lists, exampleSeed(seed, test.name, index));
      return 'skip' in r
        ? { index, original: text, variants: [], skip: r.skip }
        : { index, original: text, variants: r.texts };
    });
  }
  if (e.kind === 'counterfactual-flips-on')
    return inputs.map(({ text }, index) => {
      const removed = removeWords(text, e.words);
      return removed === text.trim()
        ? { index, original: text, variants: [], skip: `none of ${e.words.join(', ')} is in the text` }
        : removed === ''
          ? { index, original: text, variants: [], skip: 'removing the words leaves nothing' }
          : { index, original: text, variants: [removed] };
    });
  return inputs.map(({ text }, index) => ({ index, original: text, variants: [] }));
}
