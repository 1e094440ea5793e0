import type { Model } from '../model/types.js';
import { checkLogitsWidth } from '../model/validate.js';
import type { RunContext } from '../runtime/context.js';
import { runBatched, type Batch } from '../runtime/runBatched.js';
import { readAtPositions, type PositionOptions } from '../runtime/positions.js';
import { contextTokenId } from '../text/encode.js';
import type { Target, TargetRequest } from './kind.js';
import { resolveByKind, targetKind } from './registry.js';
import { logProbAt } from './scores.js';

export type { ScoreKind, Target, TargetDescriptor, TargetKind, TargetRequest } from './kind.js';
export { SCORE_KINDS } from './kind.js';
export { idsAfterPrompt, labelScore, logProbAt, tokenName } from './scores.js';
export { describeTarget, targetKinds, targetKind } from './registry.js';

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
  const record = targetKind(target.kind);
  if (model.task === 'classification') {
    const classes = (batch: Batch, row: number) => () => {
      const { data, offset, classes: vocab } = classRow(batch, model, row);
      return { data, offset, vocab };
    };
    await runBatched(
      model,
      sequences,
      (batch, row, i) => (scores[i] = record.score(target, classes(batch, row))),
      options,
    );
    return scores;
  }
  // The scored tokens follow each sequence: the next one, or an appended continuation.
  const continued = (s: readonly number[]) => [...s, ...record.reads(target, s.length).extra];
  const rows = sequences.map((s) => ({ ids: continued(s), positions: record.reads(target, s.length).positions }));
  const prefix = options.prefix && continued(options.prefix);
  await readAtPositions(model, rows, (at, i) => (scores[i] = record.score(target, at)), { ...options, prefix });
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

/** The target's score from the full-input logits (class logits, or next-token logits at the last position). */
export function scoreFromLogits(target: Target, logits: Float32Array): number | null {
  const record = targetKind(target.kind);
  // Only a score read at the last position (or from the class row) can come from these logits.
  if (record.reads(target, 1).extra.length > 0) return null;
  return record.score(target, () => ({ data: logits, offset: 0, vocab: logits.length }));
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
  return resolveByKind({ model, ids, request, promptText, logitsOf });
}
