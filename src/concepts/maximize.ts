import { gradientSession, runGradients } from '../gradients/session.js';
import type { Model } from '../model/types.js';
import type { HookName } from '../runtime/activations.js';
import { runWithHooks, type Site } from '../runtime/hooks.js';
import { hiddenSite, resolveSite } from '../runtime/sites.js';
import type { RunContext } from '../runtime/context.js';
import { runtimeError, usageFault } from '../errors.js';
import { encodeText } from '../text/encode.js';
import { Rng } from '../util/rng.js';

export interface MaximizeRequest {
  /** The sequence to start from (with its special tokens) and the position whose activation is raised. */
  start: number[];
  position: number;
  /** Greedy coordinate gradient steps at most, and forward passes at most. */
  steps: number;
  budget: number;
  /** Tokens per position proposed by the gradient, and single-token swaps tried exactly per step. */
  candidates: number;
  swaps: number;
  seed: number;
  from?: Maximized['from'];
}

export interface Maximized {
  start: { text: string; activation: number };
  best: { text: string; tokens: string[]; ids: number[]; activation: number }[];
  /**
   * True when every sequence tried decodes to a text that tokenizes back to it, so each activation is the one
   * its printed text gives. False only where the start itself does not round-trip (then no swap is refused).
   */
  roundTrip: boolean;
  /** Where the search started: the best corpus context, a seed text (--text), or seeded random tokens (--length). */
  from: 'corpus' | 'text' | 'random';
  steps: number;
  forwardPasses: number;
  backwardPasses: number;
}

export interface Unit {
  hook: HookName;
  weights: Float64Array;
}

const decodeText = (model: Model, ids: number[]) => model.tokenizer.decode(ids, { skip_special_tokens: true });

/**
 * Whether the ids are what their decoded text tokenizes to (special and context tokens as the model's own
 * encoding adds them). A swap may give ids no text tokenizes to ("`" + "##tec"): its activation would not be
 * the printed text's.
 */
function tokenizesBack(model: Model, seq: number[]): boolean {
  const again = encodeText(model, decodeText(model, seq), { truncate: true }).ids;
  return again.length === seq.length && again.every((v, i) => v === seq[i]);
}

/**
 * `length` random tokens between the special tokens the model's encoding adds, drawn one at a time (seeded)
 * among the tokens that keep the sequence one that its text tokenizes to.
 */
export function randomStart(model: Model, length: number, seed: number): number[] {
  const template = encodeText(model, 'a');
  const first = template.special.indexOf(false);
  const last = template.special.lastIndexOf(false);
  const [before, after] = [template.ids.slice(0, first), template.ids.slice(last + 1)];
  const room = model.maxLength - before.length - after.length;
  if (length > room)
    throw usageFault(
      'length',
      `{param} ${length}: '${model.id}' takes at most ${room} tokens besides its special ones`,
    );
  const vocab = (model.config.vocab_size as number | undefined) ?? model.tokenizer.get_vocab().size;
  const special = new Set(model.tokenizer.all_special_ids as number[]);
  const rng = new Rng(seed);
  const ids: number[] = [];
  for (let tries = 0; ids.length < length; tries++) {
    if (tries > 100 * length)
      throw runtimeError(`cannot draw ${length} random tokens of '${model.id}' that its tokenizer gives back`);
    const id = rng.int(vocab);
    if (!special.has(id) && tokenizesBack(model, [...before, ...ids, id, ...after])) ids.push(id);
  }
  return [...before, ...ids, ...after];
}

/** The unit's activation at `position` of each sequence, read as the corpus pass reads it. */
async function activations(model: Model, unit: Unit, seqs: number[][], position: number, run: RunContext) {
  const site = siteOf(unit.hook);
  // The logits go unread: 'last' keeps [1, vocab] of them a candidate, not [T, vocab].
  const runs = await runWithHooks(model, seqs, { read: [site], logits: 'last' }, run);
  return runs.map(({ cache }) => {
    const { data, dims } = cache.get(site); // [position, width]
    let a = 0;
    for (let j = 0; j < dims[1]; j++) a += unit.weights[j] * data[position * dims[1] + j];
    return a;
  });
}

