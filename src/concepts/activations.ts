import fs from 'node:fs';
import { usageError, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import type { RunContext } from '../runtime/context.js';
import { runWithCache, type HookName } from '../runtime/activations.js';
import { replaceWith, runWithHooks, type LogitRows } from '../runtime/hooks.js';
import { hiddenSite } from '../runtime/sites.js';
import { encodeText, type Encoding } from '../text/encode.js';
import { streamUserLines } from '../util/files.js';

/**
 * Lines of a corpus (plain text, TSV's first column, or JSONL's "text"), streamed; `-` reads stdin. `param`
 * is the option that named the file, for its errors.
 */
export async function* corpusLines(file: string, param = 'data'): AsyncGenerator<string> {
  if (file !== '-' && !fs.existsSync(file)) throw usageFault(param, `no such {param} file: ${file}`);
  const lines = streamUserLines(file, param);
  const jsonl = /\.(jsonl|ndjson)$/i.test(file);
  const tsv = /\.tsv$/i.test(file);
  let first = true;
  for await (const raw of lines) {
    const line = raw.trim();
    if (!line) continue;
    if (jsonl) {
      try {
        const text = JSON.parse(line).text;
        if (typeof text === 'string' && text.trim()) yield text;
      } catch {
        throw usageError(`${file}: a line is not valid JSON`);
      }
    } else if (tsv) {
      const cells = line.split('\t');
      if (first && cells.length > 1 && /^(label|sentiment|class)$/i.test(cells[cells.length - 1])) {
        first = false;
        continue;
      }
      yield cells.length > 1 ? cells.slice(0, -1).join('\t') : cells[0];
    } else yield line;
    first = false;
  }
}

export interface TokenActivations {
  /** n × dim activations, row-major. */
  data: Float64Array;
  n: number;
  dim: number;
  tokens: { text: string; id: number; line: number; position: number }[];
  lines: Encoding[];
}

/**
 * Non-special token activations over a corpus (at most `maxTokens` tokens): the residual stream after
 * layer `layer` (0 = embeddings), or the feed-forward activation inside layer `layer`.
 */
export async function collectActivations(
  model: Model,
  lines: AsyncIterable<string>,
  layer: number,
  maxTokens: number,
  source: 'hidden' | 'mlp' = 'hidden',
): Promise<TokenActivations> {
  const inst = await model.instrumented();
  const names = source === 'hidden' ? inst.outputs.hiddenStates : inst.outputs.mlp;
  const name = names[layer];
  if (!name) {
    const what = source === 'hidden' ? 'hidden states' : 'feed-forward activations';
    throw usageFault(
      'layer',
      `{param} ${layer}: '${model.id}' has ${what} for layers 0–${names.length - 1}${source === 'mlp' && layer < names.length ? ', but none was found in this layer' : ''}`,
    );
  }
  const encodings: Encoding[] = [];
  let count = 0;
  for await (const line of lines) {
    const e = encodeText(model, line, { truncate: true });
    encodings.push(e);
    count += e.special.filter((s) => !s).length;
    if (count >= maxTokens) break;
  }
  if (encodings.length === 0) throw usageError('the corpus is empty');
  const hook: HookName = source === 'hidden' ? `hidden.${layer}` : `mlp.${layer}`;
  const caches = await runWithCache(
    model,
    encodings.map((e) => e.ids),
    [hook],
  );
  const rows = caches.map((cache, i) => {
    const { data, dims } = cache.get(hook); // [pos, width]
    const H = dims[1];
    const e = encodings[i];
    const out: Float64Array[] = [];
    for (let p = 0; p < e.ids.length; p++)
      if (!e.special[p]) out.push(Float64Array.from(data.subarray(p * H, (p + 1) * H)));
    return out;
  });
  const dim = rows.find((r) => r.length)?.[0].length ?? 0;
  const tokens: TokenActivations['tokens'] = [];
  const flat: Float64Array[] = [];
  rows.forEach((vectors, line) => {
    const e = encodings[line];
    let v = 0;
    for (let p = 0; p < e.ids.length; p++) {
      if (e.special[p]) continue;
      if (tokens.length < maxTokens) {
        tokens.push({ text: e.tokens[p], id: e.ids[p], line, position: p });
        flat.push(vectors[v]);
      }
      v++;
    }
  });
  const data = new Float64Array(flat.length * dim);
  flat.forEach((v, i) => data.set(v, i * dim));
  return { data, n: flat.length, dim, tokens, lines: encodings };
}

/** Run the model from hidden state `layer` with replaced hidden states [rows, T, H] for one token sequence; returns the logits [rows, …]. */
export async function runFromHidden(
  model: Model,
  layer: number,
  ids: readonly number[],
  hidden: Float32Array,
  rows: number,
  run?: RunContext,
  /** 'last': a language model's logits at the last position only, [rows, 1, vocab] (a metric read there). */
  logits: LogitRows = 'all',
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const T = ids.length;
  const H = hidden.length / (rows * T);
  const fed = replaceWith(({ start, end }) => ({
    data: hidden.slice(start * T * H, end * T * H),
    dims: [end - start, T, H], // [batch, position, d_model]
  }));
  const parts = await runWithHooks(
    model,
    Array.from({ length: rows }, () => ids),
    { write: { [hiddenSite(layer)]: fed }, logits },
    run,
  );
  const data = new Float32Array(parts.reduce((n, p) => n + p.logits.data.length, 0));
  parts.forEach((p, i) => data.set(p.logits.data, i * p.logits.data.length));
  return { data, dims: [rows, ...(parts[0]?.logits.dims ?? [])] };
}

/** All hidden states of one input: [layer] → [pos, dModel]. */
export async function hiddenStates(model: Model, ids: readonly number[]): Promise<Float32Array[]> {
  const inst = await model.instrumented();
  const hooks = inst.outputs.hiddenStates.map((_, l): HookName => `hidden.${l}`);
  const [cache] = await runWithCache(model, [ids], hooks);
  return hooks.map((h) => cache.get(h).data);
}
