import type { Summary } from './summary/claims.js';
import { usageFault } from './errors.js';
import { explainText, prepareEncoded, type ExplainRequest } from './explain.js';
import type { Model } from './model/types.js';
import { lastLogits, tokenName } from './target/target.js';
import { alignEncoding, encodeText, type Encoding } from './text/encode.js';
import { RunContext } from './runtime/context.js';
import { argmax } from './util/maths.js';

export const GENERATION_SCHEMA = 'interp/generation@1';

/** Attributions of each greedily generated token to the prompt and to the tokens generated before it. */
export interface GenerationAttribution {
  schema: typeof GENERATION_SCHEMA;
  model: string;
  method: string;
  params: Record<string, number | string>;
  seed: number | null;
  baseline: string;
  prompt: string;
  /** The prompt followed by the generated text. */
  text: string;
  /** Every non-special token of the prompt and of the generation but its last token, in order: the columns of `matrix`. */
  sources: { index: number; id: number; text: string; start: number; end: number; generated: boolean }[];
  /** The generated tokens: the rows of `matrix`. */
  generated: {
    step: number;
    id: number;
    text: string;
    logProbability: number;
    baselineLogProbability: number;
    forwardPasses: number;
  }[];
  /** matrix[step][source]: attribution of source to generated token `step`; null where the source comes later. */
  matrix: (number | null)[][];
  forwardPasses: number;
  /** With --summary: the result in words, each claim checked. */
  summary?: Summary;
}

/** Greedy decoding, stopping early at the end-of-sequence token. */
export async function generateGreedy(
  model: Model,
  ids: readonly number[],
  steps: number,
  run?: RunContext,
): Promise<number[]> {
  const out: number[] = [];
  const seq = [...ids];
  for (let s = 0; s < steps && seq.length < model.maxLength; s++) {
    const next = argmax(await lastLogits(model, seq, { run }));
    out.push(next);
    seq.push(next);
    if (next === model.tokenizer.eos_token_id) break;
  }
  return out;
}

/** The prompt plus generated text, aligned to all token ids (prompt and generated). */
export function alignGeneration(model: Model, prompt: Encoding, generated: number[]): Encoding {
  const decode = (ids: number[]) => model.tokenizer.decode(ids, { skip_special_tokens: true });
  const full = decode([...prompt.ids, ...generated]);
  const head = decode(prompt.ids);
  const tail = full.startsWith(head) ? full.slice(head.length) : ` ${decode(generated)}`;
  return alignEncoding(model, prompt.text + tail, [...prompt.ids, ...generated]);
}

/** The first `length` tokens of an encoding (its text kept whole, for offsets). */
export function prefixOf(e: Encoding, length: number): Encoding {
  return {
    text: e.text,
    ids: e.ids.slice(0, length),
    tokens: e.tokens.slice(0, length),
    offsets: e.offsets.slice(0, length),
    special: e.special.slice(0, length),
    wordIds: e.wordIds.slice(0, length),
  };
}

export async function explainGeneration(
  model: Model,
  request: ExplainRequest,
  steps: number,
): Promise<GenerationAttribution> {
  if (model.task !== 'causal-lm') throw usageFault('generate', '{param} applies to causal language models');
  if ((request.granularity ?? 'token') !== 'token')
    throw usageFault('generate', '{param} attributes tokens; drop {param:granularity} word');
  if (request.target?.target !== undefined || request.target?.continuation !== undefined)
    throw usageFault(
      'generate',
      '{param} picks its own targets (the generated tokens); drop {param:target} and {param:continuation}',
    );
  // At least one prompt token and the start or context token must fit beside the generated ones.
  const room = model.maxLength - 2;
  if (steps > room)
    throw usageFault('generate', `{param} ${steps} leaves no room for the prompt: '${model.id}' takes at most ${room}`);
  const run = new RunContext();
  const prompt = encodeText(model, request.text, { truncate: request.truncate, reserve: steps });
  const generated = await generateGreedy(model, prompt.ids, steps, run);
  const all = alignGeneration(model, prompt, generated);
  // The last generated token is never a source.
  const sourcePositions = all.ids.map((_, i) => i).filter((i) => !all.special[i] && i < all.ids.length - 1);
  const column = new Map(sourcePositions.map((p, c) => [p, c]));
  const rows: GenerationAttribution['generated'] = [];
  const matrix: (number | null)[][] = [];
  let params: Record<string, number | string> = {};
  let seed: number | null = null;
  let baseline = '';
  for (let k = 0; k < generated.length; k++) {
    const source = prefixOf(all, prompt.ids.length + k);
    const target = {
      kind: 'next-token' as const,
      tokenId: generated[k],
      name: tokenName(model, generated[k]),
    };
    const prepared = await prepareEncoded(model, source, target, request, { run });
    const result = await explainText(model, { ...request, text: all.text }, { prepared, run });
    params = result.params;
    seed = result.seed;
    baseline = result.baseline;
    const row: (number | null)[] = new Array(sourcePositions.length).fill(null);
    for (const f of result.features) row[column.get(f.tokens[0])!] = f.attribution;
    matrix.push(row);
    rows.push({
      step: k,
      id: generated[k],
      text: target.name,
      logProbability: result.fullScore,
      baselineLogProbability: result.baselineScore,
      forwardPasses: result.forwardPasses,
    });
  }
  return {
    schema: GENERATION_SCHEMA,
    model: model.id,
    method: request.method,
    params,
    seed,
    baseline,
    prompt: request.text,
    text: all.text,
    sources: sourcePositions.map((p) => ({
      index: p,
      id: all.ids[p],
      text: all.tokens[p],
      start: all.offsets[p][0],
      end: all.offsets[p][1],
      generated: p >= prompt.ids.length,
    })),
    generated: rows,
    matrix,
    forwardPasses: run.forward,
  };
}
