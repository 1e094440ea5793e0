import { usageFault } from '../errors.js';
import { argmax } from '../util/maths.js';
import type { Target, TargetKind } from './kind.js';
import { idsAfterPrompt, logProbAt, logProbabilityOnly, quoted, tokenName } from './scores.js';

export interface NextTokenTarget extends Target {
  kind: 'next-token';
  tokenId: number;
}

/** A causal LM's next token, scored as its log-probability after the prompt. */
export const nextTokenTarget: TargetKind<NextTokenTarget> = {
  kind: 'next-token',
  async resolve({ model, ids, request, promptText, logitsOf }) {
    if (model.task !== 'causal-lm') return undefined;
    logProbabilityOnly(request);
    const made = (tokenId: number): NextTokenTarget => ({
      kind: 'next-token',
      tokenId,
      name: tokenName(model, tokenId),
    });
    if (request.target === undefined) return made(argmax(await logitsOf()));
    if (request.target.startsWith('id:')) {
      // Where config.json gives no vocabulary size, the logits' width is the vocabulary.
      const vocab = (model.config.vocab_size as number | undefined) ?? (await logitsOf()).length;
      const digits = request.target.slice(3);
      const tokenId = /^\d+$/.test(digits) ? Number(digits) : NaN;
      if (!Number.isSafeInteger(tokenId) || tokenId >= vocab)
        throw usageFault(
          'target',
          `{param} '${request.target}' is not a token id of '${model.id}': write id:N with N a decimal integer from 0 to ${vocab - 1}`,
        );
      return made(tokenId);
    }
    const encoded = idsAfterPrompt(model, promptText, ids, request.target);
    if (encoded.length !== 1) {
      throw usageFault(
        'target',
        `{param} '${request.target}' is ${encoded.length} tokens; a next-token target must be one token (use {param:continuation} for longer text, or id:N)`,
      );
    }
    return made(encoded[0]);
  },
  reads: (_, promptLength) => ({ positions: [promptLength - 1], extra: [] }),
  score(t, at) {
    const { data, offset, vocab } = at(0);
    return logProbAt(data, offset, vocab, t.tokenId);
  },
  head: (t) => ({ index: [t.tokenId], weight: [1], score: 'log-probability' }),
  describe: (t) => ({ kind: 'next-token', name: t.name, score: 'log-probability', tokenIds: [t.tokenId] }),
  summary: {
    score: (d) => `the log-probability of the next token ${quoted(d.name)}`,
    prediction: (d, model, value) => `${model} gives the next token ${quoted(d.name)} a log-probability of ${value}.`,
  },
};
