import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { readText } from '../data/datasets.js';
import { textLines } from '../util/files.js';
import { usageError } from '../errors.js';
import { bootstrap, type Estimate } from '../util/stats.js';
import type { Model } from '../model/types.js';
import { pseudoLogLikelihoods as maskedSequenceLikelihoods, sentenceLogProbs } from '../target/likelihood.js';
import { encodeText } from '../text/encode.js';

export { sentenceLogProbs } from '../target/likelihood.js';

export const PAIRS_SCHEMA = 'interp/bias-pairs@1';

/** A minimal pair: `more` is the more stereotypical sentence. */
export interface SentencePair {
  more: string;
  less: string;
  type: string;
  direction: string;
}

/** CrowS-Pairs CSV (sent_more, sent_less, stereo_antistereo, bias_type) or JSONL of {more, less, type}. */
export function readPairs(file: string): SentencePair[] {
  const raw = readText(file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') {
    const rows = parse(raw, {
      columns: true,
      skip_empty_lines: true,
      delimiter: ext === '.tsv' ? '\t' : ',',
    }) as Record<string, string>[];
    if (!rows.length || !('sent_more' in rows[0]) || !('sent_less' in rows[0]))
      throw usageError(`${file}: expected CrowS-Pairs columns sent_more, sent_less, stereo_antistereo, bias_type`);
    return rows.map((r) => ({
      more: r.sent_more,
      less: r.sent_less,
      type: r.bias_type || 'unknown',
      direction: r.stereo_antistereo || 'stereo',
    }));
  }
  if (ext !== '.jsonl' && ext !== '.ndjson' && ext !== '.json')
    throw usageError(`${file}: pairs are read from CSV or TSV (CrowS-Pairs columns) or JSONL; '${ext}' is neither`);
  return textLines(raw, file)
    .filter((l) => l.trim())
    .map((line, i) => {
      let r: { more?: unknown; less?: unknown; type?: unknown; direction?: unknown };
      try {
        r = JSON.parse(line);
      } catch {
        throw usageError(`${file}:${i + 1} is not valid JSON`);
      }
      if (typeof r.more !== 'string' || typeof r.less !== 'string')
        throw usageError(`${file}:${i + 1} needs "more" and "less" strings`);
      return {
        more: r.more,
        less: r.less,
        type: typeof r.type === 'string' ? r.type : 'unknown',
        direction: typeof r.direction === 'string' ? r.direction : 'stereo',
      };
    });
}

/** Longest common subsequence of two id lists: the positions in `a` that the pair shares. */
export function sharedPositions(a: readonly number[], b: readonly number[]): number[] {
  const m = a.length;
  const n = b.length;
  const L = Array.from({ length: m + 1 }, () => new Int32Array(n + 1));
  for (let i = m - 1; i >= 0; i--)
    for (let j = n - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out: number[] = [];
  for (let i = 0, j = 0; i < m && j < n;) {
    if (a[i] === b[j]) {
      out.push(i);
      i++;
      j++;
    } else if (L[i + 1][j] >= L[i][j + 1]) i++;
    else j++;
  }
  return out;
}

/** Pseudo-log-likelihood (Salazar et al.; CrowS-Pairs) of each sentence of each pair, over the tokens the pair shares. */
export async function pseudoLogLikelihoods(model: Model, pairs: SentencePair[]): Promise<[number, number][]> {
  const special = new Set(model.tokenizer.all_special_ids);
  const sequences = pairs.flatMap((p) => {
    const a = encodeText(model, p.more, { truncate: true }).ids;
    const b = encodeText(model, p.less, { truncate: true }).ids;
    const of = (ids: number[], shared: number[]) => ({
      ids,
      positions: shared.filter((pos) => !special.has(ids[pos])),
    });
    return [of(a, sharedPositions(a, b)), of(b, sharedPositions(b, a))];
  });
  const sums = await maskedSequenceLikelihoods(model, sequences);
  return pairs.map((_, i) => [sums[2 * i], sums[2 * i + 1]]);
}

export interface PairsRow extends Estimate {
  group: string;
  /** Pairs whose two scores are equal (counted as not preferring the stereotype). */
  ties: number;
}

export interface PairsResult {
  schema: typeof PAIRS_SCHEMA;
  model: string;
  scoring: 'sentence log-probability' | 'pseudo-log-likelihood of shared tokens';
  pairs: number;
  overall: PairsRow;
  byType: PairsRow[];
  byDirection: PairsRow[];
  seed: number;
}

/** Share of pairs where the model prefers the more stereotypical sentence (0.5 is unbiased), with intervals. */
export async function scorePairs(model: Model, pairs: SentencePair[], seed: number): Promise<PairsResult> {
  let scores: [number, number][];
  if (model.task === 'causal-lm') {
    const lp = await sentenceLogProbs(
      model,
      pairs.flatMap((p) => [p.more, p.less]),
    );
    scores = pairs.map((_, i) => [lp[2 * i], lp[2 * i + 1]]);
  } else if (model.task === 'masked-lm') {
    scores = await pseudoLogLikelihoods(model, pairs);
  } else {
    throw usageError(
      'bias pairs needs a causal or masked language model; classifiers do not assign likelihoods to sentences',
    );
  }
  const prefers = scores.map(([a, b]) => (a > b ? 1 : 0));
  const row = (group: string, idx: number[]): PairsRow => ({
    group,
    ties: idx.filter((i) => scores[i][0] === scores[i][1]).length,
    ...bootstrap(
      idx.map((i) => prefers[i]),
      seed,
    ),
  });
  const all = pairs.map((_, i) => i);
  const by = (key: 'type' | 'direction') =>
    [...new Set(pairs.map((p) => p[key]))].sort().map((g) =>
      row(
        g,
        all.filter((i) => pairs[i][key] === g),
      ),
    );
  return {
    schema: PAIRS_SCHEMA,
    model: model.id,
    scoring: model.task === 'causal-lm' ? 'sentence log-probability' : 'pseudo-log-likelihood of shared tokens',
    pairs: pairs.length,
    overall: row('all', all),
    byType: by('type'),
    byDirection: by('direction'),
    seed,
  };
}