/** The hook site of a corpus hook: a hidden state or a feed-forward activation. */
function siteOf(hook: HookName): Site {
  const layer = Number(/\d+/.exec(hook)![0]);
  return hook.startsWith('mlp.') ? `layer.${layer}.mlp.act` : hiddenSite(layer);
}

/** The tensor behind a hook in the model's graph. */
async function tensorOf(model: Model, hook: HookName): Promise<string> {
  return (await resolveSite(model, siteOf(hook))).tensor;
}

/**
 * Activation maximisation in input space by greedy coordinate gradient (Zou et al. 2023, after HotFlip,
 * Ebrahimi et al. 2018): the exact gradient of the unit with respect to the input embeddings ranks, for every
 * position, the tokens whose swap would raise the unit most to first order; a seeded sample of those swaps is
 * then run exactly, and the best one is kept if it raises the activation. Special tokens stay in place.
 */
export async function maximizeUnit(model: Model, unit: Unit, r: MaximizeRequest, run: RunContext): Promise<Maximized> {
  const gs = await gradientSession(model, { kind: 'unit', tensor: await tensorOf(model, unit.hook) }, 'logit');
  const rows = gs.embeddings!;
  const [V, D] = [rows.vocab, rows.width];
  const matrix = rows.all(); // [V, D]
  const special = new Set(model.tokenizer.all_special_ids as number[]);
  const free = r.start.map((id, q) => q).filter((q) => !special.has(r.start[q]));
  const nonZero = Array.from(unit.weights.keys()).filter((j) => unit.weights[j] !== 0);
  const rng = new Rng(r.seed);
  const decode = (ids: number[]) => decodeText(model, ids);
  const roundTrips = (seq: number[]) => tokenizesBack(model, seq);
  const roundTrip = roundTrips(r.start);
  let ids = [...r.start];
  const [first] = await activations(model, unit, [ids], r.position, run);
  let current = first;
  const seen = new Map<string, number>([[ids.join(','), first]]);
  let steps = 0;
  while (steps < r.steps && run.forward + r.swaps + 1 <= r.budget) {
    steps++;
    const cut = new Float32Array(ids.length * D);
    ids.forEach((id, q) => cut.set(matrix.subarray(id * D, (id + 1) * D), q * D));
    const [g] = await runGradients(
      model,
      gs,
      [
        {
          ids,
          cut,
          positions: nonZero.map(() => r.position),
          index: nonZero,
          weight: nonZero.map((j) => unit.weights[j]),
        },
      ],
      run,
    );
    const gradient = g.gradients[0]; // [T, D]
    const proposals = free.map((q) => {
      const gain = new Float64Array(V);
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let k = 0; k < D; k++) s += matrix[v * D + k] * gradient[q * D + k];
        gain[v] = special.has(v) || v === ids[q] ? -Infinity : s;
      }
      return Array.from(gain.keys())
        .sort((a, b) => gain[b] - gain[a])
        .slice(0, r.candidates);
    });
    const tries: number[][] = [];
    for (let s = 0; s < r.swaps; s++) {
      const k = rng.int(free.length);
      const next = [...ids];
      next[free[k]] = proposals[k][rng.int(proposals[k].length)];
      if (!seen.has(next.join(',')) && (!roundTrip || roundTrips(next))) tries.push(next);
    }
    if (tries.length === 0) continue; // every swap drawn was seen or does not round-trip: draw again
    const scores = await activations(model, unit, tries, r.position, run);
    tries.forEach((t, i) => seen.set(t.join(','), scores[i]));
    const best = scores.reduce((b, v, i) => (v > scores[b] ? i : b), 0);
    if (scores[best] <= current) continue;
    [ids, current] = [tries[best], scores[best]];
  }
  const best = [...seen]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([key, activation]) => {
      const seq = key.split(',').map(Number);
      return { text: decode(seq), tokens: seq.map((id) => model.tokenizer.decode([id])), ids: seq, activation };
    });
  return {
    start: { text: decode(r.start), activation: first },
    best,
    roundTrip,
    from: r.from ?? 'corpus',
    steps,
    forwardPasses: run.forward,
    backwardPasses: run.backward,
  };
}
