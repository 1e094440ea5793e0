import type { Encoding } from '../text/encode.js';

/** A unit of attribution: one token, one word, one sentence (several tokens). */
export interface Feature {
  index: number;
  text: string;
  /** Token positions in the encoding. */
  positions: number[];
  start: number;
  end: number;
}

/** A coalition: keep[i] = 1 keeps feature i, 0 replaces it with the baseline. */
export type Coalition = Uint8Array;

/** Token baselines (what replaces a removed feature) and, for gradient methods, embedding baselines ('zero'). */
export type BaselineKind = 'mask' | 'unk' | 'pad' | 'delete' | 'zero';

/**
 * How tokens group into features. `groups` gives each non-special position a group key; positions
 * with equal keys form one feature, in order of first appearance.
 */
export interface Grouping {
  name: string;
  description: string;
  groups(encoding: Encoding): number[];
}
