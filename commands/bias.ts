import fs from 'node:fs';
import Table from 'cli-table3';
import { Command } from 'commander';
import type { TopLevelSpec } from 'vega-lite';
import { BUILTIN_GROUPS, type GroupSet } from '../src/bias/groups.js';
import { readPairs, scorePairs, type PairsResult } from '../src/bias/pairs.js';
import { explainGap, fillTemplates, swapProbe, type SwapResult } from '../src/bias/swap.js';
import { readWeat, weat } from '../src/bias/weat.js';
import { usageError } from '../src/errors.js';
import type { Model } from '../src/model/types.js';
import { formatNumber } from '../src/render/format.js';
import { toJson } from '../src/render/json.js';
import { writeSvg } from '../src/render/svg.js';
import { resolveTarget, type Target } from '../src/target/target.js';
import { encodeText } from '../src/text/encode.js';
import { addModelOptions, collect, examples, openModel, parseInteger, withSpinner, writeStdout, type ModelFlags } from './common.js';

const ci = (e: { mean: number; low: number; high: number }) => `${formatNumber(e.mean)} [${formatNumber(e.low)}, ${formatNumber(e.high)}]`;

interface SwapFlags extends ModelFlags {
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
  json?: boolean;
  svg?: string;
}

function loadGroups(spec: string): GroupSet {
  if (BUILTIN_GROUPS[spec]) return BUILTIN_GROUPS[spec];
  if (!fs.existsSync(spec)) throw usageError(`--groups must be ${Object.keys(BUILTIN_GROUPS).join(', ')} or a JSON file, got '${spec}'`);
  let groups: GroupSet;
  try {
    groups = JSON.parse(fs.readFileSync(spec, 'utf8'));
  } catch {
    throw usageError(`--groups ${spec} is not valid JSON`);
  }
  const entries = Object.entries(groups ?? {});
  if (entries.length < 2 || entries.some(([, terms]) => !Array.isArray(terms) || terms.length === 0 || terms.some((t) => typeof t !== 'string'))) {
    throw usageError(`--groups ${spec}: expected {"group": ["term", …], …} with at least two groups`);
  }
  return groups;
}

async function swapTarget(model: Model, flags: SwapFlags, probe: string): Promise<Target> {
  const ids = encodeText(model, probe).ids;
  if (model.task === 'classification') {
    // Default: the last label (POSITIVE for sentiment models), so that every group is scored on the same class.
    return resolveTarget(model, ids, { target: flags.target ?? model.labels![model.labels!.length - 1], score: flags.score });
  }
  if (model.task !== 'causal-lm') throw usageError('bias swap needs a classifier or a causal LM');
  if (flags.target === undefined && flags.continuation === undefined) throw usageError('for a causal LM, give --continuation TEXT (its log-probability) or --target TOKEN (the next token\'s)');
  return resolveTarget(model, ids, { target: flags.target, continuation: flags.continuation, score: flags.score }, probe);
}

function swapTable(r: SwapResult): string {
  const t = new Table({ head: ['group', 'n', `mean ${r.target.name} [95% CI]`], style: { head: [], border: [] } });
  for (const g of [...r.groups].sort((a, b) => b.mean - a.mean)) t.push([g.group, g.n, ci(g)]);
  let out = `${r.model} · ${r.target.kind} '${r.target.name}' · max gap ${formatNumber(r.gap.value)} (${r.gap.high} − ${r.gap.low}) · permutation p = ${formatNumber(r.pValue)} (${r.permutations} permutations)\n${t.toString()}\n`;
  if (r.explanation) {
    const e = r.explanation;
    out += `which template words drive ${e.groups[0]} − ${e.groups[1]} (${e.method}):\n`;
    for (const tpl of e.templates) {
      const words = [...tpl.words].sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution)).map((w) => `${w.text} ${formatNumber(w.attribution)}`);
      out += `  ${tpl.template.replace(/\{(\w+)\}/g, (m, n: string) => (n === 'group' ? `{${tpl.terms.join('|')}}` : tpl.slots[n] ?? m))}  Δ=${formatNumber(tpl.difference)}: ${words.join(', ')}\n`;
    }
  }
  return out;
}

