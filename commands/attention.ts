import { Command } from 'commander';
import {
  attentionFlow, HEAD_PROPERTIES, headRoles, inductionScores, normWeighted, rankHeads, rollout, runAttention,
  type HeadProperty, type Matrix,
} from '../src/attention/analysis.js';
import { usageError } from '../src/errors.js';
import { attentionTimesGradient, type AttentionTimesGradient } from '../src/attention/gradient.js';
import { attentionChart, importanceTable, linksTable, rolesTable, type Panel } from '../src/render/attention.js';
import { describeTarget, resolveTarget, type Target } from '../src/target/target.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { encodeText } from '../src/text/encode.js';
import { addModelOptions, examples, openModel, parseInteger, withSpinner, writeStdout, type ModelFlags } from './common.js';

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
}

export function attentionCommand(): Command {
  const cmd = new Command('attention')
    .summary('attention maps, rollout and flow, norm-based attention and head roles')
    .description('Show what the attention heads of any ONNX export do: per-head maps, rollout and flow through the layers, norm-based attention, and a ranked table of head roles.')
    .argument('<text>', 'the input text')
    .option('--layer <l>', 'one layer (0-based): the layer view')
    .option('--head <h>', 'with --layer, one head: the head view and its strongest links')
    .option('--rollout', 'attention rollout through all layers (Abnar & Zuidema 2020)')
    .option('--flow', 'attention flow: max-flow through the layer graph (Abnar & Zuidema 2020)')
    .option('--norm', 'norm-based attention ‖α·f(x)‖ (Kobayashi et al. 2020) instead of raw weights')
    .option('--gradient', 'attention × gradient: each weight times the exact gradient of the target score with respect to it (signed); heads ranked by importance')
    .option('--target <target>', 'with --gradient: label name or index, or next token (default: the prediction)')
    .option('--score <kind>', 'with --gradient, classifiers: probability, logit or log-odds (default: probability)')
    .option('--sort <property>', `rank heads by ${HEAD_PROPERTIES.join(', ')}`, 'entropy')
    .option('--top <k>', 'rows in the table')
    .option('--induction-length <n>', 'random tokens in the repeated sequence that scores induction heads (0: skip)', '20')
    .option('--seed <n>', 'seed for the random induction sequence', '0')
    .option('--json', 'print matrices, head roles and tokens as JSON (schema interp/attention@1)')
    .option('--format <f>', 'JSON matrices as nested arrays, or flat: {shape, data} row-major', 'nested')
    .option('--svg <file>', 'write heatmaps: model view (no --layer), layer view, or head view')
    .option('--max-tokens <n>', 'above this many tokens, heatmaps pool neighbouring tokens into ranges', '64')
    .option('--truncate', 'cut inputs longer than the model maximum instead of failing');
  addModelOptions(cmd);
  cmd.addHelpText('after', examples([
    'interp attention "the cat sat on the mat" --svg model-view.svg',
    'interp attention "the cat sat on the mat" --layer 1 --head 2 --svg head.svg',
    'interp attention "Once upon a time there was a girl" --model ../shared/models/llama-stories260k-kv --sort induction',
    'interp attention "a gripping , well acted film" --rollout --json | jq .rollout',
    'interp attention "a gripping , well acted film" --norm --layer 0 --json --format flat',
    'interp attention "a gripping , well acted film" --gradient --score logit --top 5',
  ]));
  cmd.action(async (text: string, flags: AttentionFlags) => runAttentionCommand(text, flags));
  return cmd;
}

const nested = (m: Matrix, T: number) => Array.from({ length: T }, (_, q) => Array.from(m.subarray(q * T, (q + 1) * T), (v) => (Number.isNaN(v) ? null : v)));

