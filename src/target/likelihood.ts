import type { Model } from '../model/types.js';
import { runBatched } from '../runner/runBatched.js';
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
