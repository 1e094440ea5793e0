import type { Coalition } from '../masking/types.js';
import type { Rng } from '../util/rng.js';

/**
 * How the held-out ablations of an LDS were chosen; none of them was used for fitting.
 * - all: every subset not used for fitting (there were no more than asked for);
 * - sampled: drawn without replacement from the subsets not used for fitting;
 * - reserved: with few subsets in all (2^k), a random share of them set aside before fitting, the fit
 *   drawing only from the rest.
 */
export type HeldOutKind = 'all' | 'sampled' | 'reserved';

/** Subsets up to this many segments are enumerated; above it there are too many to list, and draws rarely repeat. */
const ENUMERABLE = 16;

const keyOf = (c: Coalition) => c.join('');
const subsetOf = (bits: number, k: number): Coalition => Uint8Array.from({ length: k }, (_, i) => (bits >> i) & 1);

/** Held-out subsets of k segments that are none of `used`, at most `count` of them, without repeats. */
export function heldOutSubsets(
  k: number,
  count: number,
  used: readonly Coalition[],
  rng: Rng,
): { subsets: Coalition[]; kind: HeldOutKind } {
  const seen = new Set(used.map(keyOf));
  if (k <= ENUMERABLE) {
    const unused = Array.from({ length: 2 ** k }, (_, b) => subsetOf(b, k)).filter((c) => !seen.has(keyOf(c)));
    if (unused.length <= count) return { subsets: unused, kind: 'all' };
    return {
      subsets: rng
        .permutation(unused.length)
        .slice(0, count)
        .map((i) => unused[i]),
      kind: 'sampled',
    };
  }
  const out: Coalition[] = [];
  while (out.length < count) {
    const c = Uint8Array.from({ length: k }, () => (rng.next() < 0.5 ? 1 : 0));
    if (seen.has(keyOf(c))) continue;
    seen.add(keyOf(c));
    out.push(c);
  }
  return { subsets: out, kind: 'sampled' };
}

/**
 * Random training subsets for a surrogate, and held-out ones disjoint from them. Where 2^k is small next to
 * the draws asked for, the training draws would cover every subset, so a share is reserved first.
 */
export function trainAndHeldOut(
  k: number,
  samples: number,
  count: number,
  rng: Rng,
): { train: Coalition[]; heldOut: Coalition[]; kind: HeldOutKind } {
  const draw = (): Coalition => Uint8Array.from({ length: k }, () => (rng.next() < 0.5 ? 1 : 0));
  if (k <= ENUMERABLE && 2 ** k < samples + 2 * count) {
    const all = rng.permutation(2 ** k).map((b) => subsetOf(b, k));
    const reserved = Math.min(count, Math.floor(all.length / 2));
    const rest = all.slice(reserved);
    const train = Array.from({ length: samples }, () => rest[rng.int(rest.length)]);
    return { train, heldOut: all.slice(0, reserved), kind: 'reserved' };
  }
  const train = Array.from({ length: samples }, draw);
  const { subsets, kind } = heldOutSubsets(k, count, train, rng);
  return { train, heldOut: subsets, kind };
}

/** The held-out draw in words, for tables and summaries. */
export function heldOutText(kind: HeldOutKind, n: number): string {
  if (kind === 'all') return `all ${n} subsets not used for fitting`;
  if (kind === 'sampled') return `${n} subsets drawn without replacement from those not used for fitting`;
  return `${n} subsets set aside before fitting (few in all), the fit drawing from the rest`;
}