function swapChart(r: SwapResult): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `bias swap: ${r.target.name} by group`, subtitle: `${r.model} · p = ${formatNumber(r.pValue)}` },
    data: { values: r.groups },
    width: 360,
    height: { step: 22 },
    layer: [
      { mark: { type: 'rule' }, encoding: { y: { field: 'group', type: 'nominal', sort: '-x', title: null }, x: { field: 'low', type: 'quantitative', title: `mean ${r.target.name} (95% CI)`, scale: { zero: false } }, x2: { field: 'high' } } },
      { mark: { type: 'point', filled: true, size: 60 }, encoding: { y: { field: 'group', type: 'nominal', sort: '-x' }, x: { field: 'mean', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

function pairsTable(r: PairsResult): string {
  const t = new Table({ head: ['bias type', 'pairs', 'prefers stereotype [95% CI]', 'ties'], style: { head: [], border: [] } });
  for (const row of [...r.byType, r.overall]) t.push([row.group, row.n, ci(row), row.ties]);
  const d = new Table({ head: ['direction', 'pairs', 'prefers more-stereotypical [95% CI]'], style: { head: [], border: [] } });
  for (const row of r.byDirection) d.push([row.group, row.n, ci(row)]);
  return `${r.model} · ${r.scoring} · ${r.pairs} pairs · 0.5 is unbiased\n${t.toString()}\n${d.toString()}\n`;
}

function pairsChart(r: PairsResult): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'share of pairs where the model prefers the stereotype', subtitle: `${r.model} · 0.5 is unbiased` },
    data: { values: [...r.byType, r.overall] },
    width: 360,
    height: { step: 22 },
    layer: [
      { mark: { type: 'bar' }, encoding: { y: { field: 'group', type: 'nominal', sort: '-x', title: null }, x: { field: 'mean', type: 'quantitative', scale: { domain: [0, 1] }, title: 'share (95% CI)' } } },
      { mark: { type: 'rule' }, encoding: { y: { field: 'group', type: 'nominal', sort: '-x' }, x: { field: 'low', type: 'quantitative' }, x2: { field: 'high' } } },
      { mark: { type: 'rule', strokeDash: [4, 3], color: 'grey' }, encoding: { x: { datum: 0.5 } } },
    ],
  } as TopLevelSpec;
}

export function biasCommand(): Command {
  const bias = new Command('bias').summary('group-swap probes, CrowS-Pairs-style scoring, WEAT/SEAT').description('Measure bias: how scores shift when group terms are swapped, which sentence of a stereotype pair a language model prefers, and embedding association tests.');
  bias.enablePositionalOptions();

  const swap = new Command('swap')
    .description('fill templates with each group\'s terms and compare the model\'s scores across groups')
    .option('--template <text>', 'a template with a {group} slot (repeatable); other {slots} take --slot values', collect, [])
    .option('--templates <file>', 'a file of templates, one per line')
    .option('--groups <set>', `built-in term lists (${Object.keys(BUILTIN_GROUPS).join(', ')}) or a JSON file {"group": ["term", …]}`, 'gender')
    .option('--slot <name=a,b>', 'values for another template slot, e.g. job=doctor,nurse (repeatable)', collect, [])
    .option('--target <target>', 'classifier label (default: the last label, e.g. POSITIVE); causal LM next token')
    .option('--score <kind>', 'classifier score: probability, logit or log-odds')
    .option('--continuation <text>', 'causal LM: score the log-probability of this continuation')
    .option('--permutations <n>', 'permutations for the p-value', '10000')
    .option('--seed <n>', 'seed for bootstrap and permutations', '0')
    .option('--explain', 'attribute the gap between two groups to the template words')
    .option('--explain-groups <a,b>', 'the two groups to explain (default: highest and lowest mean)')
    .option('--explain-method <m>', 'perturbation method for --explain', 'kernel-shap')
    .option('--json', 'print JSON (schema interp/bias-swap@1)')
    .option('--svg <file>', 'per-group dot plot with intervals');
  addModelOptions(swap);
  swap.addHelpText('after', examples([
    'interp bias swap --template "The {group} was a great {job}." --slot job=doctor,nurse,teacher --groups gender',
    'interp bias swap --templates templates.txt --groups religion --json',
    'interp bias swap --template "The {group} walked in and" --model ./my-lm --continuation " smiled" --groups nationality --svg gaps.svg',
    'interp bias swap --template "My {group} friend is kind." --groups my-groups.json --explain',
  ]));
  swap.action(async (flags: SwapFlags) => {
    const templates = [...flags.template];
    if (flags.templates) {
      if (!fs.existsSync(flags.templates)) throw usageError(`no such --templates file: ${flags.templates}`);
      templates.push(...fs.readFileSync(flags.templates, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean));
    }
    if (templates.length === 0) throw usageError('give at least one --template "… {group} …" or --templates FILE');
    const slots: Record<string, string[]> = {};
    for (const s of flags.slot) {
      const m = /^(\w+)=(.+)$/.exec(s);
      if (!m) throw usageError(`--slot must look like name=a,b,c, got '${s}'`);
      slots[m[1]] = m[2].split(',').map((v) => v.trim()).filter(Boolean);
    }
    const groups = loadGroups(flags.groups);
    const permutations = parseInteger('--permutations', flags.permutations, 1);
    const seed = parseInteger('--seed', flags.seed, 0);
    const model = await withSpinner('loading model', () => openModel(flags));
    const variants = fillTemplates(templates, groups, slots);
    const target = await swapTarget(model, flags, variants[0].text);
    const result = await withSpinner(`scoring ${variants.length} variants`, () => swapProbe(model, variants, target, { permutations, seed }));
    if (flags.explain) {
      const pair = flags.explainGroups ? (flags.explainGroups.split(',').map((g) => g.trim()) as [string, string]) : ([result.gap.high, result.gap.low] as [string, string]);
      for (const g of pair) if (!groups[g]) throw usageError(`--explain-groups: unknown group '${g}'; groups are ${Object.keys(groups).join(', ')}`);
      result.explanation = await withSpinner('explaining the gap', () => explainGap(model, variants, target, pair, flags.explainMethod, {}, seed));
    }
    if (flags.svg) await writeSvg(flags.svg, swapChart(result));
    await writeStdout(flags.json ? toJson(result) : swapTable(result));
  });

  const pairs = new Command('pairs')
    .description('CrowS-Pairs-style scoring: the share of minimal pairs where the model prefers the more stereotypical sentence')
    .option('--data <file>', 'CrowS-Pairs CSV (sent_more, sent_less, stereo_antistereo, bias_type) or JSONL of {more, less, type}')
    .option('--limit <n>', 'the first n pairs')
    .option('--seed <n>', 'seed for the bootstrap', '0')
    .option('--json', 'print JSON (schema interp/bias-pairs@1)')
    .option('--svg <file>', 'per-bias-type bars with intervals');
  addModelOptions(pairs);
  pairs.addHelpText('after', examples(['interp bias pairs --model ../shared/models/llama-stories260k-kv --data crows_pairs_anonymized.csv', 'interp bias pairs --model ./my-bert-mlm --data pairs.jsonl --json']));
  pairs.action(async (flags: ModelFlags & { data?: string; limit?: string; seed: string; json?: boolean; svg?: string }) => {
    if (!flags.data) throw usageError('--data is required (CrowS-Pairs CSV or JSONL)');
    let list = readPairs(flags.data);
    if (flags.limit !== undefined) list = list.slice(0, parseInteger('--limit', flags.limit, 1));
    const model = await withSpinner('loading model', () => openModel(flags));
    const result = await withSpinner(`scoring ${list.length} pairs`, () => scorePairs(model, list, parseInteger('--seed', flags.seed, 0)));
    if (flags.svg) await writeSvg(flags.svg, pairsChart(result));
    await writeStdout(flags.json ? toJson(result) : pairsTable(result));
  });

  const weatCmd = new Command('weat')
    .description('WEAT/SEAT effect size (Cohen\'s d) and permutation p-value from mean-pooled hidden states')
    .option('--data <file>', 'SEAT-format JSON: {targ1, targ2, attr1, attr2}, each {category, examples}')
    .option('--layer <l>', 'hidden state to pool: 0 = embeddings … L = last layer (default: last)')
    .option('--permutations <n>', 'random re-partitions for the p-value', '10000')
    .option('--seed <n>', 'seed for the permutations', '0')
    .option('--json', 'print JSON (schema interp/bias-weat@1)');
  addModelOptions(weatCmd);
  weatCmd.addHelpText('after', examples(['interp bias weat --model ../shared/models/distilbert-sst2-mini --data seat/weat1.jsonl', 'interp bias weat --data seat/sent-weat6.jsonl --layer 1 --json']));
  weatCmd.action(async (flags: ModelFlags & { data?: string; layer?: string; permutations: string; seed: string; json?: boolean }) => {
    if (!flags.data) throw usageError('--data is required (a SEAT-format JSON file)');
    const sets = readWeat(flags.data);
    const model = await withSpinner('loading model', () => openModel(flags));
    const inst = await model.instrumented();
    const layer = flags.layer === undefined ? inst.outputs.hiddenStates.length - 1 : parseInteger('--layer', flags.layer, 0);
    const r = await withSpinner('embedding', () => weat(model, sets, layer, parseInteger('--permutations', flags.permutations, 1), parseInteger('--seed', flags.seed, 0)));
    if (flags.json) return writeStdout(toJson(r));
    const t = new Table({ head: ['targets', 'attributes', 'layer', 'effect size d', 'p-value'], style: { head: [], border: [] } });
    t.push([`${r.targets[0]} (${r.sizes.targ1}) vs ${r.targets[1]} (${r.sizes.targ2})`, `${r.attributes[0]} (${r.sizes.attr1}) vs ${r.attributes[1]} (${r.sizes.attr2})`, r.layer, r.effectSize.toFixed(3), formatNumber(r.pValue)]);
    await writeStdout(`${r.model} · mean-pooled hidden states · ${r.permutations} permutations\n${t.toString()}\n`);
  });

  bias.addCommand(swap);
  bias.addCommand(pairs);
  bias.addCommand(weatCmd);
  return bias;
}
