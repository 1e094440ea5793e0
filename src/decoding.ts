import type { Model } from './model/types.js';
import type { RunContext } from './runtime/context.js';
import { logitRows } from './target/target.js';
import { argmax, logSumExp } from './util/maths.js';
import type { Rng } from './util/rng.js';

/** How the next token is drawn, as transformers' generate() applies them: temperature, then top-k, then top-p. */
export interface DecodingSetting {
  /** Logits are divided by it; 0 is greedy decoding (all mass on the most likely token). */
  temperature: number;
  /** Keep the k most likely tokens (0: all). */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1: all). */
  topP: number;
}

/**
 * The distribution a setting draws the next token from: softmax(logits / T), cut to the top-k tokens,
 * then to the top-p nucleus, and renormalised. Ties are broken by token id, so the set is deterministic.
 */
export function settingDistribution(logits: ArrayLike<number>, s: DecodingSetting): Float64Array {
  const V = logits.length;
  const p = new Float64Array(V);
  if (s.temperature === 0) {
    p[argmax(logits)] = 1;
    return p;
  }
  const all = Array.from({ length: V }, (_, i) => i);
  // Order matters only to a cut: the whole vocabulary at temperature T needs no sort.
  const cuts = (s.topK > 0 && s.topK < V) || s.topP < 1;
  const order = cuts ? all.sort((a, b) => logits[b] - logits[a] || a - b) : all;
  const kept = order.slice(0, s.topK > 0 ? Math.min(s.topK, V) : V);
  const scaled = kept.map((i) => logits[i] / s.temperature);
  const z = logSumExp(scaled);
  const probs = scaled.map((x) => Math.exp(x - z));
  let cut = probs.length;
  if (s.topP < 1) {
    let cumulative = 0;
    cut = probs.findIndex((q) => (cumulative += q) >= s.topP) + 1 || probs.length;
  }
  const mass = probs.slice(0, cut).reduce((a, b) => a + b, 0);
  for (let j = 0; j < cut; j++) p[kept[j]] = probs[j] / mass;
  return p;
}

/** One draw from a distribution by its cumulative sum (the last token with mass where rounding falls short). */
export function drawFrom(p: Float64Array, rng: Rng): number {
  const u = rng.next();
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    last = i;
    cumulative += p[i];
    if (u < cumulative) return i;
  }
  return last;
}

export interface SampledContinuation {
  ids: number[];
  /** Σ log p(token) under the model itself (temperature 1, no cut), over the generated tokens. */
  logProbability: number;
}

/**
 * `n` continuations of a prompt drawn under one setting, each step one batch of the rows still going (a
 * row ends at the end-of-sequence token, which it keeps, or at `maxTokens`). The draws come from `rng`
 * in row order, so the same seed gives the same continuations. Also returns the first step's distribution.
 */
export async function sampleContinuations(
  model: Model,
  prompt: readonly number[],
  setting: DecodingSetting,
  n: number,
  maxTokens: number,
  rng: Rng,
  run?: RunContext,
): Promise<{ samples: SampledContinuation[]; first: Float64Array }> {
  const samples: SampledContinuation[] = Array.from({ length: n }, () => ({ ids: [], logProbability: 0 }));
  let first: Float64Array = new Float64Array(0);
  let going = samples.map((_, i) => i);
  for (let step = 0; step < maxTokens && going.length && prompt.length + step < model.maxLength; step++) {
    const sequences = going.map((i) => [...prompt, ...samples[i].ids]);
    const rows = await logitRows(model, sequences, { run, prefix: prompt });
    going = going.filter((i, r) => {
      const p = settingDistribution(rows[r], setting);
      if (step === 0 && r === 0) first = p;
      const token = drawFrom(p, rng);
      samples[i].ids.push(token);
      samples[i].logProbability += rows[r][token] - logSumExp(rows[r]);
      return token !== model.tokenizer.eos_token_id;
    });
  }
  return { samples, first };
}
