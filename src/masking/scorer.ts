import type { Model } from '../model/types.js';
import type { RunContext } from '../runtime/context.js';
import { scoreSequences, type Target } from '../target/target.js';
import type { Encoding } from '../text/encode.js';
import { coalitionIds } from './replacement.js';
import type { Coalition, Feature } from './types.js';

/** Scores coalitions of features (shap's MaskedModel); f(coalition) for any consumer of masked inputs. */
export type CoalitionScore = (coalitions: readonly Coalition[]) => Promise<Float64Array>;

const keyOf = (c: Coalition) => Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1');

/**
 * Masks one encoding and scores its coalitions in batches, running each distinct coalition once. One
 * explanation owns one scorer: its cache, and the passes it runs are counted in its run context.
 */
export class MaskedScorer {
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly model: Model,
    private readonly encoding: Encoding,
    private readonly features: readonly Feature[],
    private readonly target: Target,
    private readonly replacement: number | null,
    private readonly run: RunContext,
  ) {}

  /** Whether this coalition's score is known (run already, or told). */
  knows(coalition: Coalition): boolean {
    return this.cache.has(keyOf(coalition));
  }

  /** Scores already known (the full input, the baseline): they are never run again. */
  know(coalition: Coalition, score: number): this {
    this.cache.set(keyOf(coalition), score);
    return this;
  }

  readonly score: CoalitionScore = async (coalitions) => {
    const keys = coalitions.map(keyOf);
    const todo: number[] = [];
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      if (!this.cache.has(k) && !seen.has(k)) {
        seen.add(k);
        todo.push(i);
      }
    });
    if (todo.length) {
      const ids = todo.map((i) => coalitionIds(this.encoding.ids, this.features, coalitions[i], this.replacement));
      // Variants begin like the input: a causal LM reuses the input's keys and values up to where each departs.
      const scores = await scoreSequences(this.model, this.target, ids, { run: this.run, prefix: this.encoding.ids });
      todo.forEach((i, j) => this.cache.set(keys[i], scores[j]));
    }
    return Float64Array.from(keys, (k) => this.cache.get(k)!);
  };
}
