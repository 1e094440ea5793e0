import { usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { logitRows, tokenName } from '../target/target.js';
import { encodeText } from '../text/encode.js';
import { argmax, logSumExp } from '../util/maths.js';
import { applyEdits, type Edit, type Word } from './text.js';

/** What must change: the label or next token (to any other, or to `to`), or the next token's log-probability by `delta`. */
export interface Goal {
  to?: string;
  delta?: number;
}

export interface Prediction {
  name: string;
  index: number;
  /** Probability of the predicted label, or log-probability of the predicted token. */
  score: number;
}

export interface Verdict {
  prediction: Prediction;
  /** Distance to the goal: negative once it is reached (a log-probability margin). */
  objective: number;
  /** Log-probability of the original prediction on this text (what `delta` asks to lower). */
  originalLogProb: number;
}

/** Judges texts against the goal, relative to the prediction on the original text; counts every text it runs. */
export class Judge {
  passes = 0;
  private constructor(
    private readonly model: Model,
    private readonly goal: Goal,
    readonly original: Prediction,
    private readonly originalLogProb: number,
    private readonly toIndex: number | null,
  ) {}

  static async create(model: Model, text: string, goal: Goal): Promise<Judge> {
    if (model.task !== 'classification' && model.task !== 'causal-lm')
      throw usageFault('model', `counterfactuals need a classifier or a causal LM; '${model.id}' is a ${model.task}`);
    if (goal.delta !== undefined && model.task !== 'causal-lm')
      throw usageFault('delta', '{param} applies to causal language models');
    if (goal.delta !== undefined && goal.to !== undefined)
      throw usageFault('delta', 'give {param} or {param:to}, not both');
    const toIndex = goal.to === undefined ? null : resolveTo(model, goal.to);
    const [logits] = await logitRows(model, [encodeText(model, text).ids]);
    const index = argmax(logits);
    const judge = new Judge(model, goal, predictionOf(model, logits, index), logProb(logits, index), toIndex);
    judge.passes = 1;
    if (toIndex === index) throw usageFault('to', `{param} '${goal.to}' is already the prediction`);
    return judge;
  }

  async judge(texts: readonly string[]): Promise<Verdict[]> {
    if (texts.length === 0) return [];
    this.passes += texts.length;
    const rows = await logitRows(
      this.model,
      texts.map((t) => encodeText(this.model, t, { truncate: true }).ids),
    );
    return rows.map((logits) => {
      const index = argmax(logits);
      return {
        prediction: predictionOf(this.model, logits, index),
        objective: this.objective(logits),
        originalLogProb: logProb(logits, this.original.index),
      };
    });
  }

  private objective(logits: Float32Array): number {
    const o = this.original.index;
    if (this.goal.delta !== undefined) return logProb(logits, o) - (this.originalLogProb - this.goal.delta);
    const best = (skip: number) => logits.reduce((m, x, j) => (j !== skip && x > m ? x : m), -Infinity);
    // Logit margins: positive while the original (or another label than `to`) still wins.
    return this.toIndex === null ? logits[o] - best(o) : best(this.toIndex) - logits[this.toIndex];
  }
}

const logProb = (logits: Float32Array, i: number) => logits[i] - logSumExp(logits);

function predictionOf(model: Model, logits: Float32Array, index: number): Prediction {
  if (model.task === 'classification')
    return { name: model.labels?.[index] ?? String(index), index, score: Math.exp(logProb(logits, index)) };
  return { name: tokenName(model, index), index, score: logProb(logits, index) };
}

function resolveTo(model: Model, to: string): number {
  if (model.task === 'classification') {
    const labels = model.labels ?? [];
    const i = labels.findIndex((l) => l.toLowerCase() === to.toLowerCase());
    if (i >= 0) return i;
    if (/^\d+$/.test(to) && Number(to) < labels.length) return Number(to);
    throw usageFault('to', `{param} '${to}' is not a label of '${model.id}' (${labels.join(', ')})`);
  }
  const ids = model.tokenizer.encode(to, { add_special_tokens: false });
  if (ids.length !== 1) throw usageFault('to', `{param} '${to}' is ${ids.length} tokens; it must be one token`);
  return ids[0];
}

export interface Found {
  edits: Edit[];
  text: string;
  verdict: Verdict;
}

export interface SearchResult {
  found: Found[];
  /** Edit distance at which the counterfactuals were found, or the last distance searched. */
  distance: number;
  /** True when every edit set up to `distance` was tried (so a counterfactual found is minimal). */
  exhaustive: boolean;
}

const keyOf = (e: Edit) => (e.kind === 'insert' ? `+${e.index}` : `${e.index}`);

/**
 * Breadth-first over the number of edits: every set of d edits is tried before any of d + 1, so the first
 * counterfactuals found are minimal among the moves given. Moves come in order of promise (the most
 * important words first); where the sets of the next distance do not fit the remaining budget, only the
 * `beam` closest to the goal are extended, and the result says it is no longer exhaustive.
 */
export async function searchEdits(
  text: string,
  words: readonly Word[],
  moves: readonly Edit[],
  judge: Judge,
  limits: { budget: number; beam: number; maxEdits: number },
): Promise<SearchResult> {
  type Node = { moves: number[]; objective: number };
  let frontier: Node[] = [{ moves: [], objective: Infinity }];
  let exhaustive = true;
  for (let d = 1; d <= limits.maxEdits; d++) {
    const next: number[][] = [];
    for (const node of frontier) {
      const used = new Set(node.moves.map((m) => keyOf(moves[m])));
      const last = node.moves.length ? node.moves[node.moves.length - 1] : -1;
      for (let m = last + 1; m < moves.length; m++) if (!used.has(keyOf(moves[m]))) next.push([...node.moves, m]);
    }
    const room = limits.budget - judge.passes;
    if (next.length === 0 || room <= 0) return { found: [], distance: d - 1, exhaustive };
    if (next.length > room) exhaustive = false;
    // An edit set that leaves no text at all is no counterfactual: it is not run.
    const candidates = next
      .map((set) => ({
        set,
        text: applyEdits(
          text,
          words,
          set.map((m) => moves[m]),
        ),
      }))
      .filter((c) => c.text.trim())
      .slice(0, room);
    const tried = candidates.map((c) => c.set);
    const texts = candidates.map((c) => c.text);
    const verdicts = await judge.judge(texts);
    const found = tried
      .map((set, i) => ({ edits: set.map((m) => moves[m]), text: texts[i], verdict: verdicts[i] }))
      .filter((f) => f.verdict.objective < 0 && f.text !== text);
    if (found.length) return { found, distance: d, exhaustive };
    const scored = tried.map((set, i) => ({ moves: set, objective: verdicts[i].objective }));
    const extensions = scored.reduce((n, s) => n + (moves.length - 1 - s.moves[s.moves.length - 1]), 0);
    if (extensions > limits.budget - judge.passes) {
      exhaustive = false;
      frontier = scored.sort((a, b) => a.objective - b.objective).slice(0, limits.beam);
    } else frontier = scored;
  }
  return { found: [], distance: limits.maxEdits, exhaustive };
}
