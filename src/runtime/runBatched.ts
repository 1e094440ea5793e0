import {
  disposeOutputs,
  floatTensor,
  int32Tensor,
  int64Tensor,
  runSession,
  type Feeds,
  type OrtTensor,
  type Outputs,
  type Session,
} from './tensor.js';
import { runtimeError } from '../errors.js';
import type { Model } from './model.js';
import { chargeRun, type RunContext } from './context.js';
import { halfToFloat } from '../onnx/tensor.js';
import { SCORE_POSITIONS } from '../onnx/sliceHead.js';

/** A view of one batch's outputs, handed to the reader of each row. */
export interface Batch {
  rows: number;
  /** Padded sequence length of this batch. */
  length: number;
  /** Real length of each row. */
  lengths: number[];
  output(name: string): { data: Float32Array; dims: readonly number[] };
}

export interface RunOptions {
  session?: Session;
  /** The call these runs belong to: it counts them and may observe the session. */
  run?: RunContext;
  /** Every row also runs backward (a gradient graph). */
  backward?: boolean;
  /** Output names to fetch; default: the model's logits. */
  outputs?: string[];
  /** Upper bound on padded tokens per batch. */
  batchTokens?: number;
  /** Upper bound on rows per batch. */
  batchRows?: number;
  /** More inputs for the batch of sequences [start, end), padded to `length` (float inputs of a rewritten graph). */
  extraFeeds?: (start: number, end: number, length: number) => Feeds;
  /**
   * The batches to run, in order, instead of batches grown from the token budget: each runs its rows
   * after `past` positions already held in the KV cache (which `extraFeeds` supplies).
   */
  batches?: readonly PlannedBatch[];
  /** Positions whose logits the graph computes per row (a sliced LM head): they, not the length, bound the logits. */
  scoredPositions?: number;
}

/** Rows [start, end) of one session run, fed after `past` cached positions. */
export interface PlannedBatch {
  start: number;
  end: number;
  past: number;
}

const DEFAULT_BATCH_TOKENS = 8192;
/** Keep vocab-sized outputs (LM logits) under about 256 MB per batch. */
const MAX_LOGIT_FLOATS = 64 * 1024 * 1024;

/** How many rows of `length` tokens fit in one batch. */
export function rowsPerBatch(model: Model, length: number, options: RunOptions): number {
  const tokens = options.batchTokens ?? DEFAULT_BATCH_TOKENS;
  let rows = Math.max(1, Math.floor(tokens / Math.max(1, length)));
  if (model.task !== 'classification') {
    const vocab = (model.config.vocab_size as number | undefined) ?? 50_000;
    const positions = options.scoredPositions ?? length;
    rows = Math.min(rows, Math.max(1, Math.floor(MAX_LOGIT_FLOATS / (vocab * positions))));
  }
  return Math.min(rows, options.batchRows ?? Infinity);
}

/** Fill [rows, length] integer inputs straight into typed arrays (no per-element intermediate arrays). */
function integerInput(
  type: 'int64' | 'int32',
  rows: number,
  length: number,
  value: (r: number, t: number) => number,
): OrtTensor {
  if (type === 'int32') {
    const data = new Int32Array(rows * length);
    for (let r = 0; r < rows; r++) for (let t = 0; t < length; t++) data[r * length + t] = value(r, t);
    return int32Tensor(data, [rows, length]);
  }
  const data = new BigInt64Array(rows * length);
  for (let r = 0; r < rows; r++) for (let t = 0; t < length; t++) data[r * length + t] = BigInt(value(r, t));
  return int64Tensor(data, [rows, length]);
}

/**
 * Build the feeds the graph asks for: right-padded ids, attention mask, position ids, token types and an
 * empty KV cache. With `past` cached positions, the sequences continue them: positions start at `past` and
 * the mask covers the cache too (the cache itself is the caller's to feed).
 */
