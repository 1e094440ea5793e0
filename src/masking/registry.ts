import { usageFault } from '../errors.js';
import type { Encoding } from '../text/encode.js';
import { lineGrouping } from './line.js';
import { sentenceGrouping } from './sentence.js';
import { tokenGrouping } from './token.js';
import type { Feature, Grouping } from './types.js';
import { wordGrouping } from './word.js';

/** Every feature grouping by name: adding one is one file and one line here. */
export const GROUPINGS: Record<string, Grouping> = Object.fromEntries(
  [tokenGrouping, wordGrouping, sentenceGrouping, lineGrouping].map((g) => [g.name, g]),
);

export type Granularity = string;
export const GRANULARITIES: readonly Granularity[] = Object.keys(GROUPINGS);

export function grouping(name: string): Grouping {
  const g = GROUPINGS[name];
  if (!g) throw usageFault('granularity', `unknown granularity '${name}'; choose one of ${GRANULARITIES.join(', ')}`);
  return g;
}

/** Group the encoding's non-special tokens into features. */
export function buildFeatures(encoding: Encoding, granularity: Granularity): Feature[] {
  const keys = grouping(granularity).groups(encoding);
  const features: Feature[] = [];
  const byKey = new Map<number, Feature>();
  encoding.ids.forEach((_, pos) => {
    if (encoding.special[pos]) return;
    let feature = byKey.get(keys[pos]);
    const [s, e] = encoding.offsets[pos];
    if (!feature) {
      feature = { index: features.length, text: '', positions: [], start: s, end: e };
      byKey.set(keys[pos], feature);
      features.push(feature);
    }
    feature.positions.push(pos);
    feature.start = Math.min(feature.start, s);
    feature.end = Math.max(feature.end, e);
  });
  for (const f of features) f.text = encoding.text.slice(f.start, f.end);
  return features;
}
