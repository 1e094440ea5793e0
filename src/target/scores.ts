import { usageFault } from '../errors.js';
import { tokenBytes } from '../text/align.js';
import type { Model } from '../model/types.js';
import { logSumExp } from '../util/maths.js';
import type { ScoreKind, TargetRequest } from './kind.js';

/** Log-probability of `token` under the logits stored at data[offset .. offset+vocab). */
export function logProbAt(data: Float32Array, offset: number, vocab: number, token: number): number {
  return data[offset + token] - logSumExp(data, offset, offset + vocab);
}

export function labelScore(
  logits: Float32Array,
  offset: number,
  classes: number,
  index: number,
  score: ScoreKind,
): number {
  const logit = logits[offset + index];
  switch (score) {
    case 'logit':
      return logit;
    case 'probability':
      return Math.exp(logit - logSumExp(logits, offset, offset + classes));
    case 'log-odds':
      return logit - logSumExp(logits, offset, offset + classes, index);
  }
}

/** A text in curly quotes, as summaries quote tokens and continuations. */
export const quoted = (text: string) => `“${text.trim() === '' ? text : text.trim()}”`;

/** Causal-LM targets are log-probabilities: refuse a classifier's score kind. */
export function logProbabilityOnly(request: TargetRequest): void {
  if (request.score !== undefined && request.score !== 'log-probability') {
    throw usageFault(
      'score',
      `{param} ${request.score} applies to classifiers; causal-LM targets are scored as log-probability`,
    );
  }
}

/**
 * A token as text, its leading space kept: decoding one SentencePiece token alone drops the space that
 * '▁there' stands for, so the token's own bytes are read where they make whole characters.
 */
export function tokenName(model: Model, id: number): string {
  const bytes = tokenBytes(model)(id);
  const text = bytes ? new TextDecoder('utf-8', { fatal: false }).decode(bytes) : '';
  if (bytes && text && !text.includes('\uFFFD')) return text;
  return model.tokenizer.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
}

/**
 * Token ids of `addition` as they appear after `promptText`: tokenizers such as SentencePiece encode a
 * word differently at the start of a text than after other text, so encode the joined text and take
 * what follows the prompt's own ids.
 */
export function idsAfterPrompt(
  model: Model,
  promptText: string,
  promptIds: readonly number[],
  addition: string,
): number[] {
  const joined = model.tokenizer.encode(promptText + addition);
  const eos = model.tokenizer.eos_token_id;
  const prefix = promptIds[promptIds.length - 1] === eos ? promptIds.slice(0, -1) : promptIds;
  const samePrefix = prefix.every((id, i) => joined[i] === id);
  if (samePrefix && joined.length > prefix.length) {
    const rest = joined.slice(prefix.length);
    return rest[rest.length - 1] === eos && addition.length > 0 ? rest.slice(0, -1) : rest;
  }
  return model.tokenizer.encode(addition, { add_special_tokens: false });
}
