import type { Model } from '../model/types.js';
import { statementLogLikelihoods } from '../target/likelihood.js';
import { candidatesOf, statement, type Relation } from './relations.js';

/** One relation asked of one subject: every candidate object ranked by the likelihood of its statement. */
export interface Instance {
  relation: string;
  subject: string;
  /** The expansion round that asked it (0: the seeds). */
  round: number;
  /** Candidates, most likely first (ties keep the file's order). */
  ranking: { object: string; logLikelihood: number }[];
  predicted: string;
  /** Log-likelihood of the best statement over the runner-up's. */
  margin: number;
  /** The statement that produced the prediction. */
  prompt: string;
  /** Right answers, where the relation file gives them. */
  gold: string[] | null;
  correct: boolean | null;
  /** 1-based rank of the best-ranked right answer. */
  goldRank: number | null;
}

/**
 * Likelihood ranking (the BEAR probe, Wiland et al. 2024): fill the template with each candidate, score
 * every statement (sentence log-probability, or pseudo-log-likelihood under a masked LM), all instances'
 * statements in one batched call, and rank.
 */
export async function probe(
  model: Model,
  asks: readonly { relation: Relation; subject: string }[],
  round: number,
): Promise<Instance[]> {
  const filled = asks.map(({ relation, subject }) =>
    candidatesOf(relation, subject).map((object) => ({ object, text: statement(relation, subject, object) })),
  );
  const scores = await statementLogLikelihoods(
    model,
    filled.flatMap((f) => f.map((c) => c.text)),
    'interp knowledge',
  );
  let k = 0;
  return asks.map(({ relation, subject }, i) => {
    const scored = filled[i].map((c) => ({ ...c, logLikelihood: scores[k++] }));
    const order = scored.map((_, j) => j).sort((a, b) => scored[b].logLikelihood - scored[a].logLikelihood || a - b);
    const ranking = order.map((j) => ({ object: scored[j].object, logLikelihood: scored[j].logLikelihood }));
    const gold = relation.gold[subject] ?? null;
    const goldRank = gold ? ranking.findIndex((r) => gold.includes(r.object)) + 1 : null;
    return {
      relation: relation.name,
      subject,
      round,
      ranking,
      predicted: ranking[0].object,
      margin: ranking.length > 1 ? ranking[0].logLikelihood - ranking[1].logLikelihood : 0,
      prompt: scored[order[0]].text,
      gold,
      correct: gold ? gold.includes(ranking[0].object) : null,
      goldRank: goldRank || null,
    };
  });
}
