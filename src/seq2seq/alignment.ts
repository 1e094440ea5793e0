import { usageFault } from '../errors.js';
import { readUserText, textLines } from '../util/files.js';

/** A link from source token `source` to target token `target` (0-based). */
export type Link = [source: number, target: number];

/** Reference alignments of one sentence pair: sure links, and possible ones (every sure link is also possible). */
export interface ReferenceAlignment {
  sure: Link[];
  possible: Link[];
}

/** Most links one reference line may hold. */
export const MAX_LINKS = 100_000;

/**
 * One sentence pair's reference alignment in the Pharaoh format (as fast_align writes it): whitespace-separated
 * `i-j` links, source token i to target token j, 0-based; `i?j` or `ipj` marks a possible link (Och & Ney 2003's
 * P, as the alignment-scripts of Zenkel et al. 2019 write it). Comments and blank lines are not allowed: exactly
 * one line of links.
 */
export function parsePharaoh(text: string, where: string, param = 'alignments'): ReferenceAlignment {
  const lines = textLines(text, where).filter((l) => l.trim() !== '');
  if (lines.length !== 1)
    throw usageFault(param, `{param} ${where}: expected one line of links (i-j), found ${lines.length}`);
  const words = lines[0].trim().split(/\s+/);
  if (words.length > MAX_LINKS) throw usageFault(param, `{param} ${where}: more than ${MAX_LINKS} links`);
  const sure: Link[] = [];
  const possible: Link[] = [];
  const seen = new Set<string>();
  for (const w of words) {
    const m = /^(\d{1,6})([-?p])(\d{1,6})$/.exec(w);
    if (!m) throw usageFault(param, `{param} ${where}: '${w.slice(0, 40)}' is not a link i-j (or i?j, ipj)`);
    const link: Link = [Number(m[1]), Number(m[3])];
    const key = `${link[0]}-${link[1]}`;
    if (seen.has(key)) throw usageFault(param, `{param} ${where}: link ${key} is given twice`);
    seen.add(key);
    possible.push(link);
    if (m[2] === '-') sure.push(link);
  }
  return { sure, possible };
}

/** Read and parse a reference alignment file (bounded as every text reader is). */
export function readAlignments(file: string, param = 'alignments'): ReferenceAlignment {
  return parsePharaoh(readUserText(file, param), file, param);
}

/** Every link must fall inside the sentence pair's tokens: `sources` source tokens and `targets` target tokens. */
export function checkLinks(ref: ReferenceAlignment, sources: number, targets: number, param = 'alignments'): void {
  const out = ref.possible.find(([i, j]) => i >= sources || j >= targets);
  if (out)
    throw usageFault(
      param,
      `{param}: link ${out[0]}-${out[1]} is outside the ${sources} source × ${targets} target tokens (0-based)`,
    );
}

/**
 * The alignment error rate of Och & Ney (2003, "A Systematic Comparison of Various Statistical Alignment Models",
 * §5.2): AER = 1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|), with S the sure and P the possible links (S ⊆ P).
 * 0 where A matches the reference; NaN where A and S are both empty.
 */
export function alignmentErrorRate(predicted: readonly Link[], ref: ReferenceAlignment): number {
  const key = ([i, j]: Link) => `${i}-${j}`;
  const sure = new Set(ref.sure.map(key));
  const possible = new Set(ref.possible.map(key));
  const a = new Set(predicted.map(key));
  let inSure = 0;
  let inPossible = 0;
  for (const k of a) {
    if (sure.has(k)) inSure++;
    if (possible.has(k)) inPossible++;
  }
  const denominator = a.size + sure.size;
  return denominator === 0 ? NaN : 1 - (inSure + inPossible) / denominator;
}

/**
 * The argmax alignment of a cross-attention matrix [target step × source] (row-major): each target token linked
 * to the source token it attends to most, as Garg et al. (2019) and Zenkel et al. (2019) induce alignments.
 * `targets` and `sources` pick the rows and columns that take part (special tokens left out).
 */
export function argmaxAlignment(
  matrix: ArrayLike<number>,
  sourceCount: number,
  targets: readonly number[],
  sources: readonly number[],
): Link[] {
  return targets.map((t) => {
    let best = sources[0];
    for (const j of sources) if (matrix[t * sourceCount + j] > matrix[t * sourceCount + best]) best = j;
    return [best, t];
  });
}
