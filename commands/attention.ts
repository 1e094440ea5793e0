import { Command } from 'commander';
import { addOutputOptions } from './outputOptions.js';
import { HEAD_PROPERTIES } from '../src/attention/analysis.js';
import { ATTENTION_SCHEMA, attentionView, type AttentionView } from '../src/attention/report.js';
import { attentionJson, attentionSvg, attentionText } from '../src/render/attention.js';
import { writeSvg } from '../src/render/svg.js';
import { addModelOptions, examples, openAnyModel, optionalInteger, parseInteger } from './common.js';
import { summarised, withSpinner, withSummaryText, writeStdout } from './output.js';
import { summarizeAttention } from '../src/summary/results.js';
import { cliEnv, jsonDocument, type Operation } from './operation.js';
import { planFor } from '../src/api/operation.js';
import { SEQ2SEQ_ATTENTION_SCHEMA, type Seq2SeqAttentionView } from '../src/seq2seq/attentionView.js';
import { seq2seqAttentionJson, seq2seqAttentionSvg, seq2seqAttentionText } from '../src/render/seq2seqAttention.js';
import {
  addSeq2SeqAttentionOptions,
  attentionRequestOf,
  isSeq2SeqAttention,
  refuseSeq2SeqFlags,
  seq2seqAttentionPlan,
  type AttentionFlags,
} from './attention-request.js';

export function attentionCommand(): Command {
  const cmd = new Command('attention')
    .summary('attention maps, rollout and flow, norm-based attention and head roles')
    .description(
      'Show what the attention heads of any ONNX export do: per-head maps, rollout and flow through the layers, norm-based attention, and a ranked table of head roles.',
    )
    .argument('<text>', 'the input text')
    .option('--layer <l>', 'one layer (0-based): the layer view')
    .option('--head <h>', 'with --layer, one head: the head view and its strongest links')
    .option('--rollout', 'attention rollout through all layers (Abnar & Zuidema 2020)')
    .option('--flow', 'attention flow: max-flow through the layer graph (Abnar & Zuidema 2020)')
    .option('--norm', 'norm-based attention ‖α·f(x)‖ (Kobayashi et al. 2020) instead of raw weights')
    .option(
      '--gradient',
      'attention × gradient: each weight times the exact gradient of the target score with respect to it (signed); heads ranked by importance',
    )
    .option('--target <target>', 'with --gradient: label name or index, or next token (default: the prediction)')
    .option('--score <kind>', 'with --gradient, classifiers: probability, logit or log-odds (default: probability)')
    .option('--sort <property>', `rank heads by ${HEAD_PROPERTIES.join(', ')}`, 'entropy')
    .option('--top <k>', 'rows in the table')
    .option(
      '--induction-length <n>',
      'random tokens in the repeated sequence that scores induction heads (0: skip)',
      '20',
    )
    .option('--seed <n>', 'seed for the random induction sequence', '0')
    .option('--format <f>', 'JSON matrices as nested arrays, or flat: {shape, data} row-major', 'nested')
    .option('--max-tokens <n>', 'above this many tokens, heatmaps pool neighbouring tokens into ranges', '64')
    .option('--truncate', 'cut inputs longer than the model maximum instead of failing');
  addOutputOptions(cmd, {
    json: `print matrices, head roles and tokens as JSON (schema ${ATTENTION_SCHEMA}; ${SEQ2SEQ_ATTENTION_SCHEMA} on encoder-decoder models)`,
    svg: 'write heatmaps: model view (no --layer), layer view, or head view',
    summary: true,
  });
  addSeq2SeqAttentionOptions(cmd);
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp attention "the cat sat on the mat" --svg model-view.svg',
      'interp attention "the cat sat on the mat" --layer 1 --head 2 --svg head.svg',
      'interp attention "Once upon a time there was a girl" --model ../shared/models/llama-stories260k-kv --sort induction',
      'interp attention "a gripping , well acted film" --rollout --json | jq .rollout',
      'interp attention "a gripping , well acted film" --norm --layer 0 --json --format flat',
      'interp attention "a gripping , well acted film" --gradient --score logit --top 5',
      'interp attention "the cat sat" --model ./marian-en-de --part cross --alignments ref.txt --svg cross.svg',
    ]),
  );
  return cmd.action(async (text: string, flags: AttentionFlags) => attention(text, flags));
}

type View = AttentionView | Seq2SeqAttentionView;
const formatOf = (flags: AttentionFlags) => flags.format as 'nested' | 'flat';

export const attentionOperation: Operation<AttentionFlags, View> = {
  name: 'attention',
  command: attentionCommand,
  contentType: 'application/json',
  documents: [
    { schema: ATTENTION_SCHEMA, when: 'encoder-only and decoder-only models' },
    { schema: SEQ2SEQ_ATTENTION_SCHEMA, when: 'encoder-decoder models' },
  ],
  document: (view, flags) =>
    jsonDocument(
      isSeq2SeqAttention(view) ? seq2seqAttentionJson(view, formatOf(flags)) : attentionJson(view, formatOf(flags)),
    ),
  plan: (text, flags) => {
    const request = attentionRequestOf(text!, flags);
    return async (model) => {
      refuseSeq2SeqFlags(flags, model.id);
      return summarised(flags.summary, await attentionView(model, request), summarizeAttention);
    };
  },
  seq2seq: (text, flags) => seq2seqAttentionPlan(text!, flags),
};

async function attention(text: string, flags: AttentionFlags): Promise<void> {
  const work = planFor(attentionOperation, text, flags, cliEnv(flags));
  const top = optionalInteger('--top', flags.top, 1, 100_000);
  const maxTokens = parseInteger('--max-tokens', flags.maxTokens, 4, 4_096);
  const model = await withSpinner('loading model', () => openAnyModel(flags));
  const view = await withSpinner('running the instrumented graph', () => work(model));
  const s2s = isSeq2SeqAttention(view);
  if (flags.svg) await writeSvg(flags.svg, s2s ? seq2seqAttentionSvg(view, maxTokens) : attentionSvg(view, maxTokens));
  await writeStdout(
    flags.json
      ? attentionOperation.document(view, flags)
      : s2s
        ? seq2seqAttentionText(view, top)
        : withSummaryText((v: AttentionView) => attentionText(v, top))(view),
  );
}
