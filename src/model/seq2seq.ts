import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { runtimeError, usageFault } from '../errors.js';
import { threadsFromEnv } from '../runtime/session.js';
import type { Session } from '../runtime/tensor.js';
import { DTYPE_SUFFIX, isEncoderDecoderSpec, readSeq2SeqFolder } from './resolve.js';
import { loadModel, unloadModel } from './load.js';
import { createSession } from './sessions.js';
import type { LoadOptions, Model, ModelConfig } from './types.js';

/** Which decoder files run: the merged one (use_cache_branch), or decoder_model + decoder_with_past_model. */
export type DecoderForm = 'merged' | 'split';

export type Seq2SeqDecoder =
  { form: 'merged'; session: Session } | { form: 'split'; first: Session; withPast: Session | null };

/** An encoder-decoder model loaded from the transformers.js layout. */
export interface Seq2SeqModel {
  kind: 'seq2seq';
  id: string;
  dir: string;
  config: ModelConfig;
  tokenizer: PreTrainedTokenizer;
  encoder: Session;
  decoder: Seq2SeqDecoder;
  /** The graph files the sessions opened: the encoder's, and the decoder's that runs without a cache (merged or no-past). */
  files: { encoder: string; decoder: string };
  /** Decoder layers, and each cache tensor's [heads, headDim], read from the decoder's past inputs. */
  layers: number;
  heads: number;
  headDim: number;
  decoderStart: number;
  /** Tokens that end generation. */
  eos: number[];
  pad: number;
  /** The longest source or target, in tokens. */
  maxLength: number;
}

export interface Seq2SeqLoadOptions extends LoadOptions {
  /** The decoder form to run where the folder has both (default: merged). */
  decoder?: DecoderForm;
}

const integer = (x: unknown): number | null => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : null);

interface InputMeta {
  name: string;
  shape?: (number | string)[];
}

/** Layers, heads and head size from the cache inputs' names and fixed dims ([batch, heads, length, headDim]). */
function cacheShape(session: Session, config: ModelConfig, spec: string) {
  const metadata = (session as unknown as { inputMetadata?: InputMeta[] }).inputMetadata ?? [];
  const past = metadata.filter((m) => /^past_key_values\.\d+\.decoder\.key$/.test(m.name));
  const shape = past[0]?.shape ?? [];
  const heads =
    typeof shape[1] === 'number'
      ? shape[1]
      : (integer(config.decoder_attention_heads) ?? integer(config.num_heads) ?? integer(config.num_attention_heads));
  const dModel = integer(config.d_model) ?? integer(config.hidden_size);
  const headDim =
    typeof shape[3] === 'number' ? shape[3] : (integer(config.d_kv) ?? (heads && dModel ? dModel / heads : null));
  if (!past.length || !heads || !headDim)
    throw runtimeError(
      `'${spec}': cannot tell the decoder's KV-cache inputs (past_key_values.N.decoder.key) and their shape`,
    );
  return { layers: past.length, heads, headDim };
}

/** Load an encoder-decoder folder: the encoder session and the decoder's, merged or split. */
export async function loadSeq2Seq(spec: string, given: Seq2SeqLoadOptions = {}): Promise<Seq2SeqModel> {
  const options = { ...given, threads: given.threads ?? threadsFromEnv() };
  const dtype = options.dtype ?? 'fp32';
  if (!(dtype in DTYPE_SUFFIX))
    throw usageFault('dtype', `unknown {param} '${dtype}'; choose one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  const files = await readSeq2SeqFolder(spec, dtype, options.folder);
  const form: DecoderForm = options.decoder ?? (files.merged ? 'merged' : 'split');
  if (form === 'merged' && !files.merged)
    throw usageFault('decoder', `'${spec}' has no merged decoder for {param} merged`);
  if (form === 'split' && !files.split)
    throw usageFault('decoder', `'${spec}' has no decoder_model.onnx for {param} split`);
  const open = (file: string) => createSession(file, options, spec);
  const encoder = await open(files.encoder);
  const decoder: Seq2SeqDecoder =
    form === 'merged'
      ? { form, session: await open(files.merged!) }
      : {
          form,
          first: await open(files.split!.first),
          withPast: files.split!.withPast ? await open(files.split!.withPast) : null,
        };
  const config = files.config;
  const shapeFrom = decoder.form === 'merged' ? decoder.session : (decoder.withPast ?? decoder.first);
  const eos = config.eos_token_id;
  const pad = integer(config.pad_token_id) ?? 0;
  return {
    kind: 'seq2seq',
    id: spec,
    dir: files.dir,
    config,
    tokenizer: files.tokenizer,
    encoder,
    decoder,
    files: { encoder: files.encoder, decoder: form === 'merged' ? files.merged! : files.split!.first },
    ...cacheShapeOrOutputs(shapeFrom, decoder, config, spec),
    decoderStart: integer(config.decoder_start_token_id) ?? pad,
    eos: Array.isArray(eos)
      ? eos.filter((e): e is number => integer(e) !== null)
      : integer(eos) !== null
        ? [eos as number]
        : [],
    pad,
    maxLength: integer(config.max_position_embeddings) ?? integer(config.n_positions) ?? 512,
  };
}

/** A split decoder without its with-past file has no cache inputs: its layers are counted from its present outputs. */
function cacheShapeOrOutputs(session: Session, decoder: Seq2SeqDecoder, config: ModelConfig, spec: string) {
  if (decoder.form === 'merged' || decoder.withPast) return cacheShape(session, config, spec);
  const layers = session.outputNames.filter((n) => /^present\.\d+\.decoder\.key$/.test(n)).length;
  return { layers, heads: 0, headDim: 0 };
}

/** A loaded model of either kind: encoder-only or decoder-only (`Model`), or encoder-decoder. */
export type AnyModel = Model | Seq2SeqModel;

export const isSeq2SeqModel = (model: AnyModel): model is Seq2SeqModel => 'kind' in model && model.kind === 'seq2seq';

/** The one place that tells the kinds apart when loading: an encoder-decoder folder loads as one, all else as `Model`. */
export function loadAnyModel(spec: string, options: Seq2SeqLoadOptions = {}): Promise<AnyModel> {
  return isEncoderDecoderSpec(spec, options.folder) ? loadSeq2Seq(spec, options) : loadModel(spec, options);
}

/** Release what `loadAnyModel` loaded (a server's LRU bound): a seq2seq model's sessions, or the cached `Model`. */
export async function unloadAnyModel(model: AnyModel, spec: string, options: LoadOptions = {}): Promise<void> {
  if (!isSeq2SeqModel(model)) return unloadModel(spec, options);
  const { decoder } = model;
  const sessions = decoder.form === 'merged' ? [decoder.session] : [decoder.first, decoder.withPast];
  for (const s of [model.encoder, ...sessions]) await s?.release();
}
