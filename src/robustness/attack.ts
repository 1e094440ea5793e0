import { proposerOf, type ProposerSpec } from '../counterfactual/report.js';
import { Judge, type Verdict } from '../counterfactual/search.js';
import { applyEdits, diffText, wordsOf, type Edit, type Word } from '../counterfactual/text.js';
import { InterpError } from '../errors.js';
import { explainText, wordAttributions, type Attribution, type ExplainRequest } from '../explain.js';
import { ranking, topKPrecision } from '../metrics/faithfulness.js';
import type { Model } from '../model/types.js';
import { RunContext, withinCall } from '../runtime/context.js';
import { Rng } from '../util/rng.js';
import { spearman } from '../util/stats.js';

/** How hard the adversary tries: Ivankay et al. 2022's attack on text explanations, under a pass budget. */
export interface AttackSettings {
  /** The explanation's top-k words that the attack tries to displace. */
  k: number;
  /** Forward passes the whole attack may run (judging candidates and explaining them), the control included. */
  budget: number;
  maxEdits: number;
  /** Substitutes proposed per word. */
  candidates: number;
  /** Label-keeping candidates explained per round, the most promising first. */
  beam: number;
  /** The prediction's score may move at most this much (probability, or log-probability for an LM). */
  tolerance: number;
  seed: number;
  proposer: ProposerSpec;
}

export interface Robustness {
  k: number;
  /** Share of the original top-k words still in the top-k after the attack (1: nothing found that moves it). */
  topK: number;
  /** Rank correlation of the word attributions before and after. */
  spearman: number;
  /** True when the attack displaced at least one top-k word while the prediction held. */
  broken: boolean;
  edits: number;
  /** The attacked text as a word diff ([-from-] {+to+}); null when no edit was kept. */
  diff: string | null;
  /** The control: as many random label-keeping substitutions, and the top-k share they leave (null: none kept). */
  randomTopK: number | null;
  forwardPasses: number;
  /** True when the budget ran out before the search ended. */
  budgetSpent: boolean;
}

interface Attacked {
  edits: Edit[];
  topK: number;
  rho: number;
  /** How far the original top-k words still lead the rest (share of Σ|a|): the search drives it below 0. */
  lead: number;
}

/**
 * Search word substitutions that keep the prediction (same label or token, score within the tolerance) and
 * move the explanation as far as possible: each round tries one more substitution at every unedited word
 * (the top-k words first), judges them in one batch, explains the label-keeping ones `beam` at a time,
 * and keeps the one that leaves the fewest top-k words in place (then the one whose top-k words lead the rest
 * least: the step towards displacing one).
 * Word attributions are compared position by position: substitutions keep the word count.
 */
