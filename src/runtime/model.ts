import type { Session } from './tensor.js';
import type { ScoringGraph } from './session.js';
import type { InstrumentedOutputs, TransformerStructure } from '../onnx/instrument.js';
import type { ModelProto } from '../onnx/proto.js';

/**
 * What interp reads of a tokenizer: transformers.js's PreTrainedTokenizer (hub ids), or the same behaviour
 * built on @huggingface/tokenizers alone for local folders (model/tokenizer.ts). Token ids of special tokens
 * the tokenizer lacks are undefined at run time, as in transformers.js.
 */
export interface ModelTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
  decode(
    ids: number[],
    options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean | null },
  ): string;
  get_vocab(): Map<string, number>;
  all_special_ids: number[];
  all_special_tokens: string[];
  mask_token: string;
  mask_token_id: number;
  pad_token_id: number;
  sep_token_id: number;
  unk_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
  /** tokenizer_config.json's model_max_length, or Infinity. */
  readonly model_max_length: number;
  /** The parsed tokenizer.json (read by text/align.ts). */
  _tokenizerJSON: unknown;
  /** The @huggingface/tokenizers tokenizer underneath: its id → token lookup. */
  _tokenizer: { id_to_token(id: number): string | undefined };
}

export type Task = 'classification' | 'causal-lm' | 'masked-lm';

export type ModelSource = 'embedded' | 'local' | 'hub';

/** What the ONNX graph asks to be fed, read from the session itself. */
export interface ModelSignature {
  inputNames: string[];
  outputNames: string[];
  logits: string;
  tokenTypeIds: boolean;
  positionIds: boolean;
  /** Element type of each integer input (input_ids, attention_mask, …): int64 in most exports, int32 in some. */
  integerInputTypes: Record<string, 'int64' | 'int32'>;
  /** Empty KV-cache inputs to feed: name and the fixed [heads, headDim] of each. */
  pastInputs: { name: string; heads: number; headDim: number; type: 'float32' | 'float16' }[];
  /** The KV cache can continue a batch of multi-token rows after a shared prefix (not under GroupQueryAttention). */
  cacheContinues: boolean;
  /** The LM head is sliced (see sliceLmHead): `interp.score_positions` says which positions' logits to compute. */
  scorePositions: boolean;
}

export interface ModelConfig {
  architectures?: string[];
  model_type?: string;
  id2label?: Record<string, string>;
  max_position_embeddings?: number;
  n_positions?: number;
  num_key_value_heads?: number;
  num_attention_heads?: number;
  n_head?: number;
  n_heads?: number;
  hidden_size?: number;
  dim?: number;
  n_embd?: number;
  head_dim?: number;
  [key: string]: unknown;
}

export interface InstrumentedSession {
  session: Session;
  outputs: InstrumentedOutputs;
  structure: TransformerStructure;
  /** Per layer, the attention output projection as [heads·headDim, model] rows, when the graph has it as a plain weight. */
  outputProjections: ({ data: Float32Array; rows: number; cols: number } | null)[];
}

export interface Model {
  /** The spec as the user gave it. */
  id: string;
  source: ModelSource;
  dir: string;
  onnxPath: string;
  config: ModelConfig;
  task: Task;
  /** Class names in index order (classifiers only). */
  labels: string[] | null;
  tokenizer: ModelTokenizer;
  /** onnxruntime intra-op threads of every session opened for this model (default: defaultThreads()). */
  threads?: number;
  /** Memory for the activations one gradient batch keeps for its backward pass, in MB. */
  maxMemoryMb?: number;
  /** The longest input, in tokens (special tokens included), the model accepts. */
  maxLength: number;
  signature: ModelSignature;
  session: Session;
  /** The graph `session` runs: onnxruntime's optimised one, checked against the plain one (model/scoringGraph.ts). */
  scoringGraph?: ScoringGraph;
  /** The session with attentions, value vectors and hidden states exposed; built (and cached on disk) on first use. */
  instrumented(): Promise<InstrumentedSession>;
  /** Identifies the graph this model runs: the ONNX file, or a rewritten graph held in memory. */
  graphId: string;
  /** The rewritten graph, for a model made by `withGraph`. */
  graphOverride?: ModelProto;
  /**
   * Bytes of the model's graph and weights on disk: above $INTERP_DERIVED_KEEP_MB, the sessions derived from
   * its graph are kept for one operation only (runtime/derived.ts). Unknown: kept for the process.
   */
  weightBytes?: number;
}

export interface LoadOptions {
  dtype?: string;
  /** ORT intra-op threads; default: $INTERP_THREADS, else the physical cores (defaultThreads). */
  threads?: number;
  /**
   * Lanes the scoring session's batches are cut across, each a copy of it with its share of the threads
   * (runtime/lanes.ts); default: lanesFor (model/sessions.ts): $INTERP_LANES, else two where the threads are two
   * or more and the weights at most 256 MB; one where the graph quantizes activations per batch, whatever is asked.
   */
  lanes?: number;
  /** Memory for the activations one gradient batch keeps for its backward pass, in MB (default: see activationBudget). */
  maxMemoryMb?: number;
  /**
   * Where the model's folder is, when the spec is only the name to show: a server names models relative to
   * the folder it allows, so that neither its answers nor its errors reveal its own paths.
   */
  folder?: string;
}
