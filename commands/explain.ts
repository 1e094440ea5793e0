import chalk from 'chalk';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { explainText, prepare, type Attribution, type ExplainRequest } from '../src/explain.js';
import { explainGeneration } from '../src/generate.js';
import { generationChart, generationTable } from '../src/render/generation.js';
import { usageError } from '../src/errors.js';
import { METHODS } from '../src/methods/registry.js';
import type { AttributionMethod, BaselineKind, Granularity } from '../src/methods/types.js';
import type { Model } from '../src/model/types.js';
import { attributionChart, attributionTable } from '../src/render/attribution.js';
import { formatNumber, visible } from '../src/render/format.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { spearman } from '../src/util/stats.js';
import { addModelOptions, examples, interactive, openModel, parseInteger, parseNumber, withSpinner, writeStdout, type ModelFlags } from './common.js';

interface ExplainFlags extends ModelFlags {
  method: string;
  compare?: string;
  target?: string;
  score?: string;
  continuation?: string;
  baseline?: string;
  granularity: string;
  seed: string;
  json?: boolean;
  svg?: string;
  truncate?: boolean;
  top?: string;
  generate?: string;
  [param: string]: unknown;
}

/** Every method parameter becomes a flag; a flag given for a method that does not read it is an error. */
const PARAMETER_FLAGS = [...new Set(Object.values(METHODS).flatMap((m) => Object.keys(m.params)))];
const CHOICE_FLAGS = [...new Set(Object.values(METHODS).flatMap((m) => Object.keys(m.choices ?? {})))];
const ownsParam = (m: AttributionMethod, flag: string) => flag in m.params;
const ownsChoice = (m: AttributionMethod, flag: string) => flag in (m.choices ?? {});
const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function explainCommand(): Command {
  const cmd = new Command('explain')
    .summary('token attributions for a class label, a next token or a continuation')
    .description('Attribute a model prediction to the input tokens (or words) with a perturbation, gradient or attention method.')
    .argument('<text>', 'the input text')
    .option('--method <name>', `attribution method: ${Object.keys(METHODS).join(', ')}`, 'occlusion')
    .option('--compare <methods>', 'run several methods (comma-separated) and report them side by side with rank correlations')
    .option('--target <target>', 'classifier: label name or index (default: predicted); causal LM: next token text or id:N (default: argmax)')
    .option('--score <kind>', 'classifier score: probability, logit or log-odds (default: probability)')
    .option('--continuation <text>', 'causal LM: attribute the summed log-probability of this continuation')
    .option('--baseline <kind>', 'what replaces a removed feature: mask, unk, pad or delete (default: mask, or delete without a mask token); gradient methods: zero, mask, pad or unk in embedding space (default: zero)')
    .option('--granularity <unit>', 'attribute tokens or words', 'token')
    .option('--seed <n>', 'seed for sampling methods; the same seed gives the same output', '0')
    .option('--json', 'print the result as JSON (schema interp/attribution@1)')
    .option('--svg <file>', 'write a bar chart of the attributions to this SVG file')
    .option('--top <k>', 'show only the k highest-ranked rows in the table')
    .option('--generate <n>', 'causal LM: generate n tokens greedily and attribute each to the prompt and the tokens before it')
    .option('--truncate', 'cut inputs longer than the model maximum instead of failing');
  for (const flag of PARAMETER_FLAGS) {
    const owners = Object.values(METHODS).filter((m) => ownsParam(m, flag));
    const spec = owners[0].params[flag];
    cmd.addOption(new Option(`--${flag} <${spec.type === 'int' ? 'n' : 'x'}>`, `${spec.description} (${owners.map((m) => `${m.name}: ${m.params[flag].default}`).join(', ')})`));
  }
  for (const flag of CHOICE_FLAGS) {
    const owners = Object.values(METHODS).filter((m) => ownsChoice(m, flag));
    const spec = owners[0].choices![flag];
    cmd.addOption(new Option(`--${flag} <name>`, `${spec.description}: ${spec.values.join(', ')} (${owners.map((m) => `${m.name}: ${m.choices![flag].default}`).join(', ')})`));
  }
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    examples([
      'interp explain "the film was a delight"',
      'interp explain "the film was a delight" --method kernel-shap --samples 1000 --seed 7 --json | jq \'.features[] | [.text, .attribution]\'',
      'interp explain "not a good film" --method shapley --granularity word --score log-odds --svg attributions.svg',
      'interp explain "the plot was thin" --compare occlusion,kernel-shap,lime,attention',
      'interp explain "the film was a delight" --method integrated-gradients --steps 64 --score logit --json | jq .diagnostics',
      'interp explain "the film was a delight" --compare grad-x-input,integrated-gradients,smoothgrad --baseline mask',
      'interp explain "Once upon a time" --model ../shared/models/llama-stories260k-kv --target " there"',
      'interp explain "Once upon a time" --model ./my-llama --continuation ", there was a girl" --method kernel-shap',
      'interp explain "the film was" --model tiny-lm --generate 5 --method kernel-shap --svg generation.svg',
    ]),
  );
  cmd.action(async (text: string, flags: ExplainFlags) => runExplain(text, flags));
  return cmd;
}

/** The values of the given method flags, each checked to belong to at least one of `methods`. */
function methodFlagValues<T>(flags: ExplainFlags, methods: string[], names: readonly string[], owns: (m: AttributionMethod, flag: string) => boolean, parse: (flag: string, raw: string) => T): Record<string, T> {
  const values: Record<string, T> = {};
  for (const flag of names) {
    const raw = flags[camel(flag)];
    if (raw === undefined) continue;
    if (!methods.some((m) => METHODS[m] && owns(METHODS[m], flag))) throw usageError(`--${flag} does not apply to ${methods.join(', ')}`);
    values[flag] = parse(flag, String(raw));
  }
  return values;
}

