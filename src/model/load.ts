import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Session } from '../runtime/tensor.js';
import {
  AutoConfig,
  AutoModel,
  AutoTokenizer,
  ModelRegistry,
  env,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import { runtimeError, usageError, usageFault } from '../errors.js';
import { canonicalize, CanonicalizeError, type CanonicalGraph } from '../onnx/canonicalize.js';
import { decodeModel, encodeModel, type ModelProto } from '../onnx/proto.js';
import { instrument, StructureError, type TransformerStructure } from '../onnx/instrument.js';
import {
  externalDataFolder,
  findInitializer,
  isExternal,
  readFloatTensor,
  registerExternalData,
  transposeMatrix,
} from '../onnx/tensor.js';
import { openGraphFile, openSession, threadsFromEnv } from '../runtime/session.js';
import {
  cacheFile,
  readCacheEntry,
  readGraphFile,
  removeGraphFile,
  writeCacheEntry,
  writeGraphFile,
} from '../runtime/diskCache.js';
import { closureHash } from '../util/closure.js';
import { packageRoot, sampledFileKey } from '../util/paths.js';
import { SCORE_POSITIONS, sliceLmHead } from '../onnx/sliceHead.js';
import { forgetDerived } from '../runtime/derived.js';
import { architectureOf, checkConfigObject, checkLogitsShape, labelsOf, type OutputShape } from './validate.js';
import type { InstrumentedSession, Model, ModelConfig, ModelSignature, ModelSource, Task } from './types.js';

/** Embedded models shipped in the package, by name. The first of each task is that task's default. */
export const EMBEDDED_MODELS: Record<string, { dir: string; task: Task }> = {
  'sst2-tiny': { dir: 'models/sst2-tiny', task: 'classification' },
  'tiny-lm': { dir: 'models/tiny-lm', task: 'causal-lm' },
};
export const DEFAULT_MODEL = 'sst2-tiny';

/** transformers.js file suffix for each `--dtype`. */
export const DTYPE_SUFFIX: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  int8: '_int8',
  uint8: '_uint8',
  q8: '_quantized',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

export interface LoadOptions {
  dtype?: string;
  /** ORT intra-op threads; default: $INTERP_THREADS or ORT's own choice. */
  threads?: number;
  /** Memory for the activations one gradient batch keeps for its backward pass, in MB (default: see activationBudget). */
  maxMemoryMb?: number;
  /**
   * Where the model's folder is, when the spec is only the name to show: a server names models relative to
   * the folder it allows, so that neither its answers nor its errors reveal its own paths.
   */
  folder?: string;
}

const sessionCache = new Map<string, Promise<Model>>();

const cacheKey = (spec: string, options: LoadOptions) =>
  `${spec}\u0000${options.dtype ?? 'fp32'}\u0000${options.threads ?? ''}\u0000${options.maxMemoryMb ?? ''}\u0000${options.folder ?? ''}`;

/** Load a model from an embedded name, a local HF-layout folder, or a hub id. Cached per process. */
export function loadModel(spec: string = DEFAULT_MODEL, options: LoadOptions = {}): Promise<Model> {
  const key = cacheKey(spec, options);
  let pending = sessionCache.get(key);
  if (!pending) {
    pending = loadUncached(spec, options);
    pending.catch(() => sessionCache.delete(key));
    sessionCache.set(key, pending);
  }
  return pending;
}

/** Drop a loaded model and what was built from its graph, and release its session (a server's LRU bound). */
export async function unloadModel(spec: string, options: LoadOptions = {}): Promise<void> {
  const key = cacheKey(spec, options);
  const pending = sessionCache.get(key);
  sessionCache.delete(key);
  const model = await pending?.catch(() => undefined);
  if (!model) return;
  graphs.delete(model.graphId);
  forgetDerived(model);
  await model.session.release();
}

async function loadUncached(spec: string, given: LoadOptions): Promise<Model> {
  const options = { ...given, threads: given.threads ?? threadsFromEnv() };
  const dtype = options.dtype ?? 'fp32';
  if (!(dtype in DTYPE_SUFFIX))
    throw usageFault('dtype', `unknown {param} '${dtype}'; choose one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  const { source, dir, onnxPath, config, tokenizer } = await resolveFiles(spec, dtype, options.folder);
  const task = detectTask(config, spec);
  const labels = task === 'classification' ? labelsOf(config, spec) : null;
  const { session, sliced } =
    task === 'causal-lm'
      ? await openScoringSession(onnxPath, options, spec)
      : { session: await createSession(onnxPath, options, spec), sliced: false };
  const signature = readSignature(session, config, spec, sliced);
  const outputs = (session as unknown as { outputMetadata?: OutputShape[] }).outputMetadata;
  checkLogitsShape(
    task,
    labels,
    outputs?.find((o) => o.name === signature.logits),
    architectureOf(config, spec),
    spec,
  );
  const maxLength = maxLengthOf(config, tokenizer);
  let instrumentedPromise: Promise<InstrumentedSession> | undefined;
  const model: Model = {
    id: spec,
    source,
    dir,
    onnxPath,
    config,
    task,
    labels,
    tokenizer,
    maxLength,
    signature,
    session,
    threads: options.threads,
    maxMemoryMb: options.maxMemoryMb,
    graphId: onnxPath,
    instrumented: () => (instrumentedPromise ??= createInstrumentedSession(model, options)),
  };
  return model;
}

function looksLikePath(spec: string): boolean {
  return (
    spec.startsWith('.') ||
    spec.startsWith('/') ||
    spec.startsWith('~') ||
    /^[A-Za-z]:[\\/]/.test(spec) ||
    fs.existsSync(spec)
  );
}

async function resolveFiles(spec: string, dtype: string, folder?: string) {
  if (folder) return { source: 'local' as ModelSource, ...(await readLocalFolder(folder, dtype, spec)) };
  const embedded = EMBEDDED_MODELS[spec];
  if (embedded) {
    const dir = path.join(packageRoot, embedded.dir);
    if (!fs.existsSync(path.join(dir, 'config.json')))
      throw runtimeError(`the embedded model '${spec}' is missing from this installation (${dir})`);
    return { source: 'embedded' as ModelSource, ...(await readLocalFolder(dir, dtype, spec)) };
  }
  if (looksLikePath(spec)) {
    const dir = path.resolve(spec.replace(/^~(?=$|\/)/, process.env.HOME ?? '~'));
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
      throw usageError(`unknown model '${spec}': no such folder`);
    return { source: 'local' as ModelSource, ...(await readLocalFolder(dir, dtype, spec)) };
  }
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(spec)) {
    throw usageError(
      `unknown model '${spec}': give an embedded name (${Object.keys(EMBEDDED_MODELS).join(', ')}), a local folder, or a hub id like owner/name`,
    );
  }
  return { source: 'hub' as ModelSource, ...(await fetchFromHub(spec, dtype)) };
}

async function readLocalFolder(dir: string, dtype: string, spec: string) {
  const configPath = path.join(dir, 'config.json');
  if (!fs.existsSync(configPath)) throw usageError(`'${spec}' is not a model folder: it has no config.json`);
  let config: unknown;
  try {
    config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw runtimeError(`'${spec}': config.json is not valid JSON: ${(e as Error).message}`);
  }
  checkConfigObject(config, spec);
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
    if (!fs.existsSync(path.join(dir, file)))
      throw usageError(
        `'${spec}' has no ${file}; a model folder needs config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx`,
      );
  }
  const onnxPath = path.join(dir, 'onnx', `model${DTYPE_SUFFIX[dtype]}.onnx`);
  checkReadableFile(onnxPath, spec);
  if (!fs.existsSync(onnxPath)) {
    const available = fs.existsSync(path.join(dir, 'onnx'))
      ? fs.readdirSync(path.join(dir, 'onnx')).filter((f) => f.endsWith('.onnx'))
      : [];
    throw usageFault(
      'dtype',
      `'${spec}' has no onnx/model${DTYPE_SUFFIX[dtype]}.onnx for {param} ${dtype}${available.length ? ` (found: ${available.join(', ')})` : ''}`,
    );
  }
  let tokenizer: PreTrainedTokenizer;
  try {
    env.allowLocalModels = true;
    tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  } catch (e) {
    throw runtimeError(`cannot read the tokenizer of '${spec}': ${firstLine(e)}`);
  }
  return { dir, onnxPath, config, tokenizer };
}

/**
 * The ONNX file, where something stands at its path: a link must lead to a file, and the file must open, so
 * that a dangling link or a folder is named as such rather than as a corrupt graph. Nothing there is left to
 * the caller's "no such file" message.
 */
function checkReadableFile(file: string, spec: string): void {
  const shown = `'${spec}': onnx/${path.basename(file)}`;
  let link: fs.Stats;
  try {
    link = fs.lstatSync(file);
  } catch {
    return;
  }
  if (link.isSymbolicLink() && !fs.existsSync(file))
    throw runtimeError(`${shown} is a symbolic link to '${fs.readlinkSync(file)}', which does not exist`);
  if (!fs.statSync(file).isFile()) throw runtimeError(`${shown} is not a file`);
  try {
    fs.closeSync(fs.openSync(file, 'r'));
  } catch (e) {
    throw runtimeError(`${shown} cannot be read: ${(e as NodeJS.ErrnoException).code ?? firstLine(e)}`);
  }
}

/** The normal transformers.js way: it downloads into its cache, and we read the ONNX file from there. */
async function fetchFromHub(id: string, dtype: string) {
  const hint = `; without network access, pass a local folder in HF layout instead (--model ./path/to/model)`;
  try {
    const config = (await AutoConfig.from_pretrained(id)) as unknown as ModelConfig;
    const tokenizer = await AutoTokenizer.from_pretrained(id);
    const transformersDtype = dtype as 'fp32';
    const loaded = await AutoModel.from_pretrained(id, { dtype: transformersDtype });
    await (loaded as unknown as { dispose?: () => Promise<void> }).dispose?.();
    const files = await ModelRegistry.get_model_files(id, { dtype: transformersDtype });
    const onnxFile = files.find((f) => f.endsWith('.onnx'));
    const root = env.cacheDir ? path.join(env.cacheDir, id) : undefined;
    const onnxPath = onnxFile && root ? findFile(root, onnxFile) : undefined;
    if (!onnxPath) throw new Error(`transformers.js fetched '${id}' but its ONNX file is not in the cache at ${root}`);
    const dir = path.dirname(path.dirname(onnxPath));
    return { dir, onnxPath, config, tokenizer };
  } catch (e) {
    throw runtimeError(`could not load model '${id}' from the Hugging Face hub: ${firstLine(e)}${hint}`);
  }
}

function findFile(root: string, relative: string): string | undefined {
  if (!fs.existsSync(root)) return undefined;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    const direct = path.join(dir, relative);
    if (fs.existsSync(direct)) return direct;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) stack.push(path.join(dir, entry.name));
  }
  return undefined;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim();
}

export function detectTask(config: ModelConfig, spec: string): Task {
  const arch = architectureOf(config, spec);
  if (/ForSequenceClassification$/.test(arch)) return 'classification';
  if (/(ForCausalLM|LMHeadModel)$/.test(arch)) return 'causal-lm';
  if (/ForMaskedLM$/.test(arch)) return 'masked-lm';
  throw usageError(
    `model '${spec}' has architecture '${arch || 'unknown'}'; interp supports *ForSequenceClassification, *ForCausalLM / *LMHeadModel and *ForMaskedLM`,
  );
}

function maxLengthOf(config: ModelConfig, tokenizer: PreTrainedTokenizer): number {
  const candidates = [
    config.max_position_embeddings,
    config.n_positions,
    tokenizer.model_max_length as number | undefined,
  ].filter((x): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0 && x < 1e7);
  return candidates.length ? Math.min(...candidates) : 512;
}

async function createSession(
  source: string | Uint8Array,
  options: LoadOptions,
  spec: string,
  externalFolder: string | null = null,
): Promise<Session> {
  try {
    return await openSession(source, { threads: options.threads }, externalFolder);
  } catch (e) {
    throw runtimeError(`cannot load the ONNX graph of '${spec}' (corrupt or unsupported file): ${firstLine(e)}`);
  }
}

/** The graph's logits output: 'logits' where it has one, else its first output. */
function logitsOutput(proto: ModelProto): string {
  const names = proto.graph.output.map((o) => o.name);
  return names.includes('logits') ? 'logits' : names[0];
}

/** What the sliced-graph cache records: whether the head could be sliced, and where external weights live. */
interface SlicedMeta {
  sliced: boolean;
  external: string | null;
}

/**
 * A causal LM runs with its LM head sliced to the positions that are read (see sliceLmHead): one
 * session, whose logits are every position's unless fewer are asked for. The sliced graph is written
 * once into the cache (readGraphFile), keyed by the model's graph key, and opened from there by
 * onnxruntime itself, so that no copy of the weights stays in JavaScript. A head that cannot be sliced
 * runs as it is; its entry is empty and says so, so that the file is not read again to find out.
 */
async function openScoringSession(
  onnxPath: string,
  options: LoadOptions,
  spec: string,
): Promise<{ session: Session; sliced: boolean }> {
  const key = crypto
    .createHash('sha256')
    .update(`${graphKey(onnxPath)}|${closureHash(import.meta.url)}`)
    .digest('hex')
    .slice(0, 32);
  const plain = async () => ({ session: await createSession(onnxPath, options, spec), sliced: false });
  // Opened from the cache, its weights are mapped from the stored tensors (shared with gradient graphs);
  // an entry onnxruntime cannot open is removed and rebuilt.
  const fromFile = async (file: string, external: string | null) => {
    try {
      return { session: await openGraphFile(file, { threads: options.threads }, external), sliced: true };
    } catch {
      removeGraphFile('sliced', key);
      return null;
    }
  };
  const hit = readGraphFile<SlicedMeta>('sliced', key);
  if (hit && !hit.meta.sliced) return plain();
  const opened = hit && (await fromFile(hit.file, hit.meta.external));
  if (opened) return opened;
  let proto: ModelProto;
  try {
    proto = decodeModel(fs.readFileSync(onnxPath));
  } catch (e) {
    throw runtimeError(`'${spec}': the ONNX file cannot be parsed: ${firstLine(e)}`);
  }
  const sliced = sliceLmHead(proto, logitsOutput(proto));
  const external = proto.graph.initializer.some(isExternal) ? path.dirname(onnxPath) : null;
  const file = writeGraphFile<SlicedMeta>('sliced', key, sliced, { sliced: sliced !== null, external });
  if (!sliced) return plain();
  const written = file && (await fromFile(file, external));
  return written || { session: await createSession(encodeModel(sliced), options, spec, external), sliced: true };
}

function readSignature(session: Session, config: ModelConfig, spec: string, sliced: boolean): ModelSignature {
  const inputNames = [...session.inputNames];
  const outputNames = [...session.outputNames];
  if (!inputNames.includes('input_ids'))
    throw runtimeError(`the ONNX graph of '${spec}' has no input_ids input (inputs: ${inputNames.join(', ')})`);
  const logits = outputNames.includes('logits') ? 'logits' : outputNames[0];
  const heads = config.num_key_value_heads ?? config.num_attention_heads ?? config.n_head ?? config.n_heads ?? 0;
  const hidden = config.hidden_size ?? config.n_embd ?? config.dim ?? 0;
  const headDimDefault =
    config.head_dim ?? (heads ? Math.floor(hidden / (config.num_attention_heads ?? config.n_head ?? heads)) : 0);
  const metadata =
    (session as unknown as { inputMetadata?: { name: string; shape?: (number | string)[]; type?: string }[] })
      .inputMetadata ?? [];
  const pastInputs = inputNames
    .filter((n) => n.startsWith('past_key_values'))
    .map((name) => {
      const meta = metadata.find((m) => m.name === name);
      const shape = meta?.shape ?? [];
      const h = typeof shape[1] === 'number' ? shape[1] : heads;
      const d = typeof shape[3] === 'number' ? shape[3] : headDimDefault;
      if (!h || !d)
        throw runtimeError(
          `cannot tell the shape of KV-cache input ${name} of '${spec}' from the graph or config.json`,
        );
      return {
        name,
        heads: h,
        headDim: d,
        type: meta?.type === 'float16' ? ('float16' as const) : ('float32' as const),
      };
    });
  const integerInputTypes: Record<string, 'int64' | 'int32'> = {};
  for (const name of ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids']) {
    if (inputNames.includes(name))
      integerInputTypes[name] = metadata.find((m) => m.name === name)?.type === 'int32' ? 'int32' : 'int64';
  }
  return {
    inputNames,
    outputNames,
    logits,
    integerInputTypes,
    tokenTypeIds: inputNames.includes('token_type_ids'),
    positionIds: inputNames.includes('position_ids'),
    pastInputs,
    scorePositions: sliced && inputNames.includes(SCORE_POSITIONS),
  };
}

/** Each layer's attention output projection as [heads·headDim, model] rows, read from this graph's initializers. */
function outputProjectionsOf(
  proto: ModelProto,
  structure: TransformerStructure,
): InstrumentedSession['outputProjections'] {
  return structure.layers.map((site) => {
    const init = site.output && findInitializer(proto.graph, site.output.weight);
    const tensor = init && readFloatTensor(init);
    if (!tensor || tensor.dims.length !== 2) return null;
    const [r, c] = tensor.dims;
    return site.output!.transposed
      ? { data: transposeMatrix(tensor.data, r, c), rows: c, cols: r }
      : { data: tensor.data, rows: r, cols: c };
  });
}

/** Rewrite the graph to expose attentions, values and hidden states; the result is cached on disk by graph key and code hash. */
async function createInstrumentedSession(model: Model, options: LoadOptions): Promise<InstrumentedSession> {
  const proto = readGraph(model);
  const result = instrumentOrFail(proto, model.id);
  const outputProjections = outputProjectionsOf(proto, result.structure);
  const hash = crypto
    .createHash('sha256')
    .update(`${graphKey(model.onnxPath)}|${closureHash(import.meta.url)}`)
    .digest('hex')
    .slice(0, 32);
  const cached = cacheFile('instrumented', hash);
  let encoded = readCacheEntry(cached);
  if (!encoded) {
    encoded = encodeModel(result.model);
    writeCacheEntry(cached, encoded);
  }
  const session = await createSession(encoded, options, model.id, externalDataFolder(proto.graph));
  return { session, outputs: result.outputs, structure: result.structure, outputProjections };
}

function instrumentOrFail(proto: ModelProto, spec: string): ReturnType<typeof instrument> {
  try {
    return instrument(proto, { attentions: true, hiddenStates: true, values: true, mlp: true });
  } catch (e) {
    if (e instanceof StructureError) throw runtimeError(`'${spec}': ${e.message}`);
    throw e;
  }
}

let rewrittenGraphs = 0;

/**
 * The same model running a rewritten graph (for example with randomised weights): both its plain and
 * its instrumented sessions are built from `proto`, in memory. Tokenizer, config and signature are shared.
 */
export async function withGraph(model: Model, proto: ModelProto, options: LoadOptions = {}): Promise<Model> {
  const run = model.signature.scorePositions ? sliceLmHead(proto, model.signature.logits) : proto;
  if (!run) throw runtimeError(`'${model.id}': the rewritten graph's LM head cannot be sliced as the model's was`);
  const session = await createSession(encodeModel(run), options, model.id, externalDataFolder(proto.graph));
  let instrumentedPromise: Promise<InstrumentedSession> | undefined;
  const build = async (): Promise<InstrumentedSession> => {
    const result = instrumentOrFail(proto, model.id);
    const inst = await createSession(
      encodeModel(result.model),
      options,
      model.id,
      externalDataFolder(result.model.graph),
    );
    return {
      session: inst,
      outputs: result.outputs,
      structure: result.structure,
      outputProjections: outputProjectionsOf(proto, result.structure),
    };
  };
  return {
    ...model,
    session,
    instrumented: () => (instrumentedPromise ??= build()),
    graphId: `${model.onnxPath}#rewritten-${++rewrittenGraphs}`,
    graphOverride: proto,
  };
}

/**
 * Identifies an ONNX file's graph, for keying every cache of what is built from it, without reading it
 * whole: the file's sampled key and the size and time of every other file beside it (external weights).
 * A graph held in memory has no key: what is built from it is not cached.
 */
export function graphKey(onnxPath: string): string {
  const folder = path.dirname(onnxPath);
  const others = fs
    .readdirSync(folder)
    .filter((f) => !f.endsWith('.onnx'))
    .sort()
    .map((f) => {
      const stat = fs.statSync(path.join(folder, f));
      return `${f}:${stat.size}:${stat.mtimeMs}`;
    });
  return `${sampledFileKey(onnxPath)}|${others.join('|')}`;
}

/** A model's graphs, read and rewritten once per graph. */
const graphs = new Map<string, { original?: ModelProto; canonical?: CanonicalGraph; shadow?: CanonicalGraph }>();

function graphEntry(model: Model) {
  let entry = graphs.get(model.graphId);
  if (!entry) graphs.set(model.graphId, (entry = {}));
  return entry;
}

/**
 * The model's graph in standard operators (fused contrib operators rewritten, see canonicalize), for
 * instrumentation and rewriting. Its numbers are the model's own.
 */
export function readGraph(model: Model): ModelProto {
  if (model.graphOverride) return model.graphOverride;
  const entry = graphEntry(model);
  entry.canonical ??= canonicalOrFail(model, false);
  return entry.canonical.model;
}

/**
 * The graph gradients are taken on: the canonical graph, with quantized weights and integer matmuls
 * replaced by float ones where the model has them (`dequantized`: its numbers then differ slightly
 * from the model's, and callers report by how much).
 */
export function readGradientGraph(model: Model): CanonicalGraph {
  if (model.graphOverride) return { model: model.graphOverride, rewritten: {}, dequantized: false };
  const entry = graphEntry(model);
  entry.shadow ??= canonicalOrFail(model, true);
  return entry.shadow;
}

function canonicalOrFail(model: Model, dequantize: boolean): CanonicalGraph {
  try {
    return canonicalize(readOriginalGraph(model), { dequantize });
  } catch (e) {
    if (e instanceof CanonicalizeError) throw runtimeError(`'${model.id}': ${e.message}`);
    throw e;
  }
}

/** The graph as stored (a rewritten graph as it was given), its external weights registered and present. */
function readOriginalGraph(model: Model): ModelProto {
  if (model.graphOverride) return model.graphOverride;
  const entry = graphEntry(model);
  if (entry.original) return entry.original;
  let proto: ModelProto;
  try {
    proto = decodeModel(fs.readFileSync(model.onnxPath));
  } catch (e) {
    throw runtimeError(`'${model.id}': the ONNX file cannot be parsed: ${firstLine(e)}`);
  }
  registerExternalData(proto.graph, path.dirname(model.onnxPath));
  const external = new Set(
    proto.graph.initializer
      .filter(isExternal)
      .map((t) => t.externalData?.find((e) => e.key === 'location')?.value ?? ''),
  );
  for (const f of external)
    if (!fs.existsSync(path.join(path.dirname(model.onnxPath), f)))
      throw runtimeError(`'${model.id}': its external data file ${f} is missing beside ${model.onnxPath}`);
  entry.original = proto;
  return proto;
}
