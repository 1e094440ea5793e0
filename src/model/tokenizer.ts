import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { ModelTokenizer } from './types.js';

type TokenizerConfig = Record<string, unknown> & { model_max_length?: number };

/**
 * A special token's text as tokenizer_config.json gives it: a string, or an AddedToken object (transformers.js's
 * getTokenFromConfig, with the same refusal of any other object).
 */
function tokenFromConfig(config: TokenizerConfig, ...keys: string[]): string | null {
  for (const key of keys) {
    const item = Object.hasOwn(config, key) ? config[key] : undefined;
    if (!item) continue;
    if (typeof item !== 'object') return item as string;
    const added = item as { __type?: string; content?: string };
    if (added.__type === 'AddedToken') return added.content ?? null;
    throw new Error(`Unknown token: ${String(item)}`);
  }
  return null;
}

/**
 * The tokenizer of a local model folder, built on @huggingface/tokenizers alone: the same tokenizer.json and
 * tokenizer_config.json read, and the same encode, decode and special tokens, as transformers.js's
 * PreTrainedTokenizer (which wraps this same Tokenizer), without loading transformers.js, sharp and
 * onnxruntime-web. transformers.js's subclasses differ from its base class only in what interp does not use
 * (batched calls with padding, token type ids, translation inputs, a TTS decoder). test/unit/text/
 * tokenizerEquivalence.test.ts checks the two byte for byte on every tokenizer the tests use.
 */
export class LocalTokenizer implements ModelTokenizer {
  readonly _tokenizer: Tokenizer;
  readonly mask_token: string;
  readonly mask_token_id: number;
  readonly pad_token_id: number;
  readonly sep_token_id: number;
  readonly unk_token_id: number;
  readonly bos_token_id: number;
  readonly eos_token_id: number;
  readonly all_special_ids: number[];
  readonly all_special_tokens: string[];

  constructor(
    readonly _tokenizerJSON: object,
    readonly config: TokenizerConfig,
  ) {
    this._tokenizer = new Tokenizer(_tokenizerJSON, config);
    // Absent tokens: token_to_id(null) is undefined, as transformers.js leaves it.
    const id = (...keys: string[]) => this._tokenizer.token_to_id(tokenFromConfig(config, ...keys)!) as number;
    this.mask_token = tokenFromConfig(config, 'mask_token')!;
    this.mask_token_id = id('mask_token');
    this.pad_token_id = id('pad_token', 'eos_token');
    this.sep_token_id = id('sep_token');
    this.unk_token_id = id('unk_token');
    this.bos_token_id = id('bos_token');
    this.eos_token_id = id('eos_token');
    const special = [...this._tokenizer.get_added_tokens_decoder().values()].filter((t) => t.special);
    this.all_special_ids = special.map((t) => t.id);
    this.all_special_tokens = special.map((t) => t.content);
  }

  get model_max_length(): number {
    return this.config.model_max_length ?? Infinity;
  }

  get_vocab(): Map<string, number> {
    return this._tokenizer.get_vocab();
  }

  encode(text: string, { add_special_tokens = true }: { add_special_tokens?: boolean } = {}): number[] {
    return this._tokenizer.encode(text, { add_special_tokens }).ids;
  }

  decode(
    ids: number[],
    {
      skip_special_tokens = false,
      clean_up_tokenization_spaces = null,
    }: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean | null } = {},
  ): string {
    if (!Array.isArray(ids) || ids.length === 0 || !Number.isInteger(ids[0]))
      throw new Error('token_ids must be a non-empty array of integers.');
    return this._tokenizer.decode(ids, { skip_special_tokens, clean_up_tokenization_spaces });
  }
}

/** Read a local folder's tokenizer.json and tokenizer_config.json (both checked present by the caller). */
export function readLocalTokenizer(dir: string): LocalTokenizer {
  const json = (file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as object;
  return new LocalTokenizer(json('tokenizer.json'), json('tokenizer_config.json') as TokenizerConfig);
}
