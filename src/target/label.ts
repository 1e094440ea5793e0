import { usageError, usageFault } from '../errors.js';
import { argmax } from '../util/maths.js';
import { SCORE_KINDS, type ScoreKind, type Target, type TargetKind } from './kind.js';
import { labelScore } from './scores.js';

export interface LabelTarget extends Target {
  kind: 'label';
  index: number;
  score: ScoreKind;
}

/** A classifier's label, scored as its probability, logit or log-odds against all other classes. */
export const labelTarget: TargetKind<LabelTarget> = {
  kind: 'label',
  async resolve({ model, request, logitsOf }) {
    if (model.task !== 'classification') return undefined;
    if (request.continuation !== undefined)
      throw usageFault('continuation', '{param} applies to causal language models; this model is a classifier');
    const score = (request.score ?? 'probability') as ScoreKind;
    if (!SCORE_KINDS.includes(score))
      throw usageFault('score', `unknown {param} '${request.score}'; choose one of ${SCORE_KINDS.join(', ')}`);
    const labels = model.labels!;
    const wanted = request.target;
    if (wanted === undefined) {
      const index = argmax(await logitsOf());
      return { kind: 'label', index, name: labels[index], score };
    }
    const byName = labels.findIndex((l) => l.toLowerCase() === wanted.toLowerCase());
    const index = byName >= 0 ? byName : /^\d+$/.test(wanted) && Number(wanted) < labels.length ? Number(wanted) : -1;
    if (index < 0) throw usageError(`unknown label '${wanted}'; this model's labels are ${labels.join(', ')}`);
    return { kind: 'label', index, name: labels[index], score };
  },
  reads: () => ({ positions: [], extra: [] }),
  score(t, at) {
    const { data, offset, vocab } = at(0);
    return labelScore(data, offset, vocab, t.index, t.score);
  },
  head: (t) => ({ index: [t.index], weight: [1], score: t.score }),
  describe: (t) => ({ kind: 'label', name: t.name, score: t.score }),
  summary: {
    score: (d) => `the ${d.score} of ${d.name}`,
    prediction: (d, model, value) => `${model} predicts ${d.name} (${d.score} ${value}).`,
  },
};
