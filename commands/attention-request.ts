import { Command } from 'commander';
import type { AttentionRequest } from '../src/attention/report.js';
import { usageError, usageFault } from '../src/errors.js';
import type { Seq2SeqModel } from '../src/model/seq2seq.js';
import { readAlignments } from '../src/seq2seq/alignment.js';
import { SEQ2SEQ_ATTENTION_PARTS, type Seq2SeqAttentionPart } from '../src/seq2seq/attention.js';
import {
  SEQ2SEQ_ATTENTION_SCHEMA,
  seq2seqAttentionView,
  type Seq2SeqAttentionView,
} from '../src/seq2seq/attentionView.js';
import { optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { localOption } from './outputOptions.js';

export interface AttentionFlags extends ModelFlags {
  layer?: string;
  head?: string;
  rollout?: boolean;
  flow?: boolean;
  norm?: boolean;
  gradient?: boolean;
  target?: string;
  score?: string;
  sort: string;
  top?: string;
  inductionLength: string;
  seed: string;
  json?: boolean;
  format: string;
  svg?: string;
  maxTokens: string;
  truncate?: boolean;
  summary?: boolean;
  part?: string;
  continuation?: string;
  generate?: string;
  alignments?: string;
}

/** The options that apply to encoder-decoder models only. */
export function addSeq2SeqAttentionOptions(cmd: Command): Command {
  return cmd
    .option('--part <p>', `encoder-decoder models: ${SEQ2SEQ_ATTENTION_PARTS.join(', ')} (default: cross)`)
    .option('--continuation <text>', 'encoder-decoder models: a forced target instead of the greedy output')
    .option('--generate <n>', 'encoder-decoder models: most new tokens of the greedy output (default: 20)')
    .addOption(
      localOption(
        '--alignments <file>',
        'encoder-decoder models: reference alignments (one Pharaoh line, source-target i-j, possible i?j): the alignment error rate of the cross-attention argmax',
        'input',
      ),
    );
}

const SEQ2SEQ_ONLY = ['part', 'continuation', 'generate', 'alignments'] as const;
const TEXT_ONLY = ['norm', 'gradient', 'target', 'score', 'summary', 'truncate'] as const;
const flag = (name: string) => `--${name}`;

/** The request on an encoder-only or decoder-only model (seq2seq-only flags refused when the model is known). */
export function attentionRequestOf(text: string, flags: AttentionFlags): AttentionRequest {
  if (flags.format !== 'nested' && flags.format !== 'flat')
    throw usageError(`unknown --format '${flags.format}'; choose nested or flat`);
  seq2seqFlagsOf(flags);
  const { target, score } = flags;
  return {
    text,
    layer: optionalInteger('--layer', flags.layer, 0, 10_000),
    head: optionalInteger('--head', flags.head, 0, 10_000),
    ...{ rollout: flags.rollout, flow: flags.flow, norm: flags.norm, gradient: flags.gradient },
    target: target === undefined && score === undefined ? undefined : { target, score },
    sort: flags.sort,
    inductionLength: parseInteger('--induction-length', flags.inductionLength, 0, 4_096),
    seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
    maxTokens: parseInteger('--max-tokens', flags.maxTokens, 4, 4_096),
    truncate: flags.truncate,
  };
}

/** The encoder-decoder flags, checked before any model loads: the part, the greedy length, the reference. */
function seq2seqFlagsOf(flags: AttentionFlags) {
  const part = (flags.part ?? 'cross') as Seq2SeqAttentionPart;
  if (!SEQ2SEQ_ATTENTION_PARTS.includes(part))
    throw usageFault('part', `unknown {param} '${part}'; choose one of ${SEQ2SEQ_ATTENTION_PARTS.join(', ')}`);
  return {
    part,
    generate: optionalInteger('--generate', flags.generate, 1, 512) ?? 20,
    alignments: flags.alignments ? readAlignments(flags.alignments) : undefined,
  };
}

/** Refuse, in one line, the flags that apply to encoder-decoder models only. */
export function refuseSeq2SeqFlags(flags: AttentionFlags, model: string): void {
  const given = SEQ2SEQ_ONLY.filter((k) => flags[k] !== undefined);
  if (given.length) throw usageFault(given[0], `{param} applies to encoder-decoder models only; '${model}' is not one`);
}

/** `attention`'s work on an encoder-decoder model: one part's attention over the greedy or forced target. */
export function seq2seqAttentionPlan(text: string, flags: AttentionFlags) {
  return (model: Seq2SeqModel): Promise<Seq2SeqAttentionView> => {
    const request = attentionRequestOf(text, flags);
    const refused = TEXT_ONLY.filter((k) => flags[k] !== undefined && flags[k] !== false);
    if (refused.length)
      throw usageError(
        `${refused.map(flag).join(', ')}: not for encoder-decoder models (views: model, layer, head, rollout, flow)`,
      );
    return seq2seqAttentionView(model, {
      text,
      ...seq2seqFlagsOf(flags),
      layer: request.layer,
      head: request.head,
      rollout: request.rollout,
      flow: request.flow,
      continuation: flags.continuation,
      maxTokens: request.maxTokens,
    });
  };
}

export const isSeq2SeqAttention = (view: object): view is Seq2SeqAttentionView =>
  'schema' in view && view.schema === SEQ2SEQ_ATTENTION_SCHEMA;