async function runExplain(text: string, flags: ExplainFlags): Promise<void> {
  const methods = flags.compare ? flags.compare.split(',').map((m) => m.trim()).filter(Boolean) : [flags.method];
  for (const m of methods) if (!METHODS[m]) throw usageError(`unknown method '${m}'; choose one of ${Object.keys(METHODS).join(', ')}`);
  if (flags.compare && methods.length < 2) throw usageError('--compare needs at least two methods, e.g. --compare occlusion,kernel-shap');
  const seed = parseInteger('--seed', flags.seed, 0);
  const top = flags.top === undefined ? undefined : parseInteger('--top', flags.top, 1);
  const params = methodFlagValues(flags, methods, PARAMETER_FLAGS, ownsParam, (flag, raw) => parseNumber(`--${flag}`, raw));
  const choices = methodFlagValues(flags, methods, CHOICE_FLAGS, ownsChoice, (_, raw) => raw);
  const model = await withSpinner('loading model', () => openModel(flags));
  checkTaskFlags(model, flags);
  const request: ExplainRequest = {
    text,
    method: methods[0],
    params,
    choices,
    target: { target: flags.target, score: flags.score, continuation: flags.continuation },
    baseline: flags.baseline as BaselineKind | undefined,
    granularity: flags.granularity as Granularity,
    seed,
    truncate: flags.truncate,
  };
  if (flags.generate !== undefined) {
    if (flags.compare) throw usageError('--generate runs one method; drop --compare');
    const steps = parseInteger('--generate', flags.generate, 1);
    const result = await withSpinner(`generating ${steps} tokens and explaining each`, () => explainGeneration(model, request, steps));
    if (flags.svg) await writeSvg(flags.svg, generationChart(result));
    await writeStdout(flags.json ? toJson(result) : generationTable(result));
    return;
  }
  const results = await withSpinner(`explaining with ${methods.join(', ')}`, async () => {
    const prepared = await prepare(model, request);
    const out: Attribution[] = [];
    for (const method of methods) {
      const own = Object.fromEntries(Object.entries(params).filter(([k]) => ownsParam(METHODS[method], k)));
      const ownChoices = Object.fromEntries(Object.entries(choices).filter(([k]) => ownsChoice(METHODS[method], k)));
      out.push(await explainText(model, { ...request, method, params: own, choices: ownChoices }, { prepared }));
    }
    return out;
  });
  for (const r of results) {
    const error = r.diagnostics.relativeCompletenessError;
    // A large completeness error means the path integral is under-resolved, usually near a normalisation singularity.
    if (typeof error === 'number' && error > 0.05) {
      process.stderr.write(`interp: warning: ${r.method} misses f(x) − f(baseline) by ${(error * 100).toFixed(1)} %; raise --steps or try --baseline mask or pad\n`);
    }
  }
  if (flags.svg) await writeSvg(flags.svg, attributionChart(results[0]));
  if (interactive() && !flags.json) process.stderr.write(colouredText(results[0]) + '\n');
  if (results.length === 1) {
    await writeStdout(flags.json ? toJson(results[0]) : attributionTable(results[0], top));
  } else {
    const correlations = results.map((a) => results.map((b) => spearman(a.features.map((f) => f.attribution), b.features.map((f) => f.attribution))));
    await writeStdout(
      flags.json
        ? toJson({ schema: 'interp/comparison@1', methods, correlations, results })
        : comparisonTable(results, correlations, top),
    );
  }
}

function checkTaskFlags(model: Model, flags: ExplainFlags): void {
  if (model.task === 'classification' && flags.continuation !== undefined) throw usageError('--continuation applies to causal language models; this model is a classifier');
  if (model.task === 'causal-lm' && flags.score !== undefined) throw usageError('--score applies to classifiers; causal-LM targets are scored as log-probability');
  if (flags.continuation !== undefined && flags.target !== undefined) throw usageError('give either --target or --continuation, not both');
}

function comparisonTable(results: Attribution[], correlations: number[][], top?: number): string {
  const first = results[0];
  const table = new Table({ head: [first.granularity, ...results.map((r) => r.method)], style: { head: [], border: [] } });
  const order = [...first.features].sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution));
  for (const f of order.slice(0, top ?? order.length)) table.push([`${f.index}: ${visible(f.text)}`, ...results.map((r) => formatNumber(r.features[f.index].attribution))]);
  const corr = new Table({ head: ['spearman', ...results.map((r) => r.method)], style: { head: [], border: [] } });
  results.forEach((r, i) => corr.push([r.method, ...correlations[i].map((c) => c.toFixed(3))]));
  const cost = results.map((r) => `${r.method} ${r.forwardPasses}`).join(', ');
  return `target ${first.target.kind} '${first.target.name}' (${first.target.score}) · forward passes: ${cost}\n${table.toString()}\n${corr.toString()}\n`;
}

/** The text with each feature coloured by the sign and size of its attribution (stderr, TTY only). */
function colouredText(result: Attribution): string {
  const max = Math.max(1e-12, ...result.features.map((f) => Math.abs(f.attribution)));
  let out = '';
  let cursor = 0;
  for (const f of result.features) {
    out += result.text.slice(cursor, f.start);
    const level = Math.round((Math.abs(f.attribution) / max) * 4);
    const paint = f.attribution >= 0 ? [chalk.dim, chalk.red, chalk.red, chalk.redBright, chalk.bgRed.white][level] : [chalk.dim, chalk.blue, chalk.blue, chalk.blueBright, chalk.bgBlue.white][level];
    out += paint(result.text.slice(f.start, f.end));
    cursor = f.end;
  }
  return out + result.text.slice(cursor);
}
