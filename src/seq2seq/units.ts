import { usageFault } from '../errors.js';
import { buildFeatures } from '../masking/registry.js';
import type { Family } from '../methods/types.js';
import type { CoalitionScore as Scorer } from '../masking/scorer.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import type { Model } from '../model/types.js';
import { alignEncoding } from '../text/encode.js';

/** The source's units of attribution: runs of token positions kept or replaced by <pad> together. */
export interface SourceUnits {
  granularity: string;
  texts: string[];
  positions: number[][];
  /** A scorer over [units…, prefix tokens…] from one over [source tokens…, prefix tokens…]. */
  lift(score: Scorer): Scorer;
}

/**
 * The source's units at a granularity, grouped as decoder-only explain groups them (masking/registry's
 * buildFeatures over the aligned encoding: the tokens of a word, sentence or line move together); each
 * special token (the source's </s>) stays a unit of its own, and units keep the source's order. Tokens:
 * each its own unit, under its token string.
 */
export function sourceUnits(
  model: Seq2SeqModel,
  text: string,
  ids: readonly number[],
  tokenTexts: string[],
  granularity: string = 'token',
  family: Family,
): SourceUnits {
  if (granularity === 'token')
    return { granularity, texts: tokenTexts, positions: ids.map((_, j) => [j]), lift: (s) => s };
  // Grouped units are coalitions of tokens: a method that reads gradients or attention per token has none.
  if (family !== 'perturbation' && family !== 'control')
    throw usageFault('granularity', `{param} '${granularity}' takes perturbation methods on encoder-decoder models`);
  // The alignment reads only the tokenizer (and a causal LM's context token, which a seq2seq model has none of).
  const encoding = alignEncoding({ tokenizer: model.tokenizer } as unknown as Model, text, [...ids]);
  const units = [
    ...buildFeatures(encoding, granularity).map((f) => ({ text: f.text, positions: f.positions })),
    ...ids.flatMap((_, j) => (encoding.special[j] ? [{ text: tokenTexts[j], positions: [j] }] : [])),
  ].sort((a, b) => a.positions[0] - b.positions[0]);
  const positions = units.map((u) => u.positions);
  return { granularity, texts: units.map((u) => u.text), positions, lift: unitLift(positions, ids.length) };
}

/**
 * A scorer over [units…, prefix tokens…] coalitions from one over [source tokens…, prefix tokens…]: each
 * unit's 1 or 0 goes to every token position it holds (`positions`: unit → positions of a `sourceLength`-token source).
 */
export function unitLift(positions: readonly number[][], sourceLength: number): (score: Scorer) => Scorer {
  return (score) => (coalitions) =>
    score(
      coalitions.map((c) => {
        const tokens = new Uint8Array(sourceLength + c.length - positions.length);
        positions.forEach((p, k) => p.forEach((j) => (tokens[j] = c[k])));
        tokens.set(c.subarray(positions.length), sourceLength);
        return tokens;
      }),
    );
}
