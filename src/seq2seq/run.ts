import { runtimeError } from '../errors.js';
import type { Seq2SeqModel } from '../model/seq2seq.js';
import {
  boolTensor,
  floatTensor,
  int64Tensor,
  runSession,
  type Feeds,
  type OrtTensor,
  type Session,
} from '../runtime/tensor.js';

/** The encoder's output for a batch of sources, and the mask the decoder's cross-attention reads. */
export interface Encoded {
  states: OrtTensor; // [batch, source, dModel]
  mask: OrtTensor; // [batch, source], int64
  batch: number;
  length: number;
}

/** Past keys and values by their input names (past_key_values.N.{decoder,encoder}.{key,value}). */
export type DecoderCache = Record<string, OrtTensor>;

/** One decoder run: logits at every fed position, and the cache that continues it. */
export interface DecoderStep {
  logits: Float32Array; // [batch, fed, vocab]
  dims: [number, number, number];
  cache: DecoderCache;
}

/** Rows of equal length as a [rows, length] int64 tensor. */
export function idsTensor(rows: readonly (readonly number[])[]): OrtTensor {
  const length = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== length)) throw new Error('rows of unequal length');
  return int64Tensor(
    BigInt64Array.from(rows.flat(), (x) => BigInt(x)),
    [rows.length, length],
  );
}

/**
 * Run the encoder once over a batch of sources. Rows of unequal length are padded on the right with the pad
 * token and masked out; `masks` (1 keep, 0 drop) masks tokens of equal-length rows the same way.
 */
export async function encode(
  model: Seq2SeqModel,
  sources: readonly (readonly number[])[],
  masks?: readonly (readonly number[])[],
): Promise<Encoded> {
  const length = Math.max(...sources.map((s) => s.length));
  const ids = sources.map((s) => [...s, ...new Array<number>(length - s.length).fill(model.pad)]);
  const mask = sources.map((s, r) => Array.from({ length }, (_, j) => (j < s.length ? (masks?.[r][j] ?? 1) : 0)));
  const maskTensor = idsTensor(mask);
  const out = await runSession(model.encoder, { input_ids: idsTensor(ids), attention_mask: maskTensor }, [
    'last_hidden_state',
  ]);
  return { states: out.last_hidden_state as OrtTensor, mask: maskTensor, batch: sources.length, length };
}

const emptyPast = (model: Seq2SeqModel, batch: number) =>
  floatTensor(new Float32Array(0), [batch, model.heads, 0, model.headDim]);

/** The decoder session a run uses, and the feeds only it reads. */
function decoderFeeds(model: Seq2SeqModel, enc: Encoded, ids: OrtTensor, cache: DecoderCache | null) {
  const d = model.decoder;
  const feeds: Feeds = { input_ids: ids, encoder_attention_mask: enc.mask, encoder_hidden_states: enc.states };
  let session: Session;
  if (d.form === 'merged') {
    session = d.session;
    feeds.use_cache_branch = boolTensor(cache !== null);
    for (const name of session.inputNames)
      if (name.startsWith('past_key_values.')) feeds[name] = cache?.[name] ?? emptyPast(model, enc.batch);
  } else if (cache) {
    if (!d.withPast) throw runtimeError(`'${model.id}' has no decoder_with_past_model.onnx: run it without a cache`);
    session = d.withPast;
    Object.assign(feeds, cache);
  } else session = d.first;
  const picked: Feeds = {};
  for (const name of session.inputNames) {
    if (!feeds[name]) throw runtimeError(`'${model.id}': the decoder asks for an input interp cannot feed: ${name}`);
    picked[name] = feeds[name];
  }
  return { session, feeds: picked };
}

/**
 * One decoder run over `prefixes` (rows of equal length): without a cache, the whole prefix; with one, the
 * tokens after it. The cross-attention keys and values stay those of the first run, as transformers.js keeps them.
 */
export async function runDecoder(
  model: Seq2SeqModel,
  enc: Encoded,
  prefixes: readonly (readonly number[])[],
  cache: DecoderCache | null = null,
): Promise<DecoderStep> {
  const { session, feeds } = decoderFeeds(model, enc, idsTensor(prefixes), cache);
  const out = await runSession(session, feeds, session.outputNames);
  const logits = out.logits as OrtTensor;
  // A with-past decoder returns no cross keys and values: the first run's carry on.
  const next: DecoderCache = { ...cache };
  for (const name of session.outputNames) {
    if (!name.startsWith('present.')) continue;
    const past = name.replace(/^present\./, 'past_key_values.');
    next[past] = cache && name.includes('.encoder.') ? cache[past] : (out[name] as OrtTensor);
  }
  const [b, t, v] = logits.dims;
  return { logits: logits.data as Float32Array, dims: [b, t, v], cache: next };
}

/** The index of the largest value in values[from, from + count) (the first on a tie). */
export function argmax(values: Float32Array, from: number, count: number): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (values[from + i] > values[from + best]) best = i;
  return best;
}

export interface GreedyOptions {
  maxNewTokens: number;
  /** Continue from the KV cache (one token a step) rather than rerun the whole prefix each step. */
  cache: boolean;
}

/**
 * Greedy generation for one source: the decoder start token, then the argmax at each step until an end token
 * or `maxNewTokens` new tokens (the form transformers.js's generate returns).
 */
export async function greedy(
  model: Seq2SeqModel,
  source: readonly number[],
  options: GreedyOptions,
): Promise<number[]> {
  const enc = await encode(model, [source]);
  const out = [model.decoderStart];
  let cache: DecoderCache | null = null;
  for (let step = 0; step < options.maxNewTokens; step++) {
    const fed = options.cache && cache ? [out[out.length - 1]] : out;
    const run = await runDecoder(model, enc, [fed], options.cache ? cache : null);
    cache = run.cache;
    const [, t, v] = run.dims;
    const next = argmax(run.logits, (t - 1) * v, v);
    out.push(next);
    if (model.eos.includes(next)) break;
  }
  return out;
}

/**
 * Encoder outputs of one source's variants (its tokens kept or replaced, at the same length), each run once:
 * a batch's rows are gathered from the variants already encoded, and only new ones run, together.
 */
export class SourceVariants {
  private readonly states = new Map<string, Float32Array>(); // key → [source, dModel]
  /** Variants the encoder ran, and rows the decoder was fed states for. */
  encoderRows = 0;
  decoderRows = 0;

  constructor(private readonly model: Seq2SeqModel) {}

  async encode(rows: readonly (readonly number[])[]): Promise<Encoded> {
    const keys = rows.map((r) => r.join(','));
    const fresh = [...new Set(keys.filter((k) => !this.states.has(k)))];
    if (fresh.length) {
      const run = await encode(
        this.model,
        fresh.map((k) => rows[keys.indexOf(k)]),
      );
      const size = run.states.dims[1] * run.states.dims[2];
      const data = run.states.data as Float32Array;
      fresh.forEach((k, i) => this.states.set(k, data.slice(i * size, (i + 1) * size)));
      this.encoderRows += fresh.length;
    }
    this.decoderRows += rows.length;
    const [length, width] = [rows[0].length, this.states.get(keys[0])!.length / rows[0].length];
    const states = new Float32Array(rows.length * length * width);
    keys.forEach((k, r) => states.set(this.states.get(k)!, r * length * width));
    const mask = int64Tensor(new BigInt64Array(rows.length * length).fill(1n), [rows.length, length]);
    return { states: floatTensor(states, [rows.length, length, width]), mask, batch: rows.length, length };
  }
}
