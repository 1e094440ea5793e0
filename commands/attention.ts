import { Command } from 'commander';
import { addOutputOptions } from './outputOptions.js';
import { HEAD_PROPERTIES } from '../src/attention/analysis.js';
import { ATTENTION_SCHEMA, attentionView, type AttentionView } from '../src/attention/report.js';
import { usageError } from '../src/errors.js';
import { attentionJson, attentionSvg, attentionText } from '../src/render/attention.js';
import { writeSvg } from '../src/render/svg.js';
import { addModelOptions, examples, openModel, optionalInteger, parseInteger, type ModelFlags } from './common.js';
import { summarised, withSpinner, withSummaryText, writeStdout } from './output.js';
import { summarizeAttention } from '../src/summary/results.js';
import { cliEnv, jsonDocument, type Operation } from './operation.js';

interface AttentionFlags extends ModelFlags {
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
}

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
    json: `print matrices, head roles and tokens as JSON (schema ${ATTENTION_SCHEMA})`,
    svg: 'write heatmaps: model view (no --layer), layer view, or head view',
    summary: true,
  });
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
    ]),
  );
  return cmd.action(async (text: string, flags: AttentionFlags) => attention(text, flags));
}

export const attentionOperation: Operation<AttentionFlags, AttentionView> = {
  name: 'attention',
  command: attentionCommand,
  contentType: 'application/json',
  document: (view, flags) => jsonDocument(attentionJson(view, flags.format as 'nested' | 'flat')),
  plan: (text, flags) => {
    if (flags.format !== 'nested' && flags.format !== 'flat')
      throw usageError(`unknown --format '${flags.format}'; choose nested or flat`);
    const { target, score } = flags;
    const request = {
      text: text!,
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
    return async (model) => summarised(flags.summary, await attentionView(model, request), summarizeAttention);
  },
};

async function attention(text: string, flags: AttentionFlags): Promise<void> {
  const work = attentionOperation.plan(text, flags, cliEnv(flags));
  const top = optionalInteger('--top', flags.top, 1, 100_000);
  const maxTokens = parseInteger('--max-tokens', flags.maxTokens, 4, 4_096);
  const model = await withSpinner('loading model', () => openModel(flags));
  const view = await withSpinner('running the instrumented graph', () => work(model));
  if (flags.svg) await writeSvg(flags.svg, attentionSvg(view, maxTokens));
  await writeStdout(
    flags.json
      ? attentionOperation.document(view, flags)
      : withSummaryText((v: AttentionView) => attentionText(v, top))(view),
  );
}
