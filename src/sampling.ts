import { sampleContinuations, type DecodingSetting } from './decoding.js';
import { usageFault } from './errors.js';
import type { Model } from './model/types.js';
import { RunContext } from './runtime/context.js';
import { encodeText } from './text/encode.js';
import { Rng } from './util/rng.js';

export const SAMPLING_SCHEMA = 'interp/sampling@1';

export interface SamplingRequest {
  prompt: string;
  /** Continuations drawn per setting. */
  samples: number;
  settings: DecodingSetting[];
  maxTokens: number;
  seed: number;
  /** Most frequent continuations and answers listed per setting. */
  top: number;
}

export interface Counted {
  text: string;
  count: number;
  share: number;
}

export interface SettingReport {
  setting: DecodingSetting;
  /** Distinct n-grams over all n-grams of the setting's continuations, in tokens (Li et al. 2016). */
  distinct1: number;
  distinct2: number;
  /** Mean over continuations of the model's own log-probability per generated token (temperature 1, no cut). */
  meanLogProbability: number;
  meanTokens: number;
  /** Entropy in nats of the distribution the setting draws the first token from. */
  firstTokenEntropy: number;
  /** The most frequent whole continuations. */
  continuations: Counted[];
  /** The most frequent first words: the answers to a next-word question. */
  answers: Counted[];
  samples: { text: string; tokens: number; logProbability: number }[];
}

export interface SamplingReport {
  schema: typeof SAMPLING_SCHEMA;
  model: string;
  prompt: string;
  seed: number;
  samples: number;
  maxTokens: number;
  settings: SettingReport[];
  forwardPasses: number;
}

/** The same continuations for the same seed, and a setting's draws do not depend on which others run. */
const settingSeed = (seed: number, index: number) => (Math.imul(seed, 1_000_003) + index) >>> 0;

/** Draw continuations of a prompt under each decoding setting, and say how the settings differ. */
export async function sampleSettings(model: Model, request: SamplingRequest): Promise<SamplingReport> {
  if (model.task !== 'causal-lm')
    throw usageFault('model', `sampling needs a causal LM; '${model.id}' is a ${model.task}`);
  const prompt = encodeText(model, request.prompt).ids;
  const run = new RunContext();
  const settings: SettingReport[] = [];
  for (const [k, setting] of request.settings.entries()) {
    const rng = new Rng(settingSeed(request.seed, k));
    const { samples, first } = await sampleContinuations(
      model,
      prompt,
      setting,
      request.samples,
      request.maxTokens,
      rng,
      run,
    );
    const texts = samples.map((s) => model.tokenizer.decode(s.ids, { skip_special_tokens: true }));
    const tokens = samples.map((s) => s.ids);
    settings.push({
      setting,
      distinct1: distinctN(tokens, 1),
      distinct2: distinctN(tokens, 2),
      meanLogProbability: mean(samples.map((s) => s.logProbability / Math.max(s.ids.length, 1))),
      meanTokens: mean(tokens.map((t) => t.length)),
      firstTokenEntropy: entropy(first),
      continuations: mostFrequent(
        texts.map((t) => t.trim()),
        request.top,
      ),
      answers: mostFrequent(
        texts.map((t) => t.trim().split(/\s+/)[0] ?? ''),
        request.top,
      ),
      samples: samples.map((s, i) => ({ text: texts[i], tokens: s.ids.length, logProbability: s.logProbability })),
    });
  }
  return {
    schema: SAMPLING_SCHEMA,
    model: model.id,
    prompt: request.prompt,
    seed: request.seed,
    samples: request.samples,
    maxTokens: request.maxTokens,
    settings,
    forwardPasses: run.forward,
  };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

/** Distinct n-grams over all n-grams, pooled over the sequences (0 when none has n tokens). */
export function distinctN(sequences: readonly (readonly number[])[], n: number): number {
  const seen = new Set<string>();
  let total = 0;
  for (const s of sequences)
    for (let i = 0; i + n <= s.length; i++) {
      seen.add(s.slice(i, i + n).join(','));
      total++;
    }
  return total ? seen.size / total : 0;
}

function entropy(p: Float64Array): number {
  let h = 0;
  for (const q of p) if (q > 0) h -= q * Math.log(q);
  return h;
}

/** The `top` most frequent values with their counts and shares, ties in order of first appearance. */
function mostFrequent(values: readonly string[], top: number): Counted[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([text, count]) => ({ text, count, share: count / values.length }));
}
