// A target kind as a plugin: the contrast between two candidate next tokens of a causal LM, as in Inseq's
// contrastive attribution: log p(a) − log p(b). Use: --plugin examples/plugins/contrast.js
// --target-kind contrast --target " a/ the".
import { idsAfterPrompt, logProbAt, usageError } from 'interp-cli';

const pair = (request) => {
  const parts = (request.target ?? '').split('/');
  if (parts.length !== 2 || parts.some((p) => p === '')) throw usageError("a contrast target is 'A/B'");
  return parts;
};

function tokenOf(model, ids, promptText, text) {
  const encoded = idsAfterPrompt(model, promptText, ids, text);
  if (encoded.length !== 1)
    throw usageError(`'${text}' is ${encoded.length} tokens; a contrast compares single tokens`);
  return encoded[0];
}

/** @type {import('interp-cli').TargetKind} */
export const contrast = {
  kind: 'contrast',
  async resolve({ model, ids, request, promptText }) {
    if (model.task !== 'causal-lm') return undefined;
    const [a, b] = pair(request);
    const index = [tokenOf(model, ids, promptText, a), tokenOf(model, ids, promptText, b)];
    return { kind: 'contrast', name: `${a}/${b}`, index };
  },
  // Both candidates are read at the last position.
  reads: (_, promptLength) => ({ positions: [promptLength - 1, promptLength - 1], extra: [] }),
  score(t, at) {
    const logProb = (k) => {
      const { data, offset, vocab } = at(k);
      return logProbAt(data, offset, vocab, t.index[k]);
    };
    return logProb(0) - logProb(1);
  },
  head: (t) => ({ index: t.index, weight: [1, -1], score: 'log-probability' }),
  describe: (t) => ({ kind: 'contrast', name: t.name, score: 'log-probability difference', tokenIds: t.index }),
  summary: {
    score: (d) => `the log-probability of ${d.name.replace('/', ' over ')}`,
    prediction: (d, model, value) =>
      `${model} prefers ${d.name.replace('/', ' over ')} by a log-probability of ${value}.`,
  },
  // What `interp check-method` scores on the CPU and by the graph head.
  example: { model: 'tiny-lm', text: 'Once upon a time there was', request: { target: ' a/ the' } },
};

export default { targets: [contrast] };
