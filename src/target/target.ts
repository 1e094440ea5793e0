import { usageError, usageFault } from '../errors.js';
import type { Model } from '../model/types.js';
import { checkLogitsWidth } from '../model/validate.js';
import { tokenBytes } from '../text/align.js';
import type { RunContext } from '../runtime/context.js';
import { runBatched, type Batch } from '../runner/runBatched.js';
import { readAtPositions, type PositionOptions } from '../runner/positions.js';
import { contextTokenId } from '../text/encode.js';
import { argmax, logSumExp } from '../util/maths.js';

export type ScoreKind = 'probability' | 'logit' | 'log-odds';
export const SCORE_KINDS: readonly ScoreKind[] = ['probability', 'logit', 'log-odds'];

/** What one number per variant measures. */
export type Target =
  | { kind: 'label'; index: number; name: string; score: ScoreKind }
  | { kind: 'next-token'; tokenId: number; name: string }
  | { kind: 'continuation'; tokenIds: number[]; name: string; reduce: 'sum' | 'mean' };

export interface TargetDescriptor {
  kind: Target['kind'];
  name: string;
  score: string;
  tokenIds?: number[];
}

export function describeTarget(target: Target): TargetDescriptor {
  switch (target.kind) {
    case 'label':
      return { kind: 'label', name: target.name, score: target.score };
    case 'next-token':
      return { kind: 'next-token', name: target.name, score: 'log-probability', tokenIds: [target.tokenId] };
    case 'continuation':
      return {
        kind: 'continuation',
        name: target.name,
        score: `${target.reduce} log-probability`,
        tokenIds: target.tokenIds,
      };
  }
}

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

/** Logits row of a classifier batch. */
function classRow(batch: Batch, model: Model, row: number): { data: Float32Array; offset: number; classes: number } {
  const { data, dims } = batch.output(model.signature.logits);
  const classes = dims[dims.length - 1];
  if (model.labels) checkLogitsWidth(classes, model.labels, model.id);
  return { data, offset: row * classes, classes };
}

/**
 * Score each sequence for the target: one number per sequence. For continuation targets the
 * continuation is appended to every sequence.
 */
export async function scoreSequences(
  model: Model,
  target: Target,
  given: readonly (readonly number[])[],
  options: PositionOptions = {},
): Promise<Float64Array> {
  const sequences = withContext(model, given);
  const scores = new Float64Array(sequences.length);
  if (target.kind === 'label') {
    await runBatched(
      model,
      sequences,
      (batch, row, i) => {
        const { data, offset, classes } = classRow(batch, model, row);
        scores[i] = labelScore(data, offset, classes, target.index, target.score);
      },
      options,
    );
  } else {
    // The scored tokens follow each sequence: the next one, or the whole continuation.
    const tokens = target.kind === 'next-token' ? [target.tokenId] : target.tokenIds;
    const k = tokens.length;
    const continued = (s: readonly number[]) => (target.kind === 'next-token' ? s : [...s, ...tokens]);
    const rows = sequences.map((s) => ({
      ids: continued(s),
      positions: tokens.map((_, j) => s.length - 1 + j),
    }));
    const prefix = options.prefix && continued(options.prefix);
    await readAtPositions(
      model,
      rows,
      (at, i) => {
        let total = 0;
        for (let j = 0; j < k; j++) {
          const { data, offset, vocab } = at(j);
          total += logProbAt(data, offset, vocab, tokens[j]);
        }
        scores[i] = target.kind === 'continuation' && target.reduce === 'mean' ? total / k : total;
      },
      { ...options, prefix },
    );
  }
  return scores;
}

/**
 * An empty sequence (every feature deleted) has nothing to predict from: a causal LM conditions it on its
 * context token (BOS, or EOS where there is none), as every encoded text already is. Other models have no
 * such context, and the runner refuses the empty row.
 */
function withContext(model: Model, sequences: readonly (readonly number[])[]): readonly (readonly number[])[] {
  if (model.task !== 'causal-lm' || sequences.every((s) => s.length > 0)) return sequences;
  const context = contextTokenId(model) ?? model.tokenizer.bos_token_id ?? model.tokenizer.eos_token_id;
  if (context === undefined || context === null) return sequences;
  return sequences.map((s) => (s.length > 0 ? s : [context]));
}

/**
 * One logits row per sequence: a classifier's class logits, or a language model's at `position(i, length)`
 * (default: the last token, whose logits predict the next one; a masked LM reads its mask position).
 */
export async function logitRows(
  model: Model,
  sequences: readonly (readonly number[])[],
  options: PositionOptions & { position?: (i: number, length: number) => number } = {},
): Promise<Float32Array[]> {
  const given = withContext(model, sequences);
  if (model.task === 'classification') {
    return runBatched(
      model,
      given,
      (batch, r) => {
        const { data, offset, classes } = classRow(batch, model, r);
        return data.slice(offset, offset + classes);
      },
      options,
    );
  }
  const rows = given.map((ids, i) => ({ ids, positions: [options.position?.(i, ids.length) ?? ids.length - 1] }));
  return readAtPositions(
    model,
    rows,
    (at) => {
      const { data, offset, vocab } = at(0);
      return data.slice(offset, offset + vocab);
    },
    options,
  );
}

/** Full output distribution for one sequence: class logits, or next-token logits at the last position. */
export async function lastLogits(
  model: Model,
  ids: readonly number[],
  options: PositionOptions = {},
): Promise<Float32Array> {
  // The input alone, before it is perturbed: a causal LM keeps its keys and values for the variants.
  const [row] = await logitRows(model, [ids], { ...options, prefix: ids });
  return row;
}

