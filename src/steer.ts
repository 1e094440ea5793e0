import { readDirection } from './concepts/top.js';
import { readUserText, textLines } from './util/files.js';
import { usageFault } from './errors.js';
import type { Model } from './model/types.js';
import { RunContext } from './runtime/context.js';
import { kindOf } from './runtime/sites.js';
import { runWithHooks, type HookContext, type Site, type Tensor } from './runtime/hooks.js';
import { encodeText } from './text/encode.js';
import { argmax } from './util/maths.js';

export const STEER_SCHEMA = 'interp/steer@1';

/** Where the direction comes from: a file (concepts' JSON or an array), or the mean difference of two prompt sets. */
export type DirectionSource = { file: string; index?: number } | { from: string; to: string };

export interface SteerRequest {
  prompt: string;
  site: Site;
  direction: DirectionSource;
  /** Multiples of the direction added, side by side (0: the unsteered model). */
  scales: number[];
  generate: number;
}

export interface SteerReport {
  schema: typeof STEER_SCHEMA;
  model: string;
  prompt: string;
  site: Site;
  direction: { source: string; norm: number; width: number };
  generations: { scale: number; text: string; tokens: number; changed: boolean }[];
  forwardPasses: number;
}

/**
 * Activation addition (Turner et al. 2023): add `scale × direction` to a residual or feed-forward site at
 * every position while generating greedily, one generation per scale, all scales one batch per step.
 */
export async function steer(model: Model, request: SteerRequest): Promise<SteerReport> {
  if (model.task !== 'causal-lm') throw usageFault('model', `steering generates: '${model.id}' is a ${model.task}`);
  const kind = kindOf(request.site);
  if (kind !== 'resid' && kind !== 'embed' && kind !== 'mlp')
    throw usageFault('site', `{param} must be embed, layer.L.resid.pre|post or layer.L.mlp.act, got '${request.site}'`);
  const run = new RunContext();
  const { vector, source } = await directionOf(model, request, run);
  const prompt = encodeText(model, request.prompt).ids;
  const add = (value: Tensor, ctx: HookContext) => {
    const [, L, d] = value.dims;
    if (d !== vector.length)
      throw usageFault('direction', `{param} has ${vector.length} values; ${request.site} is ${d} wide`);
    for (let r = ctx.start; r < ctx.end; r++)
      for (let t = 0; t < L; t++)
        for (let j = 0; j < d; j++) value.data[((r - ctx.start) * L + t) * d + j] += request.scales[r] * vector[j];
    return value;
  };
  const generated = request.scales.map(() => [] as number[]);
  const going = new Set(request.scales.map((_, i) => i));
  for (let step = 0; step < request.generate && going.size && prompt.length + step < model.maxLength; step++) {
    const sequences = generated.map((g) => [...prompt, ...g]);
    // Only the last position's logits pick the next token: [1, vocab] a row, not [T, vocab].
    const out = await runWithHooks(model, sequences, { write: { [request.site]: add }, logits: 'last' }, run);
    out.forEach((o, i) => {
      if (!going.has(i)) return;
      const next = argmax(o.logits.data);
      generated[i].push(next);
      if (next === model.tokenizer.eos_token_id) going.delete(i);
    });
  }
  const texts = generated.map((g) => model.tokenizer.decode(g, { skip_special_tokens: true }));
  const unsteered = request.scales.indexOf(0);
  return {
    schema: STEER_SCHEMA,
    model: model.id,
    prompt: request.prompt,
    site: request.site,
    direction: { source, norm: Math.hypot(...vector), width: vector.length },
    generations: request.scales.map((scale, i) => ({
      scale,
      text: texts[i],
      tokens: generated[i].length,
      changed: unsteered >= 0 && texts[i] !== texts[unsteered],
    })),
    forwardPasses: run.forward,
  };
}

/** The direction: from a file, or the mean over positions and prompts of the site's value on `to` less on `from`. */
async function directionOf(model: Model, request: SteerRequest, run: RunContext) {
  const d = request.direction;
  if ('file' in d) return { vector: readDirection(d.file, d.index), source: d.file };
  const mean = async (file: string, param: string) => {
    const lines = textLines(readUserText(file, param), file).filter((l) => l.trim());
    if (lines.length === 0) throw usageFault(param, `{param} ${file} holds no prompts`);
    const out = await runWithHooks(
      model,
      lines.map((l) => encodeText(model, l).ids),
      { read: [request.site], logits: 'last' }, // the logits go unread: keep the least of them
      run,
    );
    const width = out[0].cache.get(request.site).dims[1];
    const sum = new Float64Array(width);
    let count = 0;
    for (const o of out) {
      const { data, dims } = o.cache.get(request.site);
      for (let t = 0; t < dims[0]; t++, count++) for (let j = 0; j < width; j++) sum[j] += data[t * width + j];
    }
    return Array.from(sum, (s) => s / count);
  };
  const [a, b] = [await mean(d.from, 'from'), await mean(d.to, 'to')];
  return { vector: b.map((x, j) => x - a[j]), source: `mean(${d.to}) − mean(${d.from})` };
}