export function buildFeeds(
  model: Model,
  sequences: readonly (readonly number[])[],
  past = 0,
): { feeds: Feeds; length: number; lengths: number[] } {
  const sig = model.signature;
  const rows = sequences.length;
  const lengths = sequences.map((s) => s.length);
  const length = Math.max(...lengths);
  // A row of length 0 would be read at position −1, that is from another row's logits: never run one.
  const empty = lengths.indexOf(0);
  if (empty >= 0) throw runtimeError(`cannot run an empty sequence (row ${empty} of a batch of ${rows})`);
  const pad = model.tokenizer.pad_token_id ?? 0;
  const types = sig.integerInputTypes;
  const feeds: Feeds = {
    input_ids: integerInput(types.input_ids, rows, length, (r, t) => (t < lengths[r] ? sequences[r][t] : pad)),
  };
  if (types.attention_mask)
    feeds.attention_mask = integerInput(types.attention_mask, rows, past + length, (r, t) =>
      t < past + lengths[r] ? 1 : 0,
    );
  if (sig.positionIds)
    feeds.position_ids = integerInput(
      types.position_ids,
      rows,
      length,
      (r, t) => past + (t < lengths[r] ? t : Math.max(0, lengths[r] - 1)),
    );
  if (sig.tokenTypeIds) feeds.token_type_ids = integerInput(types.token_type_ids, rows, length, () => 0);
  // A sliced LM head computes every position's logits unless the caller asks for fewer.
  if (sig.scorePositions) feeds[SCORE_POSITIONS] = positionsInput(lengths.map(() => range(length)));
  for (const past of sig.pastInputs) {
    const data = past.type === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    feeds[past.name] = floatTensor(data, [rows, past.heads, 0, past.headDim], past.type);
  }
  return { feeds, length, lengths };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** `interp.score_positions` for rows that each read the given positions (padded by repeating the last), [rows, K, 1]. */
export function positionsInput(positions: readonly (readonly number[])[]): OrtTensor {
  const K = Math.max(...positions.map((p) => p.length));
  const data = new BigInt64Array(positions.length * K);
  positions.forEach((row, r) => {
    for (let k = 0; k < K; k++) data[r * K + k] = BigInt(row[Math.min(k, row.length - 1)]);
  });
  return int64Tensor(data, [positions.length, K, 1]);
}

/**
 * The empty KV-cache feeds in the type another graph declares them (the float32 gradient shadow of a graph
 * whose cache is float16, as the GenAI builder's fp16 and q4f16 models hold it).
 */
export function emptyPastsAsDeclared(
  model: Model,
  feeds: Feeds,
  declared: (name: string) => string | undefined,
): Feeds {
  for (const past of model.signature.pastInputs) {
    const given = feeds[past.name];
    const type = declared(past.name);
    if (!given || given.dims[2] !== 0 || (type !== 'float32' && type !== 'float16') || type === past.type) continue;
    feeds[past.name] = floatTensor(type === 'float16' ? new Uint16Array(0) : new Float32Array(0), given.dims, type);
  }
  return feeds;
}

/** The input types a session declares, by name. */
function declaredTypes(session: { inputNames: readonly string[] }): (name: string) => string | undefined {
  const metadata = (session as { inputMetadata?: readonly { name: string; type?: string }[] }).inputMetadata ?? [];
  return (name) => metadata.find((m) => m.name === name)?.type;
}

function asFloat32(tensor: OrtTensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') return Float32Array.from(tensor.data as Uint16Array, halfToFloat);
  return Float32Array.from(tensor.data as ArrayLike<number>);
}

/**
 * Run many sequences through the model in batches bounded by a token budget, in order, and hand each
 * row of each batch to `read`. Every sequence counts as one forward pass.
 */
export async function runBatched<T>(
  model: Model,
  sequences: readonly (readonly number[])[],
  read: (batch: Batch, row: number, index: number) => T,
  options: RunOptions = {},
): Promise<T[]> {
  const given = options.session ?? model.session;
  const session = options.run ? options.run.session(given) : given;
  const fetches = options.outputs ?? [model.signature.logits];
  const results: T[] = new Array(sequences.length);
  for (const { start, end, past } of options.batches ?? greedyBatches(model, sequences, options)) {
    const chunk = sequences.slice(start, end);
    const { feeds: base, length, lengths } = buildFeeds(model, chunk, past);
    const all = options.extraFeeds ? { ...base, ...options.extraFeeds(start, end, length) } : base;
    // A rewritten graph may no longer read every standard input (a graph cut at the embeddings needs no ids).
    const feeds = options.session
      ? emptyPastsAsDeclared(
          model,
          Object.fromEntries(Object.entries(all).filter(([k]) => given.inputNames.includes(k))),
          declaredTypes(given),
        )
      : all;
    chargeRun(options.run, chunk.length, options.backward ? chunk.length : 0);
    let out: Outputs;
    try {
      out = await runSession(session, feeds, fetches);
    } catch (e) {
      throw runtimeError(`onnxruntime failed on '${model.id}': ${(e as Error).message.split('\n')[0]}`);
    }
    const cache = new Map<string, { data: Float32Array; dims: readonly number[] }>();
    const batch: Batch = {
      rows: chunk.length,
      length,
      lengths,
      output(name) {
        let entry = cache.get(name);
        if (!entry) {
          const tensor = out[name] as OrtTensor | undefined;
          if (!tensor) throw runtimeError(`the graph produced no output '${name}'`);
          entry = { data: asFloat32(tensor), dims: tensor.dims };
          checkFinite(entry.data, name, model.id);
          cache.set(name, entry);
        }
        return entry;
      },
    };
    for (let r = 0; r < chunk.length; r++) results[start + r] = read(batch, r, start + r);
    disposeOutputs(out);
  }
  return results;
}

/**
 * A non-finite number in what the graph computed (NaN or infinite weights, an overflow) would otherwise
 * surface as a ranked row of NaN: it is an error that names the output it came from.
 */
function checkFinite(data: Float32Array, name: string, modelId: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]))
      throw runtimeError(
        `'${modelId}': the graph's output '${name}' holds a non-finite number (${data[i]}); the model's weights are not finite, or its computation overflows`,
      );
  }
}

/** Batches in order, each grown while its padded size stays within the budget. */
function greedyBatches(model: Model, sequences: readonly (readonly number[])[], options: RunOptions): PlannedBatch[] {
  const batches: PlannedBatch[] = [];
  let start = 0;
  while (start < sequences.length) {
    let end = start + 1;
    let longest = sequences[start].length;
    while (end < sequences.length) {
      const next = Math.max(longest, sequences[end].length);
      if (end + 1 - start > rowsPerBatch(model, next, options)) break;
      longest = next;
      end++;
    }
    batches.push({ start, end, past: 0 });
    start = end;
  }
  return batches;
}