async function runAttentionCommand(text: string, flags: AttentionFlags): Promise<void> {
  const sort = flags.sort as HeadProperty;
  if (!HEAD_PROPERTIES.includes(sort)) throw usageError(`unknown --sort '${flags.sort}'; choose one of ${HEAD_PROPERTIES.join(', ')}`);
  if (flags.format !== 'nested' && flags.format !== 'flat') throw usageError(`unknown --format '${flags.format}'; choose nested or flat`);
  if (flags.head !== undefined && flags.layer === undefined) throw usageError('--head needs --layer');
  if ((flags.rollout || flags.flow) && (flags.layer !== undefined || flags.norm)) throw usageError('--rollout and --flow span all layers; drop --layer, --head and --norm');
  if (flags.rollout && flags.flow) throw usageError('give --rollout or --flow, not both');
  if (flags.gradient && (flags.rollout || flags.flow || flags.norm)) throw usageError('--gradient weighs raw attention; drop --rollout, --flow and --norm');
  if (!flags.gradient && (flags.target !== undefined || flags.score !== undefined)) throw usageError('--target and --score apply with --gradient');
  const top = flags.top === undefined ? undefined : parseInteger('--top', flags.top, 1);
  const inductionLength = parseInteger('--induction-length', flags.inductionLength, 0);
  const seed = parseInteger('--seed', flags.seed, 0);
  const maxTokens = parseInteger('--max-tokens', flags.maxTokens, 4);
  const model = await withSpinner('loading model', () => openModel(flags));
  const encoding = encodeText(model, text, { truncate: flags.truncate });
  const run = await withSpinner('running the instrumented graph', () => runAttention(model, encoding.ids));
  const T = run.length;
  const L = run.layers.length;
  const H = run.layers[0].length;
  const layer = flags.layer === undefined ? undefined : parseInteger('--layer', flags.layer, 0);
  const head = flags.head === undefined ? undefined : parseInteger('--head', flags.head, 0);
  if (layer !== undefined && layer >= L) throw usageError(`--layer ${layer} does not exist; '${model.id}' has layers 0–${L - 1}`);
  if (head !== undefined && head >= H) throw usageError(`--head ${head} does not exist; layer ${layer} has heads 0–${H - 1}`);
  const labels = encoding.ids.map((_, i) => encoding.tokens[i]);
  // The position whose view matters most: [CLS] for classifiers, the last token for causal LMs.
  const focus = model.task === 'causal-lm' || !encoding.special[0] ? T - 1 : 0;

  let matrices: Float32Array[][] | Float64Array[][] = run.layers;
  if (flags.norm) {
    const inst = await model.instrumented();
    matrices = run.layers.map((heads, l) => {
      const projection = inst.outputProjections[l];
      if (!projection) throw usageError(`--norm: layer ${l} of '${model.id}' has no plain output-projection weight to measure value vectors with`);
      return normWeighted(heads, run.values[l], projection, T);
    });
  }
  let gradient: AttentionTimesGradient | undefined;
  let target: Target | undefined;
  if (flags.gradient) {
    target = await resolveTarget(model, encoding.ids, { target: flags.target, score: flags.score }, text);
    gradient = await withSpinner('running forward and backward', () => attentionTimesGradient(model, encoding.ids, target!));
    matrices = gradient.layers;
  }
  const separators = new Set([model.tokenizer.sep_token_id, model.tokenizer.eos_token_id].filter((x): x is number => typeof x === 'number'));
  const induction = inductionLength > 0 && model.task === 'causal-lm' ? await inductionScores(model, Math.min(inductionLength, Math.floor((model.maxLength - 2) / 2)), seed) : null;
  const roles = headRoles(run, encoding, separators, induction);
  const ranked = rankHeads(layer === undefined ? roles : roles.filter((r) => r.layer === layer), sort);

  let whole: { kind: 'rollout' | 'flow'; matrix: Float64Array; rows: number[] } | undefined;
  if (flags.rollout) whole = { kind: 'rollout', matrix: rollout(run.layers, T), rows: Array.from({ length: T }, (_, i) => i) };
  if (flags.flow) {
    const rows = T <= maxTokens ? Array.from({ length: T }, (_, i) => i) : [focus];
    whole = { kind: 'flow', matrix: attentionFlow(run.layers, T, rows), rows };
  }

  const kind = whole?.kind ?? (flags.norm ? 'norm' : gradient ? 'attention-x-gradient' : 'attention');
  const panels: Panel[] = whole
    ? [{ layer: null, head: null, matrix: whole.matrix }]
    : matrices.flatMap((heads, l) => (layer === undefined || l === layer ? heads.map((m, h) => ({ layer: l, head: h, matrix: m })) : [])).filter((p) => head === undefined || p.head === head);
  if (flags.svg) {
    const where = whole ? whole.kind : layer === undefined ? 'model view' : head === undefined ? `layer ${layer}` : `layer ${layer}, head ${head}`;
    await writeSvg(flags.svg, attentionChart(panels, T, labels, `${kind}: ${where} · ${model.id}`, maxTokens));
  }
  if (flags.json) {
    const matrix = (m: Matrix) => (flags.format === 'flat' ? Array.from(m, (v) => (Number.isNaN(v) ? null : v)) : nested(m, T));
    const selected = matrices.map((heads, l) => (layer === undefined || l === layer ? heads.map((m, h) => (head === undefined || h === head ? matrix(m) : null)) : null));
    await writeStdout(toJson({
      schema: 'interp/attention@1',
      model: model.id,
      kind,
      text,
      format: flags.format,
      shape: { layers: L, heads: H, tokens: T },
      tokens: encoding.ids.map((id, i) => ({ index: i, id, text: encoding.tokens[i], start: encoding.offsets[i][0], end: encoding.offsets[i][1], special: encoding.special[i] })),
      ...(target ? { target: describeTarget(target), importance: gradient!.importance } : {}),
      layers: whole ? null : selected,
      ...(whole ? { [whole.kind]: matrix(whole.matrix), rows: whole.rows } : {}),
      roles: rankHeads(roles, sort),
      sort,
      induction: induction ? { length: inductionLength, seed } : null,
    }));
    return;
  }
  if (whole) {
    await writeStdout(linksTable(whole.matrix, T, labels, `${whole.kind} into position ${focus} (${labels[focus]}), strongest inputs first`, top ?? 20, [focus]));
  } else if (layer !== undefined && head !== undefined) {
    await writeStdout(linksTable(matrices[layer][head], T, labels, `${kind}, layer ${layer}, head ${head}: strongest query → key links${gradient ? ' (by magnitude)' : ''}`, top ?? 20, undefined, Boolean(gradient)));
  } else if (gradient) {
    const rows = gradient.importance.filter((r) => layer === undefined || r.layer === layer);
    await writeStdout(importanceTable(rows, `heads ranked by importance to ${target!.kind === 'label' ? `label '${target!.name}'` : `next token '${target!.name}'`}: Σ |A ⊙ ∂score/∂A|`, top));
  } else {
    await writeStdout(rolesTable(ranked, sort, top));
  }
}