/** Per-token log-probabilities of a continuation after a prompt. */
export async function continuationLogProbs(
  model: Model,
  prompt: readonly number[],
  continuation: readonly number[],
): Promise<number[]> {
  const positions = continuation.map((_, j) => prompt.length - 1 + j);
  const [row] = await readAtPositions(model, [{ ids: [...prompt, ...continuation], positions }], (at) =>
    continuation.map((token, j) => {
      const { data, offset, vocab } = at(j);
      return logProbAt(data, offset, vocab, token);
    }),
  );
  return row;
}

export interface TargetRequest {
  /** Label name or index (classifier), or next token text (causal LM). */
  target?: string;
  score?: string;
  continuation?: string;
  reduce?: 'sum' | 'mean';
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

/** The target's score from the full-input logits (class logits, or next-token logits at the last position). */
export function scoreFromLogits(target: Target, logits: Float32Array): number | null {
  if (target.kind === 'label') return labelScore(logits, 0, logits.length, target.index, target.score);
  if (target.kind === 'next-token') return logProbAt(logits, 0, logits.length, target.tokenId);
  return null;
}

/** The target and, when the model had to run to choose it, its score on the full input (so that nothing runs twice). */
export async function resolveTargetAndScore(
  model: Model,
  ids: readonly number[],
  request: TargetRequest,
  promptText = '',
  run?: RunContext,
): Promise<{ target: Target; fullScore: number | null }> {
  let logits: Float32Array | undefined;
  const target = await resolveTarget(
    model,
    ids,
    request,
    promptText,
    async () => (logits ??= await lastLogits(model, ids, { run })),
  );
  return { target, fullScore: logits ? scoreFromLogits(target, logits) : null };
}

/** Turn the user's flags into a target; the default is the model's own prediction on `ids`. */
export async function resolveTarget(
  model: Model,
  ids: readonly number[],
  request: TargetRequest,
  promptText = '',
  logitsOf: () => Promise<Float32Array> = () => lastLogits(model, ids),
): Promise<Target> {
  if (request.continuation !== undefined && request.target !== undefined)
    throw usageFault('target', 'give either {param} or {param:continuation}, not both');
  if (model.task === 'classification') {
    if (request.continuation !== undefined)
      throw usageFault('continuation', '{param} applies to causal language models; this model is a classifier');
    const score = (request.score ?? 'probability') as ScoreKind;
    if (!SCORE_KINDS.includes(score))
      throw usageFault('score', `unknown {param} '${request.score}'; choose one of ${SCORE_KINDS.join(', ')}`);
    const labels = model.labels!;
    let index: number;
    if (request.target === undefined) {
      index = argmax(await logitsOf());
    } else {
      const byName = labels.findIndex((l) => l.toLowerCase() === request.target!.toLowerCase());
      index =
        byName >= 0
          ? byName
          : /^\d+$/.test(request.target) && Number(request.target) < labels.length
            ? Number(request.target)
            : -1;
      if (index < 0)
        throw usageError(`unknown label '${request.target}'; this model's labels are ${labels.join(', ')}`);
    }
    return { kind: 'label', index, name: labels[index], score };
  }
  if (model.task !== 'causal-lm')
    throw usageError(`targets for '${model.task}' models are not supported by this command`);
  if (request.score !== undefined && request.score !== 'log-probability') {
    throw usageFault(
      'score',
      `{param} ${request.score} applies to classifiers; causal-LM targets are scored as log-probability`,
    );
  }
  if (request.continuation !== undefined) {
    if (request.continuation.length === 0) throw usageFault('continuation', '{param} is empty');
    const tokenIds = idsAfterPrompt(model, promptText, ids, request.continuation);
    if (tokenIds.length === 0)
      throw usageFault('continuation', `{param} '${request.continuation}' encodes to no tokens`);
    if (ids.length + tokenIds.length > model.maxLength) {
      throw usageError(
        `prompt and continuation are ${ids.length + tokenIds.length} tokens long but '${model.id}' takes at most ${model.maxLength}`,
      );
    }
    return { kind: 'continuation', tokenIds, name: request.continuation, reduce: request.reduce ?? 'sum' };
  }
  if (request.target === undefined) {
    const tokenId = argmax(await logitsOf());
    return { kind: 'next-token', tokenId, name: tokenName(model, tokenId) };
  }
  if (request.target.startsWith('id:')) {
    // Where config.json gives no vocabulary size, the logits' width is the vocabulary.
    const vocab = (model.config.vocab_size as number | undefined) ?? (await logitsOf()).length;
    const digits = request.target.slice(3);
    const tokenId = /^\d+$/.test(digits) ? Number(digits) : NaN;
    if (!Number.isSafeInteger(tokenId) || tokenId >= vocab)
      throw usageFault(
        'target',
        `{param} '${request.target}' is not a token id of '${model.id}': write id:N with N a decimal integer from 0 to ${vocab - 1}`,
      );
    return { kind: 'next-token', tokenId, name: tokenName(model, tokenId) };
  }
  const encoded = idsAfterPrompt(model, promptText, ids, request.target);
  if (encoded.length !== 1) {
    throw usageFault(
      'target',
      `{param} '${request.target}' is ${encoded.length} tokens; a next-token target must be one token (use {param:continuation} for longer text, or id:N)`,
    );
  }
  return { kind: 'next-token', tokenId: encoded[0], name: tokenName(model, encoded[0]) };
}
