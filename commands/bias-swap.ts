import { Command } from 'commander';
import * as groups from './groups.js';
import { BUILTIN_GROUPS } from '../src/bias/groups.js';
import { swapReport } from '../src/bias/report.js';
import type { SwapResult } from '../src/bias/swap.js';
import type { Summary } from '../src/summary/claims.js';
import { swapChart, swapTable } from '../src/render/bias.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { addModelOptions, collect, examples, parseInteger, type ModelFlags } from './common.js';
import { runPlanned, jsonOperation } from './operation.js';
import { addOutputOptions, localOption } from './outputOptions.js';
import { summarised, withSummaryText, writeStdout, type OutputFlags } from './output.js';
import { summarizeSwap } from '../src/summary/results.js';
import { addMethodOptions, methodOptionValues, withPrefix } from './options.js';

interface SwapFlags extends ModelFlags, OutputFlags {
  template: string[];
  templates?: string;
  groups: string;
  slot: string[];
  target?: string;
  score?: string;
  continuation?: string;
  permutations: string;
  seed: string;
  explain?: boolean;
  explainGroups?: string;
  explainMethod: string;
  summary?: boolean;
  [param: string]: unknown;
}

export function swapCommand(): Command {
  const swap = new Command('swap')
    .description("fill templates with each group's terms and compare the model's scores across groups")
    .option(
      '--template <text>',
      'a template with a {group} slot (repeatable); other {slots} take --slot values',
      collect,
      [],
    )
    .addOption(localOption('--templates <file>', 'a file of templates, one per line', 'input'))
    .option(
      '--groups <set>',
      `built-in term lists (${Object.keys(BUILTIN_GROUPS).join(', ')}) or a JSON file {"group": ["term", …]}`,
      'gender',
    )
    .option('--slot <name=a,b>', 'values for another template slot, e.g. job=doctor,nurse (repeatable)', collect, [])
    .option('--target <target>', 'classifier label (default: the last label, e.g. POSITIVE); causal LM next token')
    .option('--score <kind>', 'classifier score: probability, logit or log-odds')
    .option('--continuation <text>', 'causal LM: score the log-probability of this continuation')
    .option('--permutations <n>', 'permutations for the p-value', '10000')
    .option('--seed <n>', 'seed for bootstrap and permutations', '0')
    .option('--explain', 'attribute the gap between two groups to the template words')
    .option('--explain-groups <a,b>', 'the two groups to explain (default: highest and lowest mean)')
    .option('--explain-method <m>', 'perturbation method for --explain', 'kernel-shap');
  const output = {
    json: 'print JSON (schema interp/bias-swap@2)',
    svg: 'per-group dot plot with intervals',
    summary: true,
  };
  addModelOptions(addMethodOptions(addOutputOptions(swap, output), { prefix: 'explain-', families: ['perturbation'] }));
  swap.addHelpText(
    'after',
    examples([
      'interp bias swap --template "The {group} was a great {job}." --slot job=doctor,nurse,teacher --groups gender',
      'interp bias swap --templates templates.txt --groups religion --json',
      'interp bias swap --template "The {group} walked in and" --model ./my-lm --continuation " smiled" --groups nationality --svg gaps.svg',
      'interp bias swap --template "My {group} friend is kind." --groups my-groups.json --explain --explain-samples 200',
    ]),
  );
  return swap.action(async (flags: SwapFlags) => {
    const result = await runPlanned(swapOperation, undefined, flags, 'scoring the variants');
    if (flags.svg) await writeSvg(flags.svg, swapChart(result));
    await writeStdout(flags.json ? toJson(result) : withSummaryText(swapTable)(result));
  });
}

export const swapOperation = jsonOperation<SwapFlags, SwapResult & { summary?: Summary }>({
  name: 'bias swap',
  command: swapCommand,
  plan: (_text, flags) => {
    const method = {
      method: flags.explainMethod,
      ...methodOptionValues(flags, [flags.explainMethod], { prefix: 'explain-' }),
    };
    const request = {
      templates: flags.template,
      templatesFile: flags.templates,
      groups: flags.groups,
      slots: groups.parseSlots(flags.slot),
      target: { target: flags.target, score: flags.score, continuation: flags.continuation },
      permutations: parseInteger('--permutations', flags.permutations, 1, 1_000_000),
      seed: parseInteger('--seed', flags.seed, 0, 2 ** 32 - 1),
      explain: flags.explain
        ? { ...method, groups: flags.explainGroups?.split(',').map((g) => g.trim()) as [string, string] | undefined }
        : undefined,
    };
    return async (model) => {
      const result = await swapReport(model, request).catch((e) => {
        throw withPrefix(e, 'explain-');
      });
      return summarised(flags.summary, result, summarizeSwap);
    };
  },
});
