import fs from 'node:fs';
import path from 'node:path';
import { runtimeError, usageError, usageFault } from '../errors.js';
import { packageRoot } from '../util/paths.js';
import { architectureOf, checkConfigObject } from './validate.js';
import type { ModelConfig, ModelSource, ModelTokenizer, Task } from './types.js';
import { readLocalTokenizer } from './tokenizer.js';

/**
 * Embedded models shipped in the package, by name. The first of each task is that task's default.
 * `text2text-generation` is an encoder-decoder folder (onnx/encoder_model.onnx + decoders), read by readSeq2SeqFolder.
 */
export const EMBEDDED_MODELS: Record<string, { dir: string; task: Task | 'text2text-generation' }> = {
  'sst2-tiny': { dir: 'models/sst2-tiny', task: 'classification' },
  'tiny-lm': { dir: 'models/tiny-lm', task: 'causal-lm' },
  num2digits: { dir: 'models/num2digits', task: 'text2text-generation' },
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

function looksLikePath(spec: string): boolean {
  return (
    spec.startsWith('.') ||
    spec.startsWith('/') ||
    spec.startsWith('~') ||
    /^[A-Za-z]:[\\/]/.test(spec) ||
    fs.existsSync(spec)
  );
}

export async function resolveFiles(spec: string, dtype: string, folder?: string) {
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

function readConfig(dir: string, spec: string): ModelConfig {
  const configPath = path.join(dir, 'config.json');
  if (!fs.existsSync(configPath)) throw usageError(`'${spec}' is not a model folder: it has no config.json`);
  let config: unknown;
  try {
    config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw runtimeError(`'${spec}': config.json is not valid JSON: ${(e as Error).message}`);
  }
  checkConfigObject(config, spec);
  return config;
}

/**
 * An encoder-decoder export: config.json says `is_encoder_decoder`, or the folder holds the transformers.js
 * layout's onnx/encoder_model.onnx and no onnx/model.onnx (a config that says nothing still gets the clear
 * refusal, not a missing model.onnx).
 */
export function isEncoderDecoder(dir: string, config: ModelConfig): boolean {
  const onnx = (file: string) => fs.existsSync(path.join(dir, 'onnx', file));
  return config.is_encoder_decoder === true || (onnx('encoder_model.onnx') && !onnx('model.onnx'));
}

/** The one-line refusal of every command that does not run encoder-decoder models yet. */
export const seq2seqRefusal = (spec: string) =>
  usageError(
    `'${spec}' is an encoder-decoder (seq2seq) model; this command supports encoder-only and decoder-only models, not encoder-decoder ones yet`,
  );

/** The folder a spec names: the server's `folder`, an embedded model's, or a local path (no hub lookup). */
function localFolder(spec: string, folder?: string): string | null {
  if (folder) return folder;
  const embedded = EMBEDDED_MODELS[spec];
  if (embedded) return path.join(packageRoot, embedded.dir);
  if (!looksLikePath(spec)) return null;
  const dir = path.resolve(spec.replace(/^~(?=$|\/)/, process.env.HOME ?? '~'));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw usageError(`unknown model '${spec}': no such folder`);
  return dir;
}

/** Whether a spec names a local encoder-decoder folder (a hub id or a missing folder is not one). */
export function isEncoderDecoderSpec(spec: string, folder?: string): boolean {
  const dir = localFolder(spec, folder);
  if (!dir || !fs.existsSync(path.join(dir, 'config.json'))) return false;
  try {
    return isEncoderDecoder(dir, readConfig(dir, spec));
  } catch {
    return false;
  }
}

/**
 * An encoder-decoder folder in the transformers.js layout: its config, tokenizer, onnx/encoder_model.onnx and
 * its decoder, merged (decoder_model_merged.onnx) or split (decoder_model.onnx + decoder_with_past_model.onnx).
 */
export async function readSeq2SeqFolder(spec: string, dtype: string, folder?: string) {
  const dir = localFolder(spec, folder);
  if (!dir) throw usageError(`encoder-decoder model '${spec}': give a local folder in the transformers.js layout`);
  const config = readConfig(dir, spec);
  if (!isEncoderDecoder(dir, config)) throw usageError(`'${spec}' is not an encoder-decoder model`);
  const file = (name: string) => {
    const at = path.join(dir, 'onnx', `${name}${DTYPE_SUFFIX[dtype]}.onnx`);
    checkReadableFile(at, spec);
    return fs.existsSync(at) ? at : null;
  };
  const encoder = file('encoder_model');
  if (!encoder)
    throw usageFault('dtype', `'${spec}' has no onnx/encoder_model${DTYPE_SUFFIX[dtype]}.onnx for {param} ${dtype}`);
  const merged = file('decoder_model_merged');
  const [first, withPast] = [file('decoder_model'), file('decoder_with_past_model')];
  if (!merged && !first)
    throw usageFault(
      'dtype',
      `'${spec}' has neither onnx/decoder_model_merged${DTYPE_SUFFIX[dtype]}.onnx nor onnx/decoder_model${DTYPE_SUFFIX[dtype]}.onnx for {param} ${dtype}`,
    );
  return {
    dir,
    config,
    tokenizer: await readTokenizer(dir, spec),
    encoder,
    merged,
    split: first ? { first, withPast } : null,
  };
}

async function readTokenizer(dir: string, spec: string): Promise<ModelTokenizer> {
  for (const file of ['tokenizer.json', 'tokenizer_config.json'])
    if (!fs.existsSync(path.join(dir, file))) throw usageError(`'${spec}' has no ${file}`);
  return localTokenizer(dir, spec);
}

/** A local folder's tokenizer, read without transformers.js (model/tokenizer.ts). */
function localTokenizer(dir: string, spec: string): ModelTokenizer {
  try {
    return readLocalTokenizer(dir);
  } catch (e) {
    throw runtimeError(`cannot read the tokenizer of '${spec}': ${firstLine(e)}`);
  }
}

async function readLocalFolder(dir: string, dtype: string, spec: string) {
  const config = readConfig(dir, spec);
  if (isEncoderDecoder(dir, config)) throw seq2seqRefusal(spec);
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
  return { dir, onnxPath, config, tokenizer: localTokenizer(dir, spec) };
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
  let refused: Error | undefined;
  try {
    // Loaded here only: its import (with sharp and onnxruntime-web) is most of a local model's start-up.
    const { AutoConfig, AutoModel, AutoTokenizer, ModelRegistry, env } = await import('@huggingface/transformers');
    const config = (await AutoConfig.from_pretrained(id)) as unknown as ModelConfig;
    if (config.is_encoder_decoder === true) throw (refused = seq2seqRefusal(id));
    const tokenizer: ModelTokenizer = await AutoTokenizer.from_pretrained(id);
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
    if (refused) throw refused;
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

export function firstLine(e: unknown): string {
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

export function maxLengthOf(config: ModelConfig, tokenizer: ModelTokenizer): number {
  const candidates = [config.max_position_embeddings, config.n_positions, tokenizer.model_max_length].filter(
    (x): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0 && x < 1e7,
  );
  return candidates.length ? Math.min(...candidates) : 512;
}
