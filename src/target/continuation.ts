import { usageError, usageFault } from '../errors.js';
import type { Target, TargetKind } from './kind.js';
import { idsAfterPrompt, logProbAt, logProbabilityOnly, quoted } from './scores.js';

export interface ContinuationTarget extends Target {
  kind: 'continuation';
  tokenIds: number[];
  reduce: 'sum' | 'mean';
}

const words = (score: string) => score.replace(/^sum /, 'summed ');

/** A causal LM's continuation of the prompt, scored as the sum (or mean) of its tokens' log-probabilities. */
export const continuationTarget: TargetKind<ContinuationTarget> = {
  kind: 'continuation',
  async resolve({ model, ids, request, promptText }) {
    if (model.task !== 'causal-lm' || request.continuation === undefined) return undefined;
    logProbabilityOnly(request);
    if (request.continuation.length === 0) throw usageFault('continuation', '{param} is empty');
    const tokenIds = idsAfterPrompt(model, promptText, ids, request.continuation);
    if (tokenIds.length === 0)
      throw usageFault('continuation', `{param} '${request.continuation}' encodes to no tokens`);
    if (ids.length + tokenIds.length > model.maxLength) {
      throw usageError(
        `prompt and continuation are ${ids.length + tokenIds.length} tokens long but '${model.id}' takes at most ${model.maxLength}`,
      );
    }
    return { kind: 'continuation', tokenIds, name: request.continuation, reduce: request.reduce ?? 'sum' };
  },
  reads: (t, promptLength) => ({ positions: t.tokenIds.map((_, j) => promptLength - 1 + j), extra: t.tokenIds }),
  score(t, at) {
    let total = 0;
    t.tokenIds.forEach((token, j) => {
      const { data, offset, vocab } = at(j);
      total += logProbAt(data, offset, vocab, token);
    });
    return t.reduce === 'mean' ? total / t.tokenIds.length : total;
  },
  head: (t) => ({
    index: [...t.tokenIds],
    weight: t.tokenIds.map(() => (t.reduce === 'sum' ? 1 : 1 / t.tokenIds.length)),
    score: 'log-probability',
  }),
  describe: (t) => ({ kind: 'continuation', name: t.name, score: `${t.reduce} log-probability`, tokenIds: t.tokenIds }),
  summary: {
    score: (d) => `the ${words(d.score)} of the continuation ${quoted(d.name)}`,
    prediction: (d, model, value) =>
      `${model} gives the continuation ${quoted(d.name)} a ${words(d.score)} of ${value}.`,
  },
};