export async function attackExplanation(
  model: Model,
  request: ExplainRequest,
  original: Attribution,
  settings: AttackSettings,
): Promise<Robustness> {
  const words = wordsOf(request.text);
  const base = wordAttributions(original, words);
  const k = Math.min(settings.k, words.length);
  const measure = async (edits: Edit[]): Promise<Attacked | null> => {
    const values = await attributionAfter(model, request, original, words, edits);
    return values && { edits, topK: topKPrecision(values, base, k), rho: spearman(base, values), lead: lead(values) };
  };
  const call = RunContext.call({ maxPasses: settings.budget });
  const top = new Set(ranking(base.map(Math.abs)).slice(0, k));
  // The weakest original top-k word's |a| minus the strongest other word's, as a share of Σ|a|.
  const lead = (values: number[]) => {
    const abs = values.map(Math.abs);
    const total = abs.reduce((a, b) => a + b, 0) || 1;
    const inside = Math.min(...abs.filter((_, i) => top.has(i)));
    const outside = Math.max(0, ...abs.filter((_, i) => !top.has(i)));
    return (inside - outside) / total;
  };
  let best: Attacked = { edits: [], topK: 1, rho: 1, lead: lead(base) };
  let budgetSpent = false;
  let setup: Setup | null = null;
  try {
    await withinCall(call, async () => {
      setup = await attackSetup(model, request.text, words, settings);
      const { judge, substitutes, kept } = setup;
      const order = ranking(base.map(Math.abs));
      for (let round = 1; round <= settings.maxEdits && best.topK > 0; round++) {
        const used = new Set(best.edits.map((e) => e.index));
        // Round-robin over the words (most attributed first): a beam filled from one word's substitutes alone
        // explored one word a round, and lost to the random control.
        const open = order.filter((i) => !used.has(i));
        const candidates = Array.from({ length: settings.candidates }, (_, s) =>
          open.flatMap((i) =>
            s < substitutes[i].length
              ? [[...best.edits, { kind: 'substitute' as const, index: i, to: substitutes[i][s] }]]
              : [],
          ),
        ).flat();
        const verdicts = await judge.judge(candidates.map((edits) => applyEdits(request.text, words, edits)));
        // Explained `beam` at a time: the round ends at the first group that improves on the best, and goes
        // on to the next group when none does, until every label-keeping candidate was tried (or the budget).
        const keeping = candidates.filter((_, c) => kept(verdicts[c]));
        let improved = false;
        for (let from = 0; from < keeping.length && !improved; from += settings.beam) {
          for (const edits of keeping.slice(from, from + settings.beam)) {
            const tried = await measure(edits);
            if (tried && (tried.topK < best.topK || (tried.topK === best.topK && tried.lead < best.lead))) {
              best = tried;
              improved = true;
            }
          }
        }
        if (!improved) break;
      }
    });
  } catch (e) {
    // The budget is the attack's to spend: when it runs out, the best found so far stands.
    if (!(e instanceof InterpError && e.kind === 'limit')) throw e;
    budgetSpent = true;
  }
  // The control runs outside the attack's budget, so that a spent budget still leaves a comparison.
  const controlCall = RunContext.call();
  const ready = setup as Setup | null;
  const randomTopK = ready
    ? await withinCall(controlCall, () =>
        control(ready, Math.max(1, best.edits.length), settings.seed, measure, words, request.text),
      )
    : null;
  return {
    k,
    topK: best.topK,
    spearman: best.rho,
    broken: best.topK < 1,
    edits: best.edits.length,
    diff: best.edits.length ? diffText(words, best.edits) : null,
    randomTopK,
    forwardPasses: call.forward + controlCall.forward,
    budgetSpent,
  };
}

interface Setup {
  judge: Judge;
  substitutes: string[][];
  kept: (v: Verdict) => boolean;
}

async function attackSetup(
  model: Model,
  text: string,
  words: readonly Word[],
  settings: AttackSettings,
): Promise<Setup> {
  const judge = await Judge.create(model, text, {});
  const substitutes = await proposerOf(model, settings.proposer).substitutes(text, words, settings.candidates);
  return { judge, substitutes, kept: keepsPrediction(judge, settings.tolerance) };
}

/** Same prediction, with its score moved at most `tolerance`. */
function keepsPrediction(judge: Judge, tolerance: number) {
  return (v: Verdict) =>
    v.prediction.index === judge.original.index && Math.abs(v.prediction.score - judge.original.score) <= tolerance;
}

/** The explanation of the edited text, per word position of the original (explained for the original target). */
async function attributionAfter(
  model: Model,
  request: ExplainRequest,
  original: Attribution,
  words: readonly Word[],
  edits: readonly Edit[],
): Promise<number[] | null> {
  const text = applyEdits(request.text, words, edits);
  const result = await explainText(model, {
    ...request,
    text,
    target: { ...request.target, target: original.target.name },
    truncate: true,
  });
  const after = wordsOf(text);
  // Substitutions keep the word count; a substitute that the word splitter cuts in two cannot be aligned.
  return after.length === words.length ? wordAttributions(result, after) : null;
}

/**
 * The control: `count` substitutions at random words, with random proposed substitutes, that keep the
 * prediction (the first of a seeded batch that does), and the share of top-k words it leaves in place.
 */
async function control(
  { judge, substitutes, kept }: Setup,
  count: number,
  seed: number,
  measure: (edits: Edit[]) => Promise<Attacked | null>,
  words: readonly Word[],
  text: string,
): Promise<number | null> {
  const rng = new Rng(seed);
  const editable = substitutes.flatMap((s, i) => (s.length ? [i] : []));
  if (editable.length < count) return null;
  const draws = Array.from({ length: 8 }, (): Edit[] => {
    const pool = [...editable];
    return Array.from({ length: count }, () => {
      const index = pool.splice(rng.int(pool.length), 1)[0];
      return { kind: 'substitute', index, to: substitutes[index][rng.int(substitutes[index].length)] };
    });
  });
  const verdicts = await judge.judge(draws.map((edits) => applyEdits(text, words, edits)));
  const chosen = draws.find((_, i) => kept(verdicts[i]));
  return chosen ? ((await measure(chosen))?.topK ?? null) : null;
}
