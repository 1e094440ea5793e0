import type { Model } from '../model/types.js';
import { usageError } from '../errors.js';
import { runBatched } from '../runtime/runBatched.js';
import { encodeText } from '../text/encode.js';
import { logProbAt } from './target.js';

/** Likelihoods of text under language models: sentence log-probabilities and masked-token log-probabilities. */

/** Log-probability of a whole sentence under a causal LM: every real token given those before (the encoding starts with BOS, or the context token of a model without one). */
export async function sentenceLogProbs(model: Model, texts: string[], perToken = false): Promise<number[]> {
  const seqs = texts.map((t) => encodeText(model, t, { truncate: true }).ids);
  return runBatched(
    model,
    seqs,
    (batch, r, i) => {
      const { data, dims } = batch.output(model.signature.logits);
      const V = dims[2];
      let total = 0;
      for (let t = 1; t < batch.lengths[r]; t++)
        total += logProbAt(data, (r * batch.length + t - 1) * V, V, seqs[i][t]);
      // Per token: the mean over the scored tokens, so that texts of different lengths compare.
      return perToken ? total / Math.max(1, batch.lengths[r] - 1) : total;
    },
    { batchTokens: 4096 },
  );
}

/** One masked position of a sequence and the token it hides. */
export interface MaskedToken {
  seq: number[];
  position: number;
  token: number;
}

/** log p(token | the sequence with that position masked), per job, batched: the terms of a pseudo-log-likelihood. */
export async function maskedLogProbs(model: Model, jobs: readonly MaskedToken[]): Promise<number[]> {
  return runBatched(
    model,
    jobs.map((j) => j.seq),
    (batch, r, i) => {
      const { data, dims } = batch.output(model.signature.logits);
      const V = dims[2];
      return logProbAt(data, (r * batch.length + jobs[i].position) * V, V, jobs[i].token);
    },
    { batchTokens: 4096 },
  );
}

/** A sequence and the positions whose tokens a pseudo-log-likelihood masks in turn. */
export interface MaskedSequence {
  ids: readonly number[];
  positions: readonly number[];
}

/**
 * Pseudo-log-likelihood (Salazar et al. 2020): mask each given position in turn and sum log p(token | the
 * rest), all masked copies of all sequences batched together. `perToken`: the mean over the positions.
 */
export async function pseudoLogLikelihoods(
  model: Model,
  sequences: readonly MaskedSequence[],
  perToken = false,
): Promise<number[]> {
  const maskId = model.tokenizer.mask_token_id;
  if (maskId === undefined || maskId === null)
    throw usageError(`'${model.id}' has no mask token for pseudo-log-likelihood`);
  const jobs: (MaskedToken & { of: number })[] = [];
  sequences.forEach((s, of) => {
    for (const position of s.positions)
      jobs.push({ seq: s.ids.map((x, q) => (q === position ? maskId : x)), position, token: s.ids[position], of });
  });
  const logProbs = await maskedLogProbs(model, jobs);
  const sums = sequences.map(() => 0);
  jobs.forEach((job, k) => (sums[job.of] += logProbs[k]));
  return sums.map((s, i) => (perToken ? s / Math.max(1, sequences[i].positions.length) : s));
}

/**
 * How likely a language model finds each whole text: the sum of its tokens' log-probabilities under a causal
 * LM, the pseudo-log-likelihood of every non-special token under a masked LM (`perToken`: means, so that texts
 * of different lengths compare). Classifiers assign no likelihood to text: a usage error naming `what`.
 */
export async function statementLogLikelihoods(
  model: Model,
  texts: readonly string[],
  what: string,
  perToken = false,
): Promise<number[]> {
  if (model.task === 'causal-lm') return sentenceLogProbs(model, [...texts], perToken);
  if (model.task !== 'masked-lm')
    throw usageError(`${what} needs a causal or masked language model; classifiers do not assign likelihoods to text`);
  const special = new Set(model.tokenizer.all_special_ids);
  const sequences = texts.map((t) => {
    const ids = encodeText(model, t, { truncate: true }).ids;
    return { ids, positions: ids.map((_, p) => p).filter((p) => !special.has(ids[p])) };
  });
  return pseudoLogLikelihoods(model, sequences, perToken);
}
