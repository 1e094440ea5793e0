import { usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { patchReport } from '../patch/patch.js';
import { idsAfterPrompt } from '../target/target.js';
import { encodeText } from '../text/encode.js';
import { bootstrap, mean, type Estimate } from '../util/stats.js';
import type { KnowledgeEdge } from './graph.js';
import type { Relation } from './relations.js';

export interface LocateOptions {
  /** Noise on the subject's embeddings, in standard deviations of the clean embeddings (ROME: 3). */
  noise: number;
  /** Noise draws averaged over. */
  samples: number;
  seed: number;
}

/** Where one fact lives: the hidden state whose restoration brings back most of the object's probability. */
export interface FactLocation {
  /** The statement up to the object, traced. */
  prompt: string;
  /** The object's first token, the traced next token. */
  target: string;
  cleanScore: number;
  corruptedScore: number;
  /** 0: the embeddings; l: the residual stream after layer l. */
  layer: number;
  position: number;
  token: string;
  /** Share of the corruption's loss that restoring this one state recovers (the indirect effect). */
  recovered: number;
  /** The position is one of the subject's tokens / the last subject token / the last token of the prompt. */
  atSubject: boolean;
  atLastSubjectToken: boolean;
  atLastToken: boolean;
  /** Hidden states traced (layers + 1, with the embeddings). */
  layers: number;
  forwardPasses: number;
}

export interface RelationLocation {
  facts: number;
  /** Hidden states traced (layers + 1, with the embeddings). */
  layers: number;
  layer: Estimate;
  recovered: number;
  atSubject: number;
  atLastSubjectToken: number;
  atLastToken: number;
}

/** The template up to its object slot, filled with the subject: what a causal LM reads before naming the object. */
function promptOf(relation: Relation, subject: string): string {
  const at = relation.template.indexOf('{object}');
  const before = relation.template.slice(0, at);
  if (!before.includes('{subject}'))
    throw usageFault(
      'locate',
      `{param} traces the subject before the object; relation '${relation.name}' names its object first`,
    );
  return before.replace('{subject}', () => subject).trimEnd();
}

/**
 * Causal tracing of one edge (Meng et al. 2022), with `interp patch`'s machinery: noise on the subject's
 * embeddings, then each layer × position restored in turn; the state with the largest indirect effect on
 * the object's first token is where the fact is read out.
 */
export async function locateEdge(
  model: Model,
  relation: Relation,
  edge: KnowledgeEdge,
  o: LocateOptions,
): Promise<FactLocation> {
  if (model.task !== 'causal-lm')
    throw usageFault('locate', `{param} traces next-token predictions: it needs a causal LM, not a ${model.task}`);
  const prompt = promptOf(relation, edge.source);
  const ids = encodeText(model, prompt).ids;
  const [first] = idsAfterPrompt(model, prompt, ids, edge.prompt.slice(prompt.length));
  const r = await patchReport(model, {
    text: prompt,
    corrupt: edge.source,
    noise: o.noise,
    samples: o.samples,
    target: { target: `id:${first}` },
    seed: o.seed,
  });
  const best = r.strongest[0];
  const subject = r.corruption.kind === 'noise' ? r.corruption.positions : [];
  return {
    prompt,
    target: r.target.name,
    cleanScore: r.cleanScore,
    corruptedScore: r.corruptedScore,
    layer: best.layer,
    position: best.position,
    token: best.token,
    recovered: best.recovered,
    atSubject: subject.includes(best.position),
    atLastSubjectToken: best.position === Math.max(...subject),
    atLastToken: best.position === r.tokens.length - 1,
    layers: r.layers,
    forwardPasses: r.forwardPasses,
  };
}

/** Per relation: the mean layer of its facts (with a bootstrap interval) and the shares at each kind of position. */
export function summarizeLocations(found: readonly FactLocation[], seed: number): RelationLocation {
  const share = (key: 'atSubject' | 'atLastSubjectToken' | 'atLastToken') => mean(found.map((f) => (f[key] ? 1 : 0)));
  return {
    facts: found.length,
    layers: found[0]?.layers ?? 0,
    layer: bootstrap(
      found.map((f) => f.layer),
      seed,
    ),
    recovered: mean(found.map((f) => f.recovered)),
    atSubject: share('atSubject'),
    atLastSubjectToken: share('atLastSubjectToken'),
    atLastToken: share('atLastToken'),
  };
}
