import type { Summary } from '../summary/claims.js';
import { usageFault } from '../errors.js';
import { explainText, wordAttributions } from '../explain.js';
import type { Model } from '../model/types.js';
import { statementLogLikelihoods } from '../target/likelihood.js';
import { embeddingProposer, listProposer, mlmProposer, type Proposer } from './proposers.js';
import { Judge, searchEdits, type Goal, type Prediction } from './search.js';
import { diffText, wordsOf, type Edit, type Word } from './text.js';

export const COUNTERFACTUAL_SCHEMA = 'interp/counterfactual@1';

export type ProposerSpec = { kind: 'list'; file: string } | { kind: 'embedding' } | { kind: 'mlm'; model: Model };

export interface CounterfactualRequest extends Goal {
  text: string;
  proposer: ProposerSpec;
  /** The attribution method that orders the words (most important first). */
  method: string;
  params?: Record<string, number>;
  choices?: Record<string, string>;
  /** Forward passes at most, the ordering's and the search's together. */
  budget: number;
  beam: number;
  maxEdits: number;
  /** Candidates per word from the proposer. */
  candidates: number;
  top: number;
  seed: number;
  fluencyModel?: Model;
}

export interface Counterfactual {
  text: string;
  diff: string;
  edits: (Edit & { from?: string })[];
  distance: number;
  /** Share of the original words changed (an insertion counts as one). */
  changedShare: number;
  prediction: Prediction;
  objective: number;
  /** Mean per-token (pseudo-)log-likelihood under the fluency model, or null without one. */
  fluency: number | null;
  /** Under `--delta` only: the original prediction's log-probability on the edited text (what was asked to drop). */
  target?: { name: string; logProb: number; drop: number };
}

export interface CounterfactualReport {
  schema: typeof COUNTERFACTUAL_SCHEMA;
  model: string;
  text: string;
  words: string[];
  prediction: Prediction;
  goal: { kind: 'change' | 'to' | 'delta'; to: string | null; delta: number | null };
  proposer: string;
  method: string;
  budget: number;
  forwardPasses: number;
  found: boolean;
  /** True when every edit set up to the distance reached was tried: the counterfactuals are minimal. */
  exhaustive: boolean;
  distance: number;
  fluency: { model: string; kind: 'pseudo-log-likelihood' | 'log-probability'; original: number } | null;
  counterfactuals: Counterfactual[];
  seed: number;
  /** With --summary: the result in words, each counterfactual rescored. */
  summary?: Summary;
}

export function proposerOf(model: Model, spec: ProposerSpec): Proposer {
  if (spec.kind === 'list') return listProposer(spec.file);
  if (spec.kind === 'embedding') return embeddingProposer(model);
  return mlmProposer(spec.model);
}

/** Word importance toward the current prediction, from any attribution method at word granularity. */
async function wordOrder(model: Model, request: CounterfactualRequest, words: readonly Word[]) {
  const result = await explainText(model, {
    text: request.text,
    method: request.method,
    params: request.params,
    choices: request.choices,
    granularity: 'word',
    seed: request.seed,
    truncate: true,
  });
  const weight = wordAttributions(result, words);
  return { order: words.map((_, i) => i).sort((a, b) => weight[b] - weight[a] || a - b), passes: result.forwardPasses };
}

/** Mean per-token log-likelihood: pseudo-log-likelihood under a masked LM, log-probability under a causal LM. */
const fluencyOf = (model: Model, texts: string[]): Promise<number[]> =>
  statementLogLikelihoods(model, texts, 'fluency', true);

/**
 * The smallest edits to the text (word substitutions, deletions, insertions) that change the model's
 * prediction: words in order of importance, candidates from a proposer, a breadth-first search under a
 * forward-pass budget (see searchEdits), and the fluency of what it finds.
 */
export async function counterfactualReport(
  model: Model,
  request: CounterfactualRequest,
): Promise<CounterfactualReport> {
  const words = wordsOf(request.text);
  if (words.length === 0) throw usageFault('text', 'the input has no words to edit');
  const judge = await Judge.create(model, request.text, request);
  const fluencyModel = request.fluencyModel ?? (request.proposer.kind === 'mlm' ? request.proposer.model : undefined);
  if (fluencyModel && fluencyModel.task !== 'causal-lm' && fluencyModel.task !== 'masked-lm')
    throw usageFault(
      'fluency-model',
      `{param} '${fluencyModel.id}' is a ${fluencyModel.task}; it needs a language model`,
    );
  const proposer = proposerOf(model, request.proposer);
  const { order, passes } = await wordOrder(model, request, words);
  judge.passes += passes;
  const substitutes = await proposer.substitutes(request.text, words, request.candidates);
  const insertions = await proposer.insertions(request.text, words, request.candidates);
  const moves: Edit[] = order.flatMap((i): Edit[] => [
    { kind: 'delete', index: i },
    ...substitutes[i].map((to): Edit => ({ kind: 'substitute', index: i, to })),
    ...insertions[i].map((to): Edit => ({ kind: 'insert', index: i, to })),
  ]);
  moves.push(...insertions[words.length].map((to): Edit => ({ kind: 'insert', index: words.length, to })));
  const result = await searchEdits(request.text, words, moves, judge, request);
  const texts = [request.text, ...result.found.map((f) => f.text)];
  const fluency = fluencyModel ? await fluencyOf(fluencyModel, texts) : null;
  const counterfactuals = result.found
    .map((f, i): Counterfactual => ({
      text: f.text,
      diff: diffText(words, f.edits),
      edits: f.edits.map((e) => (e.kind === 'insert' ? e : { ...e, from: words[e.index].text })),
      distance: f.edits.length,
      changedShare: f.edits.length / words.length,
      prediction: f.verdict.prediction,
      objective: f.verdict.objective,
      fluency: fluency ? fluency[i + 1] : null,
      ...(request.delta === undefined
        ? {}
        : {
            target: {
              name: judge.original.name,
              logProb: f.verdict.originalLogProb,
              drop: judge.original.score - f.verdict.originalLogProb,
            },
          }),
    }))
    .sort((a, b) => (b.fluency ?? 0) - (a.fluency ?? 0) || a.objective - b.objective)
    .slice(0, request.top);
  return {
    schema: COUNTERFACTUAL_SCHEMA,
    model: model.id,
    text: request.text,
    words: words.map((w) => w.text),
    prediction: judge.original,
    goal: {
      kind: request.delta !== undefined ? 'delta' : request.to !== undefined ? 'to' : 'change',
      to: request.to ?? null,
      delta: request.delta ?? null,
    },
    proposer: proposer.name,
    method: request.method,
    budget: request.budget,
    forwardPasses: judge.passes,
    found: counterfactuals.length > 0,
    exhaustive: result.exhaustive,
    distance: result.distance,
    fluency:
      fluencyModel && fluency
        ? {
            model: fluencyModel.id,
            kind: fluencyModel.task === 'causal-lm' ? 'log-probability' : 'pseudo-log-likelihood',
            original: fluency[0],
          }
        : null,
    counterfactuals,
    seed: request.seed,
  };
}
